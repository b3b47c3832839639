// Effective concurrency limits under peak scaling, and the claim budget of one dequeue.
#include "queue/policy/limits.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace queue::policy {

namespace {

// Relative distance from an integer under which a scaled limit counts as that integer:
// far above double rounding error (~1e-16), far below the fractions that multipliers
// with a few decimals produce.
constexpr double kScaleTolerance = 1e-12;

constexpr int kMaxLimit = std::numeric_limits<int>::max();

}  // namespace

// Return the effective limit for a base limit and peak multiplier.
int ScaledLimit(int base, double multiplier, bool scales) {
  const int floor_base = std::max(base, 0);
  if (!scales || std::isnan(multiplier)) return floor_base;
  if (multiplier <= 0.0 || floor_base == 0) return 0;
  const double product = static_cast<double>(floor_base) * multiplier;
  if (!(product < static_cast<double>(kMaxLimit))) return kMaxLimit;  // also +inf
  const double nearest = std::round(product);
  const double scaled =
      std::fabs(product - nearest) <= kScaleTolerance * nearest ? nearest : std::floor(product);
  return static_cast<int>(scaled);
}

// Return how many jobs one dequeue call may try to claim.
int AdmissibleCount(int requested, int worker_free, int limit, std::int64_t running) {
  const std::int64_t busy = std::max<std::int64_t>(running, 0);
  if (busy >= limit) return 0;
  const int headroom = static_cast<int>(limit - busy);  // 0 < headroom <= limit
  return std::max(std::min({requested, worker_free, headroom}), 0);
}

int FairShare(int limit, int capacity, std::int64_t live_capacity) {
  if (capacity <= 0) return 0;
  // Also covers live_capacity <= 0 (no division by zero below).
  if (live_capacity <= std::max(limit, 0)) return capacity;
  // Rounded up without adding to the product, which could overflow.
  const std::int64_t scaled = static_cast<std::int64_t>(std::max(limit, 0)) * capacity;
  const std::int64_t share = scaled / live_capacity + (scaled % live_capacity != 0 ? 1 : 0);
  return static_cast<int>(std::clamp<std::int64_t>(share, 1, capacity));
}

int WorkerAllowance(int limit, int capacity, std::int64_t live_capacity, bool others_waiting) {
  if (others_waiting) return FairShare(limit, capacity, live_capacity);
  return std::max(capacity, 0);
}

}  // namespace queue::policy
