#include "wait/futex.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>

namespace pmp {

namespace {

long Futex(const void* word, int op, uint32_t value, const timespec* timeout, uint32_t bitset) {
  return syscall(SYS_futex, word, op, value, timeout, nullptr, bitset);
}

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

// Whether futex_waitv exists; decided by the first call (ENOSYS on kernels before 5.16).
std::atomic<bool> waitv_missing{false};

constexpr double kFallbackSliceMs = 50;

WaitStatus StatusFromErrno(int err) {
  switch (err) {
    case EAGAIN: return WaitStatus::kNotEqual;
    case ETIMEDOUT: return WaitStatus::kTimedOut;
    default: return WaitStatus::kOk;  // EINTR and friends: a spurious wake-up, the caller re-checks
  }
}

}  // namespace

WaitStatus FutexWait(const uint32_t* word, uint32_t expected, const Deadline& deadline) {
  for (;;) {
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC timeout, so restarting after EINTR is exact.
    if (Futex(word, FUTEX_WAIT_BITSET, expected, deadline.Ptr(), FUTEX_BITSET_MATCH_ANY) == 0) {
      return WaitStatus::kOk;
    }
    if (errno != EINTR) return StatusFromErrno(errno);
  }
}

WaitStatus FutexWaitCancellable(const uint32_t* word, uint32_t expected, const Deadline& deadline,
                                const std::atomic<uint32_t>* cancel) {
  const uint32_t* cancel_word = reinterpret_cast<const uint32_t*>(cancel);
  for (;;) {
    if (cancel->load(std::memory_order_acquire) != 0) return WaitStatus::kCancelled;
    if (!waitv_missing.load(std::memory_order_relaxed)) {
      struct futex_waitv waiters[2] = {};
      waiters[0].uaddr = reinterpret_cast<uintptr_t>(word);
      waiters[0].val = expected;
      waiters[0].flags = FUTEX_32;  // shared: the word may be in another process's mapping too
      waiters[1].uaddr = reinterpret_cast<uintptr_t>(cancel_word);
      waiters[1].val = 0;
      waiters[1].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;  // the cancel word lives in this process only
      long woken = syscall(SYS_futex_waitv, waiters, 2, 0, deadline.Ptr(), CLOCK_MONOTONIC);
      if (woken == 0) return WaitStatus::kOk;
      if (woken == 1) return WaitStatus::kCancelled;
      if (errno == ENOSYS) {
        waitv_missing.store(true, std::memory_order_relaxed);
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        // One of the two words differed; futex_waitv does not say which.
        if (cancel->load(std::memory_order_acquire) != 0) return WaitStatus::kCancelled;
        return WaitStatus::kNotEqual;
      }
      return StatusFromErrno(errno);
    }
    // Old kernel: sleep in slices and look at the cancel word between them.
    WaitStatus status = FutexWait(word, expected, deadline.CappedAt(kFallbackSliceMs));
    if (status != WaitStatus::kTimedOut || deadline.Passed()) return status;
  }
}

void CancelWake(std::atomic<uint32_t>* cancel) {
  cancel->store(1, std::memory_order_release);
  syscall(SYS_futex, cancel, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

int FutexWake(const uint32_t* word, int count) {
  // The kernel wakes one waiter even for a count of 0 (it checks the count after waking); Atomics.notify's
  // contract is that 0 wakes nobody.
  if (count <= 0) return 0;
  long woken = Futex(word, FUTEX_WAKE, static_cast<uint32_t>(count), nullptr, 0);
  return woken < 0 ? 0 : static_cast<int>(woken);
}

}  // namespace pmp
