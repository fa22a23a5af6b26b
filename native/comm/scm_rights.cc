#include "comm/scm_rights.h"

#include "core/errors.h"

namespace pmp {

std::vector<int> FdsFromArray(Napi::Env env, Napi::Array array, const char* too_many) {
  if (array.Length() > kMaxFdsPerMessage) throw ArgTypeError(env, too_many);
  std::vector<int> fds;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value fd = array.Get(i);
    if (!fd.IsNumber()) throw ArgTypeError(env, "descriptors must be numbers");
    fds.push_back(fd.As<Napi::Number>().Int32Value());
  }
  return fds;
}

}  // namespace pmp
