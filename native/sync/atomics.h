// The `atomics` namespace: futex wait/notify on Int32Array elements of shared memory, across processes.
#pragma once

#include <napi.h>

namespace pmp {

void InitAtomics(Napi::Env env, Napi::Object exports);

}  // namespace pmp
