// POSIX semaphores: named ones from sem_open (the very counter a C or Python program opens by the same
// name) and unnamed process-shared ones placed in shared memory with sem_init (anonymous objects).
#pragma once

#include <napi.h>

namespace pmp {

void InitSemaphore(Napi::Env env, Napi::Object exports);

}  // namespace pmp
