// queue.cumulative_buckets(): the histogram buckets of the monitoring pass.
//
// The pass adds every slice of events' wait and run times to each job type's
// histograms. In SQL this counted the samples once per bucket, each count a
// subquery: the larger part of a slice's fold.
#include "queue/policy/histogram.hpp"

#include "queue/arguments.hpp"
#include "queue/boundary.hpp"
#include "queue/datums.hpp"

#include <vector>

namespace queue {

namespace {

// Fill counts[0..bounds.count] from the arrays' elements; calls nothing that
// can raise a PostgreSQL error while its vectors live. NULL samples count
// only toward the total (+Inf), as a sample no bound can be compared with.
void CountBuckets(const ArrayElements& samples, const ArrayElements& bounds, int64* counts) {
  std::vector<double> known_samples;
  known_samples.reserve(samples.count);
  for (int i = 0; i < samples.count; i++)
    if (!samples.nulls[i]) known_samples.push_back(DatumGetFloat8(samples.values[i]));
  std::vector<double> bound_values(bounds.count);
  for (int i = 0; i < bounds.count; i++) bound_values[i] = DatumGetFloat8(bounds.values[i]);
  std::vector<std::int64_t> cumulative =
      policy::CumulativeBucketCounts(known_samples, bound_values);
  for (int i = 0; i < bounds.count; i++) counts[i] = cumulative[i];
  counts[bounds.count] = samples.count;
}

// cumulative_buckets(samples, bounds): for each bound, how many samples are
// at or below it, then how many samples there are; NULL samples count as
// none, NULL bounds as no buckets.
Datum CumulativeBuckets(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(1)) return Int64ArrayDatum(nullptr, 0);
  ArrayElements bounds = ArrayArgument(fcinfo, 1, "bounds", FLOAT8OID, false);
  ArrayElements samples{nullptr, nullptr, 0};
  if (!PG_ARGISNULL(0)) samples = ArrayArgument(fcinfo, 0, "samples", FLOAT8OID, true);
  auto* counts = static_cast<int64*>(palloc(sizeof(int64) * (bounds.count + 1)));
  CountBuckets(samples, bounds, counts);
  return Int64ArrayDatum(counts, bounds.count + 1);
}

}  // namespace

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_cumulative_buckets, queue::CumulativeBuckets)
