// Histogram buckets as Prometheus reads them: cumulative counts of samples
// at or below each upper bound, then of all samples (the +Inf bucket). The
// monitoring pass adds each slice of events' wait and run times to the job
// type totals this way.
#pragma once

#include <cstdint>
#include <vector>

#include "queue/policy/pure.hpp"

namespace queue::policy {

// For each bound, how many samples are at or below it; then how many samples
// there are. The bounds need not be sorted: each is counted on its own.
// Comparisons follow PostgreSQL's order of double precision values, in which
// NaN equals NaN and lies above every number (so a NaN sample falls only in
// a NaN bound's bucket and in +Inf).
std::vector<std::int64_t> CumulativeBucketCounts(const std::vector<double>& samples,
                                                 const std::vector<double>& bounds);

}  // namespace queue::policy
