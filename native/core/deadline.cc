#include "core/deadline.h"

#include <climits>
#include <cmath>
#include <cstdint>

namespace pmp {

namespace {
constexpr int64_t kNsPerSec = 1000000000;

timespec NowPlusMs(double ms) {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  // Clamp far-away deadlines (timeout: 1e300) so the arithmetic cannot overflow: 100 years is forever enough.
  const double capped = std::fmin(ms, 100.0 * 365 * 24 * 3600 * 1000);
  const int64_t add_ns = static_cast<int64_t>(capped * 1e6);
  int64_t ns = now.tv_nsec + add_ns % kNsPerSec;
  timespec at;
  at.tv_sec = now.tv_sec + add_ns / kNsPerSec + ns / kNsPerSec;
  at.tv_nsec = ns % kNsPerSec;
  return at;
}

bool Before(const timespec& a, const timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}
}  // namespace

Deadline Deadline::FromMs(double ms) {
  Deadline d;
  if (ms >= 0 && !std::isnan(ms)) {
    d.infinite = false;
    d.at = NowPlusMs(ms);
  }
  return d;
}

bool Deadline::Passed() const {
  if (infinite) return false;
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return !Before(now, at);
}

Deadline Deadline::CappedAt(double ms) const {
  Deadline capped = FromMs(ms);
  if (!infinite && Before(at, capped.at)) capped.at = at;
  return capped;
}

int Deadline::RemainingMs() const {
  if (infinite) return -1;
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const double ms = (at.tv_sec - now.tv_sec) * 1e3 + (at.tv_nsec - now.tv_nsec) / 1e6;
  if (ms <= 0) return 0;
  return ms >= INT_MAX ? INT_MAX : static_cast<int>(std::ceil(ms));
}

}  // namespace pmp
