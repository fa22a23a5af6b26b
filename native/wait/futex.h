// Cross-process futex primitives on 32-bit words in shared memory. Never FUTEX_PRIVATE_FLAG on shared
// words: a private futex is keyed by (mm, address) and would not see waiters in another process.
#pragma once

#include <atomic>
#include <cstdint>

#include "core/deadline.h"

namespace pmp {

enum class WaitStatus : int {
  kOk = 0,         // woken (possibly spuriously: callers re-check their condition)
  kTimedOut = 1,   // the deadline passed
  kNotEqual = 2,   // the word did not hold the expected value when the wait began
  kCancelled = 3,  // the cancel word became non-zero
  kOwnerDied = 4,  // locks only: acquired, but the previous owner died holding the lock
};

// Sleeps while *word == expected, until woken or the deadline passes. EINTR is retried.
WaitStatus FutexWait(const uint32_t* word, uint32_t expected, const Deadline& deadline);

// Like FutexWait, but also returns kCancelled as soon as *cancel becomes non-zero and CancelWake(cancel) is
// called. Uses futex_waitv (Linux 5.16+) to sleep on both words at once, so a cancellation can never slip in
// between checking the flag and going to sleep; older kernels fall back to 50 ms slices.
WaitStatus FutexWaitCancellable(const uint32_t* word, uint32_t expected, const Deadline& deadline,
                                const std::atomic<uint32_t>* cancel);

// Marks *cancel and wakes the thread sleeping in FutexWaitCancellable on it.
void CancelWake(std::atomic<uint32_t>* cancel);

// Wakes up to `count` waiters (in any process) on `word`. Returns how many were woken.
int FutexWake(const uint32_t* word, int count);

}  // namespace pmp
