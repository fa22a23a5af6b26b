// Open-or-create for named objects (shm_open, sem_open): the three ways the API opens a name.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <napi.h>

#include "core/errors.h"

namespace pmp {

enum class OpenMode : int {
  kOpen = 0,          // X.open(name): must exist
  kCreate = 1,        // { exclusive: true }: must not exist
  kOpenOrCreate = 2,  // new X(..., { name }): either
};

inline OpenMode ArgOpenMode(const Napi::CallbackInfo& info, size_t index) {
  const uint32_t mode = ArgUint32(info, index);
  if (mode > static_cast<uint32_t>(OpenMode::kOpenOrCreate)) throw ArgTypeError(info.Env(), "bad open mode");
  return static_cast<OpenMode>(mode);
}

// Calls open(extra_flags) the way `mode` asks and reports whether this call created the object. For
// kOpenOrCreate it tries O_CREAT|O_EXCL first, so exactly one of several racing processes is the creator
// (and initialises the object); the rest open it. Returns open()'s result with errno set on failure.
template <typename Open>
int OpenOrCreate(OpenMode mode, bool* created, Open open) {
  *created = false;
  if (mode == OpenMode::kOpen) return open(0);
  for (;;) {
    int result = open(O_CREAT | O_EXCL);
    if (result >= 0 || errno != EEXIST || mode == OpenMode::kCreate) {
      *created = result >= 0;
      return result;
    }
    result = open(0);
    // ENOENT here means the object was unlinked between the two calls: try to create it again.
    if (result >= 0 || errno != ENOENT) return result;
  }
}

}  // namespace pmp
