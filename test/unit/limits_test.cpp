// Unit tests for queue/policy/limits.hpp: peak scaling of limits and the claim
// budget of one dequeue call.
#include "queue/policy/limits.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace queue::policy {
namespace {

constexpr int kIntMax = std::numeric_limits<int>::max();
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

TEST(ScaledLimitTest, ScalesTheSeededLimits) {
  EXPECT_EQ(ScaledLimit(10, 1.5, true), 15);  // max_concurrent at peak
  EXPECT_EQ(ScaledLimit(4, 1.5, true), 6);    // manim, if it scaled
  EXPECT_EQ(ScaledLimit(4, 1.5, false), 4);   // manim does not scale
  EXPECT_EQ(ScaledLimit(10, 1.0, true), 10);
}

TEST(ScaledLimitTest, RoundsDown) {
  EXPECT_EQ(ScaledLimit(7, 1.5, true), 10);
  EXPECT_EQ(ScaledLimit(3, 1.5, true), 4);
  EXPECT_EQ(ScaledLimit(1, 1.5, true), 1);
  EXPECT_EQ(ScaledLimit(10, 0.99, true), 9);
  EXPECT_EQ(ScaledLimit(3, 0.3, true), 0);
}

TEST(ScaledLimitTest, ExactProductsSurviveFloatingPointError) {
  // In double, 45 * 1.4 == 62.99999999999999 and 25 * 1.16 == 28.999999999999996.
  EXPECT_EQ(ScaledLimit(45, 1.4, true), 63);
  EXPECT_EQ(ScaledLimit(25, 1.16, true), 29);
  EXPECT_EQ(ScaledLimit(50, 2.28, true), 114);
  EXPECT_EQ(ScaledLimit(10, 0.7, true), 7);
}

TEST(ScaledLimitTest, SaturatesAtIntMax) {
  EXPECT_EQ(ScaledLimit(kIntMax, 1.5, true), kIntMax);
  EXPECT_EQ(ScaledLimit(kIntMax / 2 + 1, 2.0, true), kIntMax);
  EXPECT_EQ(ScaledLimit(kIntMax, 1.0, true), kIntMax);
  EXPECT_EQ(ScaledLimit(2, std::numeric_limits<double>::infinity(), true), kIntMax);
  EXPECT_EQ(ScaledLimit(kIntMax, 1.5, false), kIntMax);
}

TEST(ScaledLimitTest, NeverNegative) {
  EXPECT_EQ(ScaledLimit(-5, 1.5, true), 0);
  EXPECT_EQ(ScaledLimit(-5, 1.5, false), 0);
  EXPECT_EQ(ScaledLimit(10, -1.5, true), 0);
  EXPECT_EQ(ScaledLimit(10, 0.0, true), 0);
  EXPECT_EQ(ScaledLimit(0, 1.5, true), 0);
  EXPECT_EQ(ScaledLimit(0, std::numeric_limits<double>::infinity(), true), 0);
}

TEST(ScaledLimitTest, NanMultiplierLeavesTheBase) {
  EXPECT_EQ(ScaledLimit(10, std::numeric_limits<double>::quiet_NaN(), true), 10);
}

TEST(AdmissibleCountTest, TakesTheSmallestBound) {
  EXPECT_EQ(AdmissibleCount(1, 1, 10, 0), 1);
  EXPECT_EQ(AdmissibleCount(5, 3, 10, 0), 3);  // worker capacity
  EXPECT_EQ(AdmissibleCount(5, 8, 10, 7), 3);  // limit headroom
  EXPECT_EQ(AdmissibleCount(2, 8, 10, 7), 2);  // request
  EXPECT_EQ(AdmissibleCount(10, 10, 15, 0), 10);
}

TEST(AdmissibleCountTest, FullLimitAdmitsNothing) {
  EXPECT_EQ(AdmissibleCount(5, 5, 10, 10), 0);
  EXPECT_EQ(AdmissibleCount(5, 5, 0, 0), 0);
}

TEST(AdmissibleCountTest, RunningAboveLoweredLimitAdmitsNothing) {
  // An admin lowered the limit from 15 to 10 while 14 renders were running.
  EXPECT_EQ(AdmissibleCount(5, 5, 10, 14), 0);
  EXPECT_EQ(AdmissibleCount(5, 5, 10, kInt64Max), 0);
  EXPECT_EQ(AdmissibleCount(5, 5, -3, 0), 0);
  EXPECT_EQ(AdmissibleCount(5, 5, std::numeric_limits<int>::min(), kInt64Max), 0);
}

TEST(AdmissibleCountTest, NonPositiveRequestOrCapacityAdmitsNothing) {
  EXPECT_EQ(AdmissibleCount(0, 5, 10, 0), 0);
  EXPECT_EQ(AdmissibleCount(-1, 5, 10, 0), 0);
  EXPECT_EQ(AdmissibleCount(5, 0, 10, 0), 0);
  EXPECT_EQ(AdmissibleCount(5, -2, 10, 0), 0);
}

TEST(AdmissibleCountTest, NegativeRunningCountsAsZero) {
  EXPECT_EQ(AdmissibleCount(20, 20, 10, -5), 10);
  EXPECT_EQ(AdmissibleCount(20, 20, 10, std::numeric_limits<std::int64_t>::min()), 10);
}

TEST(AdmissibleCountTest, HugeValues) {
  EXPECT_EQ(AdmissibleCount(kIntMax, kIntMax, kIntMax, 0), kIntMax);
  EXPECT_EQ(AdmissibleCount(kIntMax, kIntMax, kIntMax, 1), kIntMax - 1);
}

}  // namespace
}  // namespace queue::policy

TEST(FairShareTest, FullCapacityWhileTheLimitCoversEveryone) {
  EXPECT_EQ(queue::policy::FairShare(10, 4, 10), 4);
  EXPECT_EQ(queue::policy::FairShare(10, 4, 6), 4);
}

TEST(FairShareTest, ProportionalShareWhenWorkersOutnumberTheLimit) {
  // Two workers of 4 slots share a limit of 4: two each.
  EXPECT_EQ(queue::policy::FairShare(4, 4, 8), 2);
  // Capacities 2 and 6 share a limit of 4: 1 and 3.
  EXPECT_EQ(queue::policy::FairShare(4, 2, 8), 1);
  EXPECT_EQ(queue::policy::FairShare(4, 6, 8), 3);
  // Rounded up, never above the capacity, at least one.
  EXPECT_EQ(queue::policy::FairShare(10, 3, 7 + 3), 3);
  EXPECT_EQ(queue::policy::FairShare(1, 1, 100), 1);
  EXPECT_EQ(queue::policy::FairShare(0, 5, 100), 1);
}

TEST(FairShareTest, NoCapacityNoShare) { EXPECT_EQ(queue::policy::FairShare(10, 0, 10), 0); }

TEST(WorkerAllowanceTest, BurstsToCapacityWhileNobodyElseWaits) {
  // Capacity 2 beside an idle neighbour of 100 under a limit of 10: share 1, allowance 2.
  EXPECT_EQ(queue::policy::FairShare(10, 2, 102), 1);
  EXPECT_EQ(queue::policy::WorkerAllowance(10, 2, 102, false), 2);
  EXPECT_EQ(queue::policy::WorkerAllowance(10, 100, 102, false), 100);
}

TEST(WorkerAllowanceTest, HoldsToTheShareWhileAnotherWorkerWaits) {
  EXPECT_EQ(queue::policy::WorkerAllowance(10, 2, 102, true), 1);
  EXPECT_EQ(queue::policy::WorkerAllowance(10, 100, 102, true), 10);
  EXPECT_EQ(queue::policy::WorkerAllowance(6, 10, 12, true), 5);
}

TEST(WorkerAllowanceTest, NeverNegative) {
  EXPECT_EQ(queue::policy::WorkerAllowance(10, 0, 5, false), 0);
  EXPECT_EQ(queue::policy::WorkerAllowance(10, -3, 5, true), 0);
}
