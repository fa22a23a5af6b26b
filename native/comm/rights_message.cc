#include "comm/rights_message.h"

#include <errno.h>
#include <string.h>

namespace pmp {

RightsMessage::RightsMessage(void* data, size_t length) : iov_{data, length} {
  message_.msg_iov = &iov_;
  message_.msg_iovlen = 1;
}

ssize_t RightsMessage::Send(int socket, const std::vector<int>& fds, int flags) {
  message_.msg_control = nullptr;
  message_.msg_controllen = 0;
  if (!fds.empty()) {
    const size_t fd_bytes = sizeof(int) * fds.size();
    memset(control_, 0, CMSG_SPACE(fd_bytes));
    message_.msg_control = control_;
    message_.msg_controllen = CMSG_SPACE(fd_bytes);
    cmsghdr* header = CMSG_FIRSTHDR(&message_);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(fd_bytes);
    memcpy(CMSG_DATA(header), fds.data(), fd_bytes);
  }
  ssize_t sent;
  do sent = sendmsg(socket, &message_, flags); while (sent < 0 && errno == EINTR);
  return sent;
}

ssize_t RightsMessage::Receive(int socket, int flags) {
  message_.msg_control = control_;
  message_.msg_controllen = sizeof(control_);
  ssize_t received;
  do received = recvmsg(socket, &message_, flags); while (received < 0 && errno == EINTR);
  return received;
}

std::vector<int> RightsMessage::ReceivedFds() {
  std::vector<int> fds;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message_); header != nullptr; header = CMSG_NXTHDR(&message_, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const size_t first = fds.size();
    fds.resize(first + count);
    memcpy(fds.data() + first, CMSG_DATA(header), sizeof(int) * count);
  }
  return fds;
}

}  // namespace pmp
