#include "comm/socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "core/errors.h"

namespace pmp {

namespace {

// An address from (path) or (host, port): `host` must be a numeric IPv4 or IPv6 address.
struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_UNSPEC;
};

Address ArgAddress(const Napi::CallbackInfo& info, const char* syscall) {
  Napi::Env env = info.Env();
  Address address;
  const std::string where = ArgString(info, 0);
  if (info[1].IsUndefined()) {
    auto* un = reinterpret_cast<sockaddr_un*>(&address.storage);
    if (where.empty() || where.size() >= sizeof(un->sun_path) || where.find('\0') != std::string::npos) {
      throw SystemError(env, ENAMETOOLONG, syscall, where);
    }
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, where.c_str(), where.size() + 1);
    address.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + where.size() + 1);
    address.family = AF_UNIX;
    return address;
  }
  const uint32_t port = ArgUint32(info, 1);
  if (port > 65535) throw ArgTypeError(env, "port out of range");
  auto* in4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
  if (inet_pton(AF_INET, where.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
    address.length = sizeof(sockaddr_in);
    address.family = AF_INET;
  } else if (inet_pton(AF_INET6, where.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    address.length = sizeof(sockaddr_in6);
    address.family = AF_INET6;
  } else {
    throw ArgTypeError(env, "host must be a numeric address");
  }
  return address;
}

// TCP_NODELAY: Python's framing sends a short header and its body separately; without this, each message
// would wait for a delayed ACK. Harmless on sockets that are not TCP.
void SetNoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int NewSocket(Napi::Env env, int family) {
  const int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw SystemError(env, errno, "socket");
  return fd;
}

// listen(pathOrHost, port | undefined, backlog) -> fd. A TCP listener reuses addresses (SO_REUSEADDR), as
// Python's does.
Napi::Value Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Address address = ArgAddress(info, "bind");
  const int backlog = ArgInt32(info, 2);
  const int fd = NewSocket(env, address.family);
  if (address.family != AF_UNIX) {
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  }
  const char* failed = nullptr;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0) {
    failed = "bind";
  } else if (listen(fd, backlog) != 0) {
    failed = "listen";
  }
  if (failed != nullptr) {
    const int err = errno;
    close(fd);
    throw SystemError(env, err, failed, ArgString(info, 0));
  }
  return Napi::Number::New(env, fd);
}

// accept(fd) -> fd of the new connection (non-blocking, close-on-exec), or -1 if none is waiting.
Napi::Value Accept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = ArgInt32(info, 0);
  int accepted;
  do accepted = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); while (accepted < 0 && errno == EINTR);
  if (accepted >= 0) return Napi::Number::New(env, accepted);
  // A connection that went away before it was accepted is not this listener's error.
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) return Napi::Number::New(env, -1);
  throw SystemError(env, errno, "accept");
}

// connect(pathOrHost, port | undefined) -> fd, whose connection may still be in progress: it is
// established once the descriptor is writable and connectResult(fd) says 0.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Address address = ArgAddress(info, "connect");
  const int fd = NewSocket(env, address.family);
  int rc;
  do rc = connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length); while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno != EINPROGRESS) {
    const int err = errno;
    close(fd);
    throw SystemError(env, err, "connect", ArgString(info, 0));
  }
  if (address.family != AF_UNIX) SetNoDelay(fd);
  return Napi::Number::New(env, fd);
}

// connectResult(fd) -> 0 when connected, else the errno the connect failed with (SO_ERROR).
Napi::Value ConnectResult(const Napi::CallbackInfo& info) {
  const int fd = ArgInt32(info, 0);
  int err = 0;
  socklen_t length = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &length) != 0) err = errno;
  return Napi::Number::New(info.Env(), err);
}

// noDelay(fd): TCP_NODELAY on an accepted TCP connection; harmless elsewhere.
Napi::Value NoDelay(const Napi::CallbackInfo& info) {
  SetNoDelay(ArgInt32(info, 0));
  return info.Env().Undefined();
}

// peerCredentials(fd) -> { pid, uid, gid } of the process at the other end of an AF_UNIX socket.
Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = ArgInt32(info, 0);
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    throw SystemError(env, errno, "getsockopt");
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", credentials.pid);
  result.Set("uid", credentials.uid);
  result.Set("gid", credentials.gid);
  return result;
}

// localPort(fd) -> the port a TCP socket is bound to (a listener asked for port 0 gets one).
Napi::Value LocalPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = ArgInt32(info, 0);
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    throw SystemError(env, errno, "getsockname");
  }
  if (storage.ss_family == AF_INET) return Napi::Number::New(env, ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port));
  if (storage.ss_family == AF_INET6) {
    return Napi::Number::New(env, ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port));
  }
  return Napi::Number::New(env, -1);
}

}  // namespace

void InitSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("listen", Napi::Function::New(env, Listen, "listen"));
  exports.Set("accept", Napi::Function::New(env, Accept, "accept"));
  exports.Set("connect", Napi::Function::New(env, Connect, "connect"));
  exports.Set("connectResult", Napi::Function::New(env, ConnectResult, "connectResult"));
  exports.Set("noDelay", Napi::Function::New(env, NoDelay, "noDelay"));
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
  exports.Set("localPort", Napi::Function::New(env, LocalPort, "localPort"));
}

}  // namespace pmp
