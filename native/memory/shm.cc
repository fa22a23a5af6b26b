#include "memory/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/errors.h"
#include "core/open_mode.h"

namespace pmp {

namespace {

// shmOpen(name, openMode, permissions) -> { fd, created }. `name` has its leading '/'. The descriptor is
// close-on-exec (shm_open sets FD_CLOEXEC); passing it to a child is always deliberate.
Napi::Value ShmOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = ArgString(info, 0);
  const OpenMode mode = ArgOpenMode(info, 1);
  const mode_t permissions = static_cast<mode_t>(ArgUint32(info, 2));
  bool created = false;
  int fd = OpenOrCreate(mode, &created, [&](int flags) { return shm_open(name.c_str(), flags | O_RDWR, permissions); });
  if (fd < 0) throw SystemError(env, errno, "shm_open", name);
  Napi::Object result = Napi::Object::New(env);
  result.Set("fd", fd);
  result.Set("created", created);
  return result;
}

Napi::Value ShmUnlink(const Napi::CallbackInfo& info) {
  const std::string name = ArgString(info, 0);
  if (shm_unlink(name.c_str()) != 0) throw SystemError(info.Env(), errno, "shm_unlink", name);
  return info.Env().Undefined();
}

// memfdCreate(label) -> fd. The file has no name in any namespace: it disappears with its last descriptor
// and mapping, whatever way the processes holding them end.
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  const std::string label = ArgString(info, 0);
  int fd = memfd_create(label.c_str(), MFD_CLOEXEC);
  if (fd < 0) throw SystemError(info.Env(), errno, "memfd_create");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value Ftruncate(const Napi::CallbackInfo& info) {
  const int fd = ArgInt32(info, 0);
  const double size = ArgNumber(info, 1);
  int rc;
  do rc = ftruncate(fd, static_cast<off_t>(size)); while (rc != 0 && errno == EINTR);
  if (rc != 0) throw SystemError(info.Env(), errno, "ftruncate");
  return info.Env().Undefined();
}

Napi::Value FdSize(const Napi::CallbackInfo& info) {
  struct stat st;
  if (fstat(ArgInt32(info, 0), &st) != 0) throw SystemError(info.Env(), errno, "fstat");
  return Napi::Number::New(info.Env(), static_cast<double>(st.st_size));
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  // Linux releases the descriptor even when close() reports EINTR, so it is never retried.
  if (close(ArgInt32(info, 0)) != 0 && errno != EINTR) throw SystemError(info.Env(), errno, "close");
  return info.Env().Undefined();
}

}  // namespace

void InitShm(Napi::Env env, Napi::Object exports) {
  exports.Set("shmOpen", Napi::Function::New(env, ShmOpen, "shmOpen"));
  exports.Set("shmUnlink", Napi::Function::New(env, ShmUnlink, "shmUnlink"));
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("ftruncate", Napi::Function::New(env, Ftruncate, "ftruncate"));
  exports.Set("fdSize", Napi::Function::New(env, FdSize, "fdSize"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
}

}  // namespace pmp
