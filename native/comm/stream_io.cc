#include "comm/stream_io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "comm/scm_rights.h"
#include "core/deadline.h"
#include "core/errors.h"

namespace pmp {

namespace {

Napi::Array PairToArray(Napi::Env env, const int fds[2]) {
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, fds[0]);
  result.Set(1u, fds[1]);
  return result;
}

// streamPair() -> [fd, fd]: a connected AF_UNIX SOCK_STREAM pair, as Python's Pipe(duplex=True) uses;
// non-blocking and close-on-exec.
Napi::Value StreamPair(const Napi::CallbackInfo& info) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    throw SystemError(info.Env(), errno, "socketpair");
  }
  return PairToArray(info.Env(), fds);
}

// pipe() -> [readFd, writeFd]: a one-way pipe, as Python's Pipe(duplex=False); non-blocking, close-on-exec.
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw SystemError(info.Env(), errno, "pipe");
  return PairToArray(info.Env(), fds);
}

// setNonBlocking(fd): for descriptors received from elsewhere (accept, a parent) that may be blocking.
Napi::Value SetNonBlocking(const Napi::CallbackInfo& info) {
  const int fd = ArgInt32(info, 0);
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw SystemError(info.Env(), errno, "fcntl");
  return info.Env().Undefined();
}

// isUnixSocket(fd): whether descriptors can travel through it (AF_UNIX; TCP cannot carry SCM_RIGHTS).
Napi::Value IsUnixSocket(const Napi::CallbackInfo& info) {
  int domain = -1;
  socklen_t length = sizeof(domain);
  const bool unix_socket = getsockopt(ArgInt32(info, 0), SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 && domain == AF_UNIX;
  return Napi::Boolean::New(info.Env(), unix_socket);
}

// dupFd(fd) -> a close-on-exec duplicate: a queued write keeps the descriptors it carries alive with it.
Napi::Value DupFd(const Napi::CallbackInfo& info) {
  const int fd = fcntl(ArgInt32(info, 0), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) throw SystemError(info.Env(), errno, "fcntl");
  return Napi::Number::New(info.Env(), fd);
}

// The (fd, buffer, offset, length, isSocket) arguments readStream and writeStream share: `data` points at
// the `length` (> 0) bytes to read into or write from.
struct StreamArgs {
  int fd;
  uint8_t* data;
  uint32_t length;
  bool is_socket;
};

StreamArgs ArgStream(const Napi::CallbackInfo& info) {
  const int fd = ArgInt32(info, 0);
  const uint32_t offset = ArgUint32(info, 2);
  const uint32_t length = ArgUint32(info, 3);
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw ArgTypeError(info.Env(), "binding argument 1 must be a Uint8Array");
  }
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  if (offset > bytes.ByteLength() || length > bytes.ByteLength() - offset) {
    throw ArgTypeError(info.Env(), "offset and length must lie within the buffer");
  }
  const bool is_socket = ArgBool(info, 4);
  if (length == 0) throw ArgTypeError(info.Env(), "length must be positive");
  return StreamArgs{fd, bytes.Data() + offset, length, is_socket};
}

// readStream(fd, target, offset, length, isSocket, fdsOut) -> bytes read; 0 at end of stream; -1 if
// nothing is there now. Descriptors that came with the bytes (sockets only) are pushed to fdsOut,
// close-on-exec.
Napi::Value ReadStream(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const StreamArgs args = ArgStream(info);
  if (!info[5].IsArray()) throw ArgTypeError(env, "binding argument 5 must be an array");
  Napi::Array fds_out = info[5].As<Napi::Array>();

  ssize_t n;
  if (!args.is_socket) {
    do n = read(args.fd, args.data, args.length); while (n < 0 && errno == EINTR);
  } else {
    RightsMessage message(args.data, args.length);
    n = message.Receive(args.fd, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n >= 0) {
      for (int received : message.ReceivedFds()) fds_out.Set(fds_out.Length(), received);
    }
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, -1);
    // A peer that reset the connection has gone away: that is the end of the stream too.
    if (errno == ECONNRESET) return Napi::Number::New(env, 0);
    throw SystemError(env, errno, args.is_socket ? "recvmsg" : "read");
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// writeStream(fd, source, offset, length, isSocket, fds) -> bytes written (possibly fewer), -1 if the
// stream is full now. `fds` (sockets only, at most 253) go with the first byte written, so they travel only
// if the result is positive. MSG_NOSIGNAL: a vanished peer is an EPIPE error, never a SIGPIPE.
Napi::Value WriteStream(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const StreamArgs args = ArgStream(info);
  std::vector<int> fds;
  if (info[5].IsArray()) fds = FdsFromArray(env, info[5].As<Napi::Array>(), "too many descriptors for one write");
  if (!fds.empty() && !args.is_socket) throw ArgTypeError(env, "descriptors travel only over sockets");

  ssize_t n;
  if (!args.is_socket) {
    do n = write(args.fd, args.data, args.length); while (n < 0 && errno == EINTR);
  } else {
    n = RightsMessage(args.data, args.length).Send(args.fd, fds, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, -1);
    throw SystemError(env, errno, args.is_socket ? "sendmsg" : "write");
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// pollFd(fd, events, timeoutMs) -> revents (0 on timeout). Blocks the calling thread: the Sync forms only.
// events/revents use the POLLIN (1) / POLLOUT (4) / POLLERR (8) / POLLHUP (16) bits.
Napi::Value PollFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = ArgInt32(info, 0);
  const int32_t events = ArgInt32(info, 1);
  const Deadline deadline = Deadline::FromMs(ArgNumber(info, 2));
  for (;;) {
    pollfd p{fd, static_cast<short>(events), 0};
    const int rc = poll(&p, 1, deadline.RemainingMs());
    if (rc > 0) return Napi::Number::New(env, p.revents);
    if (rc < 0 && errno != EINTR) throw SystemError(env, errno, "poll");
    if (deadline.Passed()) return Napi::Number::New(env, 0);
  }
}

}  // namespace

void InitStreamIo(Napi::Env env, Napi::Object exports) {
  exports.Set("streamPair", Napi::Function::New(env, StreamPair, "streamPair"));
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("setNonBlocking", Napi::Function::New(env, SetNonBlocking, "setNonBlocking"));
  exports.Set("dupFd", Napi::Function::New(env, DupFd, "dupFd"));
  exports.Set("isUnixSocket", Napi::Function::New(env, IsUnixSocket, "isUnixSocket"));
  exports.Set("readStream", Napi::Function::New(env, ReadStream, "readStream"));
  exports.Set("writeStream", Napi::Function::New(env, WriteStream, "writeStream"));
  exports.Set("pollFd", Napi::Function::New(env, PollFd, "pollFd"));
}

}  // namespace pmp
