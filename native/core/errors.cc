#include "core/errors.h"

#include <errno.h>
#include <uv.h>

#include <cctype>
#include <cstdio>
#include <cstring>

namespace pmp {

namespace {
// The symbolic name of an errno that libuv does not know: glibc's own (strerrorname_np, glibc 2.32), else
// from a short table of those the addon can meet, else "E<number>" in `buf`.
const char* ErrnoName(int err, char* buf, size_t size) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* name = strerrorname_np(err)) return name;
#endif
  switch (err) {
    case ECHILD: return "ECHILD";
    case ENOEXEC: return "ENOEXEC";
    case EOWNERDEAD: return "EOWNERDEAD";
    case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
    default:
      std::snprintf(buf, size, "E%d", err);
      return buf;
  }
}
}  // namespace

Napi::Error SystemError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  // libuv's error names and messages are exactly the ones Node prints for fs errors. libuv lacks a few errnos
  // (ECHILD, ENOEXEC): for those, glibc's name, and its message lower-cased the way libuv's are.
  char code[64];
  uv_err_name_r(-err, code, sizeof code);  // uv_err_name itself leaks memory for unknown errors
  std::string text;
  if (std::strncmp(code, "Unknown", 7) != 0) {
    char buf[256];
    text = uv_strerror_r(-err, buf, sizeof buf);
  } else {
    char number[32];
    std::snprintf(code, sizeof code, "%s", ErrnoName(err, number, sizeof number));
    text = std::strerror(err);
    if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  std::string message = std::string(code) + ": " + text + ", " + syscall;
  if (!path.empty()) message += " '" + path + "'";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) error.Set("path", Napi::String::New(env, path));
  return error;
}

Napi::TypeError ArgTypeError(Napi::Env env, const std::string& message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  return error;
}

namespace {
Napi::Value Arg(const Napi::CallbackInfo& info, size_t index, bool (Napi::Value::*is)() const,
                const char* expected) {
  Napi::Value value = info[index];
  if (!(value.*is)()) {
    throw ArgTypeError(info.Env(), "binding argument " + std::to_string(index) + " must be " + expected);
  }
  return value;
}
}  // namespace

int32_t ArgInt32(const Napi::CallbackInfo& info, size_t index) {
  return Arg(info, index, &Napi::Value::IsNumber, "a number").As<Napi::Number>().Int32Value();
}
uint32_t ArgUint32(const Napi::CallbackInfo& info, size_t index) {
  return Arg(info, index, &Napi::Value::IsNumber, "a number").As<Napi::Number>().Uint32Value();
}
double ArgNumber(const Napi::CallbackInfo& info, size_t index) {
  return Arg(info, index, &Napi::Value::IsNumber, "a number").As<Napi::Number>().DoubleValue();
}
bool ArgBool(const Napi::CallbackInfo& info, size_t index) {
  return Arg(info, index, &Napi::Value::IsBoolean, "a boolean").As<Napi::Boolean>().Value();
}
std::string ArgString(const Napi::CallbackInfo& info, size_t index) {
  return Arg(info, index, &Napi::Value::IsString, "a string").As<Napi::String>().Utf8Value();
}
Napi::Function ArgFunction(const Napi::CallbackInfo& info, size_t index) {
  return Arg(info, index, &Napi::Value::IsFunction, "a function").As<Napi::Function>();
}

}  // namespace pmp
