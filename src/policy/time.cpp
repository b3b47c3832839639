// Conversions between computed (floating-point) durations and whole microseconds.
#include "queue/policy/time.hpp"

#include <cmath>
#include <limits>

namespace queue::policy {

// 2^63 as a double: the first value above the Micros range.
constexpr double kMicrosRangeEnd = 9223372036854775808.0;

// Round a computed duration to whole microseconds, saturating at the int64 range.
Micros RoundToMicros(double micros) {
  if (std::isnan(micros)) return 0;
  if (micros >= kMicrosRangeEnd) return std::numeric_limits<Micros>::max();
  if (micros <= -kMicrosRangeEnd) return std::numeric_limits<Micros>::min();
  return static_cast<Micros>(std::llround(micros));
}

}  // namespace queue::policy
