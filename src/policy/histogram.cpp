// Cumulative histogram buckets (see histogram.hpp).
#include "queue/policy/histogram.hpp"

#include <cmath>

namespace queue::policy {

namespace {

// a <= b in PostgreSQL's order of double precision values.
bool AtOrBelow(double a, double b) {
  if (std::isnan(b)) return true;
  if (std::isnan(a)) return false;
  return a <= b;
}

}  // namespace

std::vector<std::int64_t> CumulativeBucketCounts(const std::vector<double>& samples,
                                                 const std::vector<double>& bounds) {
  std::vector<std::int64_t> counts(bounds.size() + 1, 0);
  for (std::size_t i = 0; i < bounds.size(); i++)
    for (double sample : samples)
      if (AtOrBelow(sample, bounds[i])) counts[i]++;
  counts.back() = static_cast<std::int64_t>(samples.size());
  return counts;
}

}  // namespace queue::policy
