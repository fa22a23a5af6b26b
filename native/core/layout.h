// binding.layout: the sizes and offsets of the structs of include/posix_mp.h and its constants, as this
// compiler lays them out, so that lib/internal/layout.ts can check its own copy at load.
#pragma once

#include <napi.h>

namespace pmp {

void InitLayout(Napi::Env env, Napi::Object exports);

}  // namespace pmp
