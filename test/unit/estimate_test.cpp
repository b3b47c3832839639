// Unit tests for queue/policy/estimate.hpp: the run-time moving average and the
// wait estimate shown to end users.
#include "queue/policy/estimate.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace queue::policy {
namespace {

constexpr Micros kMax = std::numeric_limits<Micros>::max();
constexpr Micros kSecond = kMicrosPerSecond;
constexpr Micros kMinute = 60 * kMicrosPerSecond;

TEST(AddSampleTest, FirstSampleIsTakenAsIs) {
  const RunTimeAverage average = AddSample(RunTimeAverage{}, 90 * kMicrosPerSecond);
  EXPECT_EQ(average.mean, 90 * kMicrosPerSecond);
  EXPECT_EQ(average.samples, 1);
}

TEST(AddSampleTest, LaterSamplesWeighOneFifth) {
  RunTimeAverage average = AddSample(RunTimeAverage{}, 100 * kMicrosPerSecond);
  average = AddSample(average, 200 * kMicrosPerSecond);
  EXPECT_EQ(average.mean, 120 * kMicrosPerSecond);  // 100 + 0.2 * (200 - 100)
  EXPECT_EQ(average.samples, 2);
  average = AddSample(average, 20 * kMicrosPerSecond);
  EXPECT_EQ(average.mean, 100 * kMicrosPerSecond);  // 120 + 0.2 * (20 - 120)
  EXPECT_EQ(average.samples, 3);
}

TEST(AddSampleTest, ConvergesToAConstantRunTime) {
  RunTimeAverage average = AddSample(RunTimeAverage{}, 10 * kMinute);
  for (int i = 0; i < 100; ++i) average = AddSample(average, 2 * kMinute);
  EXPECT_EQ(average.mean, 2 * kMinute);
  EXPECT_EQ(average.samples, 101);
}

TEST(AddSampleTest, StepsRoundAwayFromZero) {
  EXPECT_EQ(AddSample(RunTimeAverage{10, 1}, 13).mean, 11);  // step 0.6 -> 1
  EXPECT_EQ(AddSample(RunTimeAverage{10, 1}, 11).mean, 11);  // step 0.2 -> 1
  EXPECT_EQ(AddSample(RunTimeAverage{10, 1}, 9).mean, 9);    // step -0.2 -> -1
  EXPECT_EQ(AddSample(RunTimeAverage{10, 1}, 10).mean, 10);
  EXPECT_EQ(AddSample(RunTimeAverage{10, 1}, 0).mean, 8);  // step -2 exactly
}

TEST(AddSampleTest, NegativeObservationCountsAsZero) {
  RunTimeAverage average = AddSample(RunTimeAverage{}, -5);
  EXPECT_EQ(average.mean, 0);
  average = AddSample(RunTimeAverage{100, 4}, -1000);
  EXPECT_EQ(average.mean, 80);
  average = AddSample(RunTimeAverage{-100, 4}, 100);  // a negative mean counts as 0
  EXPECT_EQ(average.mean, 20);
}

TEST(AddSampleTest, ExtremeValuesDoNotOverflow) {
  RunTimeAverage average = AddSample(RunTimeAverage{0, 1}, kMax);
  EXPECT_GT(average.mean, 0);
  average = AddSample(RunTimeAverage{kMax, 1}, kMax);
  EXPECT_EQ(average.mean, kMax);
  average = AddSample(RunTimeAverage{kMax, 1}, 0);
  EXPECT_GT(average.mean, 0);
  average = AddSample(RunTimeAverage{5, std::numeric_limits<std::int64_t>::max()}, 5);
  EXPECT_EQ(average.samples, std::numeric_limits<std::int64_t>::max());
}

TEST(EstimateWaitTest, FreeSlotMeansNoWait) {
  EXPECT_EQ(EstimateWait({1, 10, 0, kMinute}), 0);
  EXPECT_EQ(EstimateWait({10, 10, 0, kMinute}), 0);
  EXPECT_EQ(EstimateWait({3, 10, 7, kMinute}), 0);
}

TEST(EstimateWaitTest, WaitsInWavesOfSlots) {
  // 10 slots, 7 running: 3 free. Positions 4..13 wait one wave, 14..23 two.
  EXPECT_EQ(EstimateWait({4, 10, 7, kMinute}), kMinute);
  EXPECT_EQ(EstimateWait({13, 10, 7, kMinute}), kMinute);
  EXPECT_EQ(EstimateWait({14, 10, 7, kMinute}), 2 * kMinute);
  EXPECT_EQ(EstimateWait({23, 10, 7, kMinute}), 2 * kMinute);
  EXPECT_EQ(EstimateWait({24, 10, 7, kMinute}), 3 * kMinute);
}

TEST(EstimateWaitTest, ExactMultiplesOfSlots) {
  // All 4 manim slots busy: positions 1..4 start after one render, 5..8 after two.
  EXPECT_EQ(EstimateWait({1, 4, 4, 3 * kMinute}), 3 * kMinute);
  EXPECT_EQ(EstimateWait({4, 4, 4, 3 * kMinute}), 3 * kMinute);
  EXPECT_EQ(EstimateWait({5, 4, 4, 3 * kMinute}), 6 * kMinute);
  EXPECT_EQ(EstimateWait({8, 4, 4, 3 * kMinute}), 6 * kMinute);
  EXPECT_EQ(EstimateWait({9, 4, 4, 3 * kMinute}), 9 * kMinute);
}

TEST(EstimateWaitTest, RunningAboveSlotsMeansNoFreeSlot) {
  // Slots were lowered below what is running: nothing is free.
  EXPECT_EQ(EstimateWait({1, 4, 6, kMinute}), kMinute);
  EXPECT_EQ(EstimateWait({5, 4, 6, kMinute}), 2 * kMinute);
}

TEST(EstimateWaitTest, RunningRendersFreeTheirSlotsAsTheyEnd) {
  // 4 slots, all busy, ending in 10, 20, 30 and 40 s; each job ahead takes a minute.
  const std::vector<Micros> left = {30 * kSecond, 10 * kSecond, 40 * kSecond, 20 * kSecond};
  EXPECT_EQ(EstimateWait({1, 4, 0, kMinute, left}), 10 * kSecond);
  EXPECT_EQ(EstimateWait({4, 4, 0, kMinute, left}), 40 * kSecond);
  // The fifth waits for the first slot's second job to end.
  EXPECT_EQ(EstimateWait({5, 4, 0, kMinute, left}), 70 * kSecond);
  EXPECT_EQ(EstimateWait({9, 4, 0, kMinute, left}), 130 * kSecond);
}

TEST(EstimateWaitTest, AFastSlotServesSeveralJobsBeforeASlowOneFrees) {
  // One slot frees in 1 s, the other only in 10 min: jobs of 2 s queue on the first.
  const std::vector<Micros> left = {kSecond, 10 * kMinute};
  EXPECT_EQ(EstimateWait({1, 2, 0, 2 * kSecond, left}), kSecond);
  EXPECT_EQ(EstimateWait({2, 2, 0, 2 * kSecond, left}), 3 * kSecond);
  EXPECT_EQ(EstimateWait({4, 2, 0, 2 * kSecond, left}), 7 * kSecond);
}

TEST(EstimateWaitTest, IdleSlotsAndOverdueRendersAreFreeNow) {
  // 3 slots, one render 5 s from its end, one past its expected end: one idle, one free now.
  const std::vector<Micros> left = {5 * kSecond, -2 * kSecond};
  EXPECT_EQ(EstimateWait({1, 3, 0, kMinute, left}), 0);
  EXPECT_EQ(EstimateWait({2, 3, 0, kMinute, left}), 0);
  EXPECT_EQ(EstimateWait({3, 3, 0, kMinute, left}), 5 * kSecond);
  EXPECT_EQ(EstimateWait({4, 3, 0, kMinute, left}), kMinute);
}

TEST(EstimateWaitTest, MoreRendersThanSlotsFreeOnlyTheLastSlots) {
  // The limit was lowered to 2 below 4 running renders: a slot frees at the 3rd and 4th end.
  const std::vector<Micros> left = {kSecond, 2 * kSecond, 3 * kSecond, 4 * kSecond};
  EXPECT_EQ(EstimateWait({1, 2, 0, kMinute, left}), 3 * kSecond);
  EXPECT_EQ(EstimateWait({2, 2, 0, kMinute, left}), 4 * kSecond);
  EXPECT_EQ(EstimateWait({3, 2, 0, kMinute, left}), 63 * kSecond);
}

TEST(ExpectedTimeLeftTest, FollowsTheSpreadAroundTheMean) {
  EXPECT_EQ(ExpectedTimeLeft(4 * kSecond, 0), 4 * kSecond);
  EXPECT_EQ(ExpectedTimeLeft(4 * kSecond, kSecond), 3 * kSecond);
  EXPECT_EQ(ExpectedTimeLeft(4 * kSecond, 2 * kSecond), 2 * kSecond);  // both rules meet
  EXPECT_EQ(ExpectedTimeLeft(4 * kSecond, 4 * kSecond), kSecond);      // past the mean: not 0
  EXPECT_EQ(ExpectedTimeLeft(4 * kSecond, 5 * kSecond), kSecond / 2);
  EXPECT_EQ(ExpectedTimeLeft(4 * kSecond, 6 * kSecond), 0);
  EXPECT_EQ(ExpectedTimeLeft(4 * kSecond, kMinute), 0);
  EXPECT_EQ(ExpectedTimeLeft(-kSecond, kSecond), 0);
  EXPECT_EQ(ExpectedTimeLeft(2 * kSecond, -kSecond), 2 * kSecond);
  EXPECT_EQ(ExpectedTimeLeft(kMax, kMax), 0);
}

TEST(EstimateWaitTest, NoSlotsMeansNoEstimate) {
  EXPECT_EQ(EstimateWait({1, 0, 0, kMinute}), std::nullopt);
  EXPECT_EQ(EstimateWait({5, 0, 3, kMinute}), std::nullopt);
  EXPECT_EQ(EstimateWait({5, -1, 0, kMinute}), std::nullopt);
}

TEST(EstimateWaitTest, OutOfRangeInputs) {
  EXPECT_EQ(EstimateWait({0, 1, 1, kMinute}), kMinute);  // position counts as 1
  EXPECT_EQ(EstimateWait({-3, 1, 0, kMinute}), 0);
  EXPECT_EQ(EstimateWait({2, 1, -5, kMinute}), kMinute);  // running counts as 0
  EXPECT_EQ(EstimateWait({5, 1, 1, -kMinute}), 0);        // duration counts as 0
  EXPECT_EQ(EstimateWait({5, 1, 1, 0}), 0);
}

TEST(EstimateWaitTest, Saturates) {
  const std::int64_t far = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(EstimateWait({far, 1, 1, kMinute}), kMax);
  EXPECT_EQ(EstimateWait({2, 1, 1, kMax}), kMax);
  EXPECT_EQ(EstimateWait({1, 1, 1, kMax}), kMax);
  EXPECT_EQ(EstimateWait({far, std::numeric_limits<int>::max(), 0, 1}),
            (far - std::numeric_limits<int>::max() - 1) / std::numeric_limits<int>::max() + 1);
}

}  // namespace
}  // namespace queue::policy
