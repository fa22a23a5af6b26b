// Descriptors carried by socket messages (SCM_RIGHTS): the one msghdr that sends or receives them, shared by
// the job channel (fd_passing.h), Connection streams (stream_io.h) and the fork server's requests
// (forkserver/zygote.cc, which is why it needs no N-API).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <vector>

namespace pmp {

// The kernel's SCM_MAX_FD: the most descriptors one message may carry. Callers split larger sets.
constexpr size_t kMaxFdsPerMessage = 253;

// One message over one buffer, with room for kMaxFdsPerMessage descriptors on the stack (no allocation on a
// stream's read path). Its msghdr points into the object itself, so it is neither copied nor moved.
class RightsMessage {
 public:
  RightsMessage(void* data, size_t length);
  RightsMessage(const RightsMessage&) = delete;
  RightsMessage& operator=(const RightsMessage&) = delete;

  // sendmsg with `fds` attached (none: no ancillary data at all), retried on EINTR.
  ssize_t Send(int socket, const std::vector<int>& fds, int flags);
  // recvmsg, retried on EINTR.
  ssize_t Receive(int socket, int flags);
  // The descriptors the received message carried, in the order they were sent.
  std::vector<int> ReceivedFds();
  // Whether the received bytes or descriptors did not all fit (MSG_TRUNC, MSG_CTRUNC).
  bool Truncated() const { return (message_.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0; }

 private:
  iovec iov_;
  msghdr message_{};
  alignas(cmsghdr) char control_[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
};

}  // namespace pmp
