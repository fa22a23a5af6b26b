// A semaphore wait that a waiter thread can abandon the instant it is cancelled. sem_clockwait cannot be
// interrupted without signals (and a signal can always land just before the thread blocks), so on glibc the
// wait follows glibc's own semaphore protocol on the sem_t's futex word and sleeps with
// FutexWaitCancellable. glibc's layout is fixed ABI: named semaphores are shared, through /dev/shm, by
// programs built against any glibc since 2.21. Elsewhere, sem_clockwait in short slices.
#pragma once

#include <semaphore.h>

#include <atomic>

#include "core/deadline.h"
#include "wait/futex.h"

namespace pmp {

// Decrements the semaphore, waiting until the deadline or the cancellation. Returns a WaitStatus value
// (kOk: acquired) or a negative errno. A token taken by a wait that was cancelled meanwhile is given back by
// the Waiter (SemWaitJob::GiveBack).
int SemWaitCancellable(sem_t* sem, const Deadline& deadline, const std::atomic<uint32_t>* cancel);

// Checks once, on a private semaphore, that this libc's sem_t has the layout SemWaitCancellable expects.
bool SemLayoutIsGlibc();

// With glibc's layout: the 32-bit value word of the sem_t (sleepers wait on it) and the word after it, the
// number of sleepers. lib/sync/semaphore.ts reads both through a view to post and try-wait without native calls.
const uint32_t* SemValueWord(sem_t* sem);
constexpr size_t kSemCounterBytes = 8;

}  // namespace pmp
