// POSIX shared memory objects (shm_open) and anonymous memory files (memfd_create), as plain descriptors.
#pragma once

#include <napi.h>

namespace pmp {

void InitShm(Napi::Env env, Napi::Object exports);

}  // namespace pmp
