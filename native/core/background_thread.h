// Detached helper threads (waiter threads, the spawner) that block every signal, so that signals keep going
// to the threads that handle them (Node's main thread, the embedding program's handlers).
#pragma once

#include <cstddef>

namespace pmp {

// Starts `entry(arg)` on a detached thread with `stack_size` bytes of stack and all signals blocked.
// Returns 0 or pthread_create's error number.
int StartBackgroundThread(void* (*entry)(void*), void* arg, size_t stack_size);

// How many background threads this process has ever started. A fork server's zygote must have started none:
// a child forked from it would inherit their queues and locks, but not the threads.
int BackgroundThreadsStarted();

}  // namespace pmp
