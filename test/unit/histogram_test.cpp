// Cumulative histogram buckets, as the monitoring pass folds wait and run times.
#include "queue/policy/histogram.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace queue::policy {
namespace {

using Counts = std::vector<std::int64_t>;

TEST(CumulativeBucketCounts, CountsSamplesAtOrBelowEachBoundThenAll) {
  EXPECT_EQ(CumulativeBucketCounts({0.5, 1, 3, 7, 20, 5000}, {1, 5, 15, 30}),
            (Counts{2, 3, 4, 5, 6}));
}

TEST(CumulativeBucketCounts, NoSamplesGivesZeroInEveryBucket) {
  EXPECT_EQ(CumulativeBucketCounts({}, {1, 5}), (Counts{0, 0, 0}));
}

TEST(CumulativeBucketCounts, NoBoundsGivesOnlyTheTotal) {
  EXPECT_EQ(CumulativeBucketCounts({1, 2, 3}, {}), (Counts{3}));
}

TEST(CumulativeBucketCounts, ASampleOnABoundCountsInIt) {
  EXPECT_EQ(CumulativeBucketCounts({5, 5, 15}, {5, 15}), (Counts{2, 3, 3}));
}

TEST(CumulativeBucketCounts, UnsortedBoundsAreEachCountedOnTheirOwn) {
  EXPECT_EQ(CumulativeBucketCounts({1, 10, 100}, {50, 5}), (Counts{2, 1, 3}));
}

TEST(CumulativeBucketCounts, NaNLiesAboveEveryNumberAndEqualsNaN) {
  const double nan = std::nan("");
  const double inf = std::numeric_limits<double>::infinity();
  // As in PostgreSQL: 'NaN'::float8 > 'Infinity'::float8, and NaN = NaN.
  EXPECT_EQ(CumulativeBucketCounts({nan, 1}, {inf, nan}), (Counts{1, 2, 2}));
}

TEST(CumulativeBucketCounts, NegativeAndInfiniteSamples) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(CumulativeBucketCounts({-inf, -1, inf}, {0, inf}), (Counts{2, 3, 3}));
}

}  // namespace
}  // namespace queue::policy
