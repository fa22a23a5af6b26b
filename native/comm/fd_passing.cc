#include "comm/fd_passing.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "comm/scm_rights.h"
#include "core/errors.h"

namespace pmp {

namespace {

void CloseAll(const std::vector<int>& fds) {
  for (int fd : fds) close(fd);
}

// socketPair() -> [fd, fd]: a connected AF_UNIX SOCK_SEQPACKET pair, both ends close-on-exec (an end reaches
// a child only when it is deliberately placed in the child's descriptor table). SEQPACKET keeps message
// boundaries, so a message and the descriptors attached to it arrive together, and reading returns 0 (EOF)
// once the other end is closed — also when the process holding it died.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    throw SystemError(info.Env(), errno, "socketpair");
  }
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, fds[0]);
  result.Set(1u, fds[1]);
  return result;
}

// sendMessage(fd, bytes, fds): one message carrying `bytes` and duplicates of `fds` (at most 253). Blocks
// while the socket buffer is full. MSG_NOSIGNAL: a peer that has gone away is an EPIPE error, not a SIGPIPE
// that would kill this process.
Napi::Value SendMessage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int socket = ArgInt32(info, 0);
  if (!info[1].IsTypedArray()) throw ArgTypeError(env, "binding argument 1 must be a Uint8Array");
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  if (!info[2].IsArray()) throw ArgTypeError(env, "binding argument 2 must be an array of descriptors");
  Napi::Array fd_array = info[2].As<Napi::Array>();
  const std::vector<int> fds = FdsFromArray(env, fd_array, "too many descriptors for one message");
  if (bytes.ByteLength() == 0) throw ArgTypeError(env, "a message must not be empty");

  RightsMessage message(bytes.Data(), bytes.ByteLength());
  if (message.Send(socket, fds, MSG_NOSIGNAL) < 0) throw SystemError(env, errno, "sendmsg");
  return env.Undefined();
}

// receiveMessage(fd, maxBytes) -> { bytes: Buffer, fds: number[] } | null at EOF. Blocks until a message
// arrives: it is used by a child that has nothing else to do until its job comes. Received descriptors are
// close-on-exec. A message that does not fit is an error (its descriptors are closed, never leaked).
Napi::Value ReceiveMessage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int socket = ArgInt32(info, 0);
  const uint32_t max_bytes = ArgUint32(info, 1);
  if (max_bytes == 0) throw ArgTypeError(env, "maxBytes must be positive");

  // Not zeroed: a frame's first message may be up to ~60 KiB, and only the bytes received are touched (a
  // freshly forked child would otherwise copy ~15 pages to clear them).
  std::unique_ptr<uint8_t[]> buffer(new uint8_t[max_bytes]);
  RightsMessage message(buffer.get(), max_bytes);
  const ssize_t received = message.Receive(socket, MSG_CMSG_CLOEXEC);
  if (received < 0) throw SystemError(env, errno, "recvmsg");

  const std::vector<int> fds = message.ReceivedFds();
  if (message.Truncated()) {
    CloseAll(fds);
    throw SystemError(env, EMSGSIZE, "recvmsg");
  }
  if (received == 0 && fds.empty()) return env.Null();

  Napi::Object result = Napi::Object::New(env);
  result.Set("bytes", Napi::Buffer<uint8_t>::Copy(env, buffer.get(), static_cast<size_t>(received)));
  Napi::Array fd_array = Napi::Array::New(env, fds.size());
  for (size_t i = 0; i < fds.size(); ++i) fd_array.Set(static_cast<uint32_t>(i), fds[i]);
  result.Set("fds", fd_array);
  return result;
}

// closeOnExec(fd): sets FD_CLOEXEC, for a descriptor that was inherited on purpose and must go no further
// (a Process child's job channel, kept for its exit report, must not reach the programs it spawns).
Napi::Value CloseOnExec(const Napi::CallbackInfo& info) {
  const int fd = ArgInt32(info, 0);
  const int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) throw SystemError(info.Env(), errno, "fcntl");
  return info.Env().Undefined();
}

}  // namespace

void InitFdPassing(Napi::Env env, Napi::Object exports) {
  exports.Set("socketPair", Napi::Function::New(env, SocketPair, "socketPair"));
  exports.Set("sendMessage", Napi::Function::New(env, SendMessage, "sendMessage"));
  exports.Set("receiveMessage", Napi::Function::New(env, ReceiveMessage, "receiveMessage"));
  exports.Set("closeOnExec", Napi::Function::New(env, CloseOnExec, "closeOnExec"));
  exports.Set("maxFdsPerMessage", Napi::Number::New(env, kMaxFdsPerMessage));
}

}  // namespace pmp
