// Absolute deadlines on CLOCK_MONOTONIC: every timed wait (futex, sem_clockwait) takes one, so a wait that
// is interrupted and restarted never waits longer than asked, and wall-clock jumps never matter.
#pragma once

#include <time.h>

namespace pmp {

struct Deadline {
  bool infinite = true;
  timespec at{};

  // `ms < 0` means no deadline; otherwise now + ms (fractions of a millisecond kept).
  static Deadline FromMs(double ms);
  bool Passed() const;
  // The earlier of this deadline and now + ms.
  Deadline CappedAt(double ms) const;
  // Milliseconds left, rounded up, for poll(2): -1 for no deadline, 0 once passed.
  int RemainingMs() const;
  // Pointer form for syscalls that take NULL for "forever".
  const timespec* Ptr() const { return infinite ? nullptr : &at; }
};

}  // namespace pmp
