#include "sync/sem_async.h"

#include <errno.h>
#include <linux/futex.h>

#include <cstdint>
#include <cstring>

namespace pmp {

namespace {

// glibc (nptl/sem_waitcommon.c, 64-bit atomics): `uint64_t data` holds the value in its low 32 bits and the
// number of sleeping waiters in its high 32 bits; `int private` follows (LLL_SHARED, which glibc defines as
// FUTEX_PRIVATE_FLAG and XORs into the futex op, for process-shared semaphores).
// sem_post adds one to the value and, if the waiter count is non-zero, FUTEX_WAKEs one sleeper on the
// 32-bit value word.
constexpr int kNwaitersShift = 32;
constexpr uint64_t kValueMask = 0xffffffffu;
constexpr uint64_t kOneWaiter = uint64_t{1} << kNwaitersShift;

uint64_t* Data(sem_t* sem) { return reinterpret_cast<uint64_t*>(sem); }

constexpr double kFallbackSliceMs = 50;

int SlicedWait(sem_t* sem, const Deadline& deadline, const std::atomic<uint32_t>* cancel) {
  for (;;) {
    if (cancel->load(std::memory_order_acquire) != 0) return static_cast<int>(WaitStatus::kCancelled);
    Deadline slice = deadline.CappedAt(kFallbackSliceMs);
    if (sem_clockwait(sem, CLOCK_MONOTONIC, &slice.at) == 0) return static_cast<int>(WaitStatus::kOk);
    if (errno == ETIMEDOUT && deadline.Passed()) return static_cast<int>(WaitStatus::kTimedOut);
    if (errno != ETIMEDOUT && errno != EINTR) return -errno;
  }
}

}  // namespace

const uint32_t* SemValueWord(sem_t* sem) {
  return reinterpret_cast<const uint32_t*>(sem) + (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0 : 1);
}

bool SemLayoutIsGlibc() {
#if defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__)) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  static const bool matches = [] {
    if (sizeof(sem_t) < sizeof(uint64_t) + sizeof(int)) return false;
    sem_t sem;
    if (sem_init(&sem, 1, 0) != 0) return false;
    uint64_t before;
    int is_private;
    std::memcpy(&before, &sem, sizeof before);
    std::memcpy(&is_private, reinterpret_cast<char*>(&sem) + sizeof(uint64_t), sizeof is_private);
    sem_post(&sem);
    sem_post(&sem);
    uint64_t after;
    std::memcpy(&after, &sem, sizeof after);
    sem_destroy(&sem);
    return before == 0 && is_private == FUTEX_PRIVATE_FLAG && after == 2;
  }();
  return matches;
#else
  return false;
#endif
}

int SemWaitCancellable(sem_t* sem, const Deadline& deadline, const std::atomic<uint32_t>* cancel) {
  if (sem_trywait(sem) == 0) return static_cast<int>(WaitStatus::kOk);
  if (!SemLayoutIsGlibc()) return SlicedWait(sem, deadline, cancel);

  // Register as a waiter, exactly as glibc's __new_sem_wait_slow does, so sem_post from any process wakes us.
  uint64_t d = __atomic_add_fetch(Data(sem), kOneWaiter, __ATOMIC_RELAXED);
  for (;;) {
    if ((d & kValueMask) == 0) {
      WaitStatus status = FutexWaitCancellable(SemValueWord(sem), 0, deadline, cancel);
      if (status == WaitStatus::kTimedOut || status == WaitStatus::kCancelled) {
        d = __atomic_sub_fetch(Data(sem), kOneWaiter, __ATOMIC_RELAXED);
        // A post may have woken us instead of another sleeper; hand its wake-up on so no token sits unseen.
        if ((d & kValueMask) != 0 && (d >> kNwaitersShift) != 0) FutexWake(SemValueWord(sem), 1);
        return static_cast<int>(status);
      }
      d = __atomic_load_n(Data(sem), __ATOMIC_RELAXED);
    } else if (__atomic_compare_exchange_n(Data(sem), &d, d - 1 - kOneWaiter, true, __ATOMIC_ACQUIRE,
                                           __ATOMIC_RELAXED)) {
      return static_cast<int>(WaitStatus::kOk);
    }
  }
}

}  // namespace pmp
