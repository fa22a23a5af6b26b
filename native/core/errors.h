// System and argument errors, shaped like Node's own (`code`, `errno`, `syscall`).
#pragma once

#include <napi.h>

#include <string>

namespace pmp {

// An Error for a failed system call: message "ENOENT: no such file or directory, shm_open '/x'",
// with err.code = 'ENOENT', err.errno = -2 (negative, as libuv and Node report it), err.syscall.
Napi::Error SystemError(Napi::Env env, int err, const char* syscall, const std::string& path = "");

// A TypeError with code 'ERR_INVALID_ARG_TYPE'. The TypeScript layer validates user input first, so this
// only guards the binding itself against misuse: no argument may crash the process.
Napi::TypeError ArgTypeError(Napi::Env env, const std::string& message);

// Argument readers that throw ArgTypeError instead of asserting.
int32_t ArgInt32(const Napi::CallbackInfo& info, size_t index);
uint32_t ArgUint32(const Napi::CallbackInfo& info, size_t index);
double ArgNumber(const Napi::CallbackInfo& info, size_t index);
bool ArgBool(const Napi::CallbackInfo& info, size_t index);
std::string ArgString(const Napi::CallbackInfo& info, size_t index);
Napi::Function ArgFunction(const Napi::CallbackInfo& info, size_t index);

}  // namespace pmp
