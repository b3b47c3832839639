// Property tests of queue/policy/estimate.hpp over random and extreme inputs: a wait never
// shrinks further back in line, with more renders running or with longer renders, is never
// negative and saturates instead of overflowing; the run-time average moves towards each
// sample and settles on a constant one.
//
// The seed is fixed so a run is reproducible; set QUEUE_PROPERTY_SEED to explore others.
#include "queue/policy/estimate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>

namespace queue::policy {
namespace {

constexpr int kIterations = 200000;
constexpr int kIntMax = std::numeric_limits<int>::max();
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();

std::uint64_t Seed() {
  const char* text = std::getenv("QUEUE_PROPERTY_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 20261129;
}

std::string Describe(const WaitInput& input) {
  return "{position " + std::to_string(input.position) + ", slots " + std::to_string(input.slots) +
         ", running " + std::to_string(input.running) + ", mean_duration " +
         std::to_string(input.mean_duration) + "}";
}

std::int64_t RandomInt64(std::mt19937_64& rng) {
  static const std::int64_t kEdges[] = {kInt64Min, kInt64Min + 1, -1,       0, 1, 2,
                                        kIntMax,   kInt64Max - 1, kInt64Max};
  switch (rng() % 4) {
    case 0:
      return kEdges[rng() % (sizeof kEdges / sizeof kEdges[0])];
    case 1:
      return static_cast<std::int64_t>(rng() % 2000) - 100;
    case 2:
      return static_cast<std::int64_t>(rng() % (1ULL << 40));
    default:
      return static_cast<std::int64_t>(rng());
  }
}

int RandomSlots(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0:
      return static_cast<int>(rng() % 3) - 1;  // -1, 0, 1
    case 1:
      return kIntMax - static_cast<int>(rng() % 2);
    default:
      return static_cast<int>(rng() % 10000001);  // up to 100000 x 100
  }
}

WaitInput RandomWaitInput(std::mt19937_64& rng) {
  return WaitInput{RandomInt64(rng), RandomSlots(rng), RandomInt64(rng), RandomInt64(rng)};
}

// The documented formula, in 128-bit arithmetic, saturated to int64.
std::optional<Micros> ExpectedWait(const WaitInput& input) {
  if (input.slots <= 0) return std::nullopt;
  const __int128 position = std::max<std::int64_t>(input.position, 1);
  const __int128 running = std::max<std::int64_t>(input.running, 0);
  const __int128 free_slots = std::max<__int128>(input.slots - running, 0);
  if (position <= free_slots) return 0;
  const __int128 waves = (position - free_slots + input.slots - 1) / input.slots;
  const __int128 wait = waves * std::max<std::int64_t>(input.mean_duration, 0);
  return static_cast<Micros>(std::min<__int128>(wait, kInt64Max));
}

TEST(EstimateWaitPropertyTest, MatchesTheDocumentedFormulaWithoutOverflow) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    const WaitInput input = RandomWaitInput(rng);
    const std::optional<Micros> wait = EstimateWait(input);
    ASSERT_EQ(wait, ExpectedWait(input)) << Describe(input);
    if (wait) {
      ASSERT_GE(*wait, 0) << Describe(input);
    }
  }
}

TEST(EstimateWaitPropertyTest, NeverShrinksFurtherBackOrWithMoreWork) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    const WaitInput input = RandomWaitInput(rng);
    if (input.slots <= 0) continue;
    const Micros wait = EstimateWait(input).value();

    WaitInput further = input;
    further.position = std::max(input.position, RandomInt64(rng));
    ASSERT_LE(wait, EstimateWait(further).value())
        << Describe(input) << " then position " << further.position;

    WaitInput busier = input;
    busier.running = std::max(input.running, RandomInt64(rng));
    ASSERT_LE(wait, EstimateWait(busier).value())
        << Describe(input) << " then running " << busier.running;

    WaitInput slower = input;
    slower.mean_duration = std::max(input.mean_duration, RandomInt64(rng));
    ASSERT_LE(wait, EstimateWait(slower).value())
        << Describe(input) << " then mean_duration " << slower.mean_duration;

    WaitInput wider = input;
    wider.slots = std::max(input.slots, RandomSlots(rng));
    ASSERT_GE(wait, EstimateWait(wider).value())
        << Describe(input) << " then slots " << wider.slots;
  }
}

TEST(EstimateWaitPropertyTest, KnownTimesLeftRefineTheWaveFormula) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations / 20; i++) {
    WaitInput input{static_cast<std::int64_t>(rng() % 500) + 1, static_cast<int>(rng() % 20) + 1,
                    static_cast<std::int64_t>(rng() % 25), static_cast<Micros>(rng() % 3600000000)};
    // Every running render with a whole duration left is what the count alone says.
    WaitInput listed = input;
    listed.running_left.assign(static_cast<size_t>(input.running), input.mean_duration);
    if (!listed.running_left.empty()) {
      ASSERT_EQ(EstimateWait(listed), EstimateWait(input)) << Describe(input);
    }
    // A render further from its end never brings a start closer; none waits past the
    // slowest slot plus a duration per job ahead.
    listed.running_left.clear();
    for (std::int64_t r = 0; r < input.running; r++)
      listed.running_left.push_back(static_cast<Micros>(rng() % 7200000000));
    if (listed.running_left.empty()) continue;
    const Micros wait = EstimateWait(listed).value();
    Micros slowest = 0;
    for (Micros left : listed.running_left) slowest = std::max(slowest, left);
    ASSERT_LE(wait, slowest + input.position * input.mean_duration) << Describe(input);
    WaitInput later = listed;
    later.running_left[rng() % later.running_left.size()] += static_cast<Micros>(rng() % 600000000);
    ASSERT_LE(wait, EstimateWait(later).value()) << Describe(input);
  }
}

TEST(ExpectedTimeLeftPropertyTest, NeverNegativeNeverAboveTheMeanAndShrinking) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    const Micros mean = RandomInt64(rng);
    const Micros elapsed = RandomInt64(rng);
    const Micros left = ExpectedTimeLeft(mean, elapsed);
    ASSERT_GE(left, 0) << mean << " " << elapsed;
    ASSERT_LE(left, std::max<Micros>(mean, 0)) << mean << " " << elapsed;
    const Micros later = std::max(elapsed, RandomInt64(rng));
    ASSERT_LE(ExpectedTimeLeft(mean, later), left) << mean << " " << elapsed << " " << later;
  }
}

TEST(EstimateWaitPropertyTest, HugeQueuesSaturateInsteadOfWrapping) {
  for (Micros duration : {Micros{1}, kMicrosPerHour, kInt64Max / 2, kInt64Max}) {
    const std::optional<Micros> wait = EstimateWait({kInt64Max, 1, kInt64Max, duration});
    ASSERT_TRUE(wait.has_value());
    EXPECT_EQ(*wait, kInt64Max) << duration;
  }
  // Position 2 behind one busy slot: one wave.
  EXPECT_EQ(EstimateWait({2, 1, 1, kInt64Max}), kInt64Max);
  EXPECT_EQ(EstimateWait({1, 1, kInt64Min, kInt64Max}), 0);
}

TEST(RunTimeAveragePropertyTest, MovesTowardsEachSampleAndNeverPastIt) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    const RunTimeAverage before{RandomInt64(rng), RandomInt64(rng)};
    const Micros observed = RandomInt64(rng);
    const RunTimeAverage after = AddSample(before, observed);
    const Micros sample = std::max<Micros>(observed, 0);
    const std::string inputs = "mean " + std::to_string(before.mean) + " samples " +
                               std::to_string(before.samples) + " observed " +
                               std::to_string(observed);
    ASSERT_GE(after.mean, 0) << inputs;
    ASSERT_GE(after.samples, 1) << inputs;
    if (before.samples <= 0) {
      ASSERT_EQ(after.mean, sample) << inputs;
      ASSERT_EQ(after.samples, 1) << inputs;
      continue;
    }
    const Micros mean = std::max<Micros>(before.mean, 0);
    ASSERT_GE(after.mean, std::min(mean, sample)) << inputs;
    ASSERT_LE(after.mean, std::max(mean, sample)) << inputs;
    if (mean != sample) {
      ASSERT_NE(after.mean, mean) << "stalled: " << inputs;
    }
    ASSERT_EQ(after.samples, before.samples == kInt64Max ? kInt64Max : before.samples + 1)
        << inputs;
  }
}

TEST(RunTimeAveragePropertyTest, SettlesExactlyOnAConstantRunTime) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 2000; i++) {
    RunTimeAverage average{std::max<std::int64_t>(RandomInt64(rng), 0), 1};
    const Micros constant = std::max<std::int64_t>(RandomInt64(rng), 0);
    // Each step removes at least a fifth of the gap (and at least 1 us): from a gap
    // below 2^63 that takes fewer than 200 + 5 steps.
    int steps = 0;
    while (average.mean != constant && steps < 400) {
      average = AddSample(average, constant);
      steps++;
    }
    ASSERT_EQ(average.mean, constant) << "after " << steps << " samples";
    ASSERT_LE(steps, 205);
  }
}

}  // namespace
}  // namespace queue::policy
