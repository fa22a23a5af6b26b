// Lock and RLock waiting: the pmp_lock protocol of include/posix_mp.h, for the slow paths. The uncontended
// paths never reach native code: lib/sync/lock.ts takes and releases the word with Atomics on the shared view.
#pragma once

#include <napi.h>

namespace pmp {

void InitLock(Napi::Env env, Napi::Object exports);

}  // namespace pmp
