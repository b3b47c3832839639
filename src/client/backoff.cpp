// Capped exponential backoff with jitter.
#include "client/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace client {

// The delay before retry number `retry`.
std::chrono::milliseconds BackoffDelay(const Backoff& backoff, int retry, double unit_random) {
  const double first =
      static_cast<double>(std::max<std::chrono::milliseconds::rep>(backoff.first.count(), 0));
  const double cap =
      static_cast<double>(std::max<std::chrono::milliseconds::rep>(backoff.cap.count(), 0));
  // 2^62 already exceeds any cap in milliseconds; a larger exponent only overflows.
  const int exponent = std::clamp(retry, 1, 63) - 1;
  const double capped = std::min(cap, first * std::ldexp(1.0, exponent));
  const double jitter = std::clamp(unit_random, 0.0, 1.0);
  return std::chrono::milliseconds(std::llround(capped * (0.5 + 0.5 * jitter)));
}

}  // namespace client
