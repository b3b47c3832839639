// Time units for the policy code: durations and times are plain microsecond counts,
// the unit PostgreSQL uses for interval, time and timestamptz. A "time of day" is
// microseconds since local midnight, in [0, kMicrosPerDay).
#pragma once

#include <cstdint>

#include "queue/policy/pure.hpp"

namespace queue::policy {

using Micros = std::int64_t;  // durations and times in microseconds

constexpr Micros kMicrosPerSecond = 1000000;
constexpr Micros kMicrosPerMinute = 60 * kMicrosPerSecond;
constexpr Micros kMicrosPerHour = 60 * kMicrosPerMinute;
constexpr Micros kMicrosPerDay = 86400LL * kMicrosPerSecond;

// Build a time of day (or a duration) from hours, minutes and seconds.
constexpr Micros ClockTime(int hours, int minutes = 0, int seconds = 0) {
  return hours * kMicrosPerHour + minutes * kMicrosPerMinute + seconds * kMicrosPerSecond;
}

// Wrap any microsecond count into a time of day in [0, kMicrosPerDay).
constexpr Micros WrapTimeOfDay(Micros micros) {
  const Micros wrapped = micros % kMicrosPerDay;
  return wrapped < 0 ? wrapped + kMicrosPerDay : wrapped;
}

// Round a computed duration to whole microseconds, saturating at the int64 range;
// NaN becomes 0.
Micros RoundToMicros(double micros);

}  // namespace queue::policy
