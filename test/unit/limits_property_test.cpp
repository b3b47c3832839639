// Property tests of queue/policy/limits.hpp over random and extreme inputs: scaled limits
// are monotone, bounded and exact for the multipliers admins type; the claim budget is
// the minimum of its bounds; fair shares stay within capacity and near the limit.
//
// The seed is fixed so a run is reproducible; set QUEUE_PROPERTY_SEED to explore others.
#include "queue/policy/limits.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace queue::policy {
namespace {

constexpr int kIterations = 200000;
constexpr int kIntMax = std::numeric_limits<int>::max();
constexpr int kIntMin = std::numeric_limits<int>::min();
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();

std::uint64_t Seed() {
  const char* text = std::getenv("QUEUE_PROPERTY_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 20261129;
}

// Any int, biased towards the extremes and small values.
int RandomInt(std::mt19937_64& rng) {
  static const int kEdges[] = {kIntMin, kIntMin + 1, -1, 0, 1, 2, 100000, kIntMax - 1, kIntMax};
  switch (rng() % 4) {
    case 0:
      return kEdges[rng() % (sizeof kEdges / sizeof kEdges[0])];
    case 1:
      return static_cast<int>(rng() % 200) - 50;
    default:
      return static_cast<int>(static_cast<std::uint32_t>(rng()));
  }
}

std::int64_t RandomInt64(std::mt19937_64& rng) {
  static const std::int64_t kEdges[] = {kInt64Min, -1, 0, 1, kIntMax, std::int64_t{kIntMax} + 1,
                                        kInt64Max};
  switch (rng() % 4) {
    case 0:
      return kEdges[rng() % (sizeof kEdges / sizeof kEdges[0])];
    case 1:
      return static_cast<std::int64_t>(rng() % 200) - 50;
    default:
      return static_cast<std::int64_t>(rng());
  }
}

// A multiplier, including the ones PostgreSQL's double precision column can hold.
double RandomMultiplier(std::mt19937_64& rng) {
  static const double kEdges[] = {0.0,
                                  -0.0,
                                  -1.0,
                                  1.0,
                                  1.5,
                                  100.0,
                                  1e-300,
                                  std::numeric_limits<double>::denorm_min(),
                                  1e300,
                                  std::numeric_limits<double>::max(),
                                  std::numeric_limits<double>::infinity(),
                                  -std::numeric_limits<double>::infinity(),
                                  std::numeric_limits<double>::quiet_NaN()};
  switch (rng() % 4) {
    case 0:
      return kEdges[rng() % (sizeof kEdges / sizeof kEdges[0])];
    case 1:
      return static_cast<double>(rng() % 10001) / 100.0;  // what admins type: 0.00 .. 100.00
    default:
      return std::uniform_real_distribution<double>(0.0, 100.0)(rng);
  }
}

TEST(ScaledLimitPropertyTest, IsBoundedAndMonotoneInTheMultiplier) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    const int base = RandomInt(rng);
    double low = RandomMultiplier(rng);
    double high = RandomMultiplier(rng);
    if (std::isnan(low) || std::isnan(high)) {
      // NaN counts as 1.
      ASSERT_EQ(ScaledLimit(base, std::numeric_limits<double>::quiet_NaN(), true),
                std::max(base, 0));
      continue;
    }
    if (low > high) std::swap(low, high);
    const int scaled_low = ScaledLimit(base, low, true);
    const int scaled_high = ScaledLimit(base, high, true);
    ASSERT_GE(scaled_low, 0) << "base " << base << " multiplier " << low;
    ASSERT_LE(scaled_low, scaled_high)
        << "base " << base << " multipliers " << low << " <= " << high;
    // Without scaling the base itself (never negative).
    ASSERT_EQ(ScaledLimit(base, low, false), std::max(base, 0)) << base;
    // Scaling up never lowers a limit; a non-positive multiplier closes it.
    if (low >= 1.0) {
      ASSERT_GE(scaled_low, std::max(base, 0)) << base << " x " << low;
    }
    if (low <= 0.0) {
      ASSERT_EQ(scaled_low, 0) << base << " x " << low;
    }
  }
}

TEST(ScaledLimitPropertyTest, IsMonotoneInTheBase) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    int low = RandomInt(rng);
    int high = RandomInt(rng);
    if (low > high) std::swap(low, high);
    const double multiplier = RandomMultiplier(rng);
    ASSERT_LE(ScaledLimit(low, multiplier, true), ScaledLimit(high, multiplier, true))
        << "bases " << low << " <= " << high << " multiplier " << multiplier;
  }
}

TEST(ScaledLimitPropertyTest, IsTheExactFloorForDecimalMultipliers) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  // queue.settings.max_concurrent and resources.max_concurrent go up to 100000, the
  // multiplier up to 100 with the two decimals an admin types.
  for (int i = 0; i < kIterations; i++) {
    const std::int64_t base = static_cast<std::int64_t>(rng() % 100001);
    const std::int64_t hundredths = static_cast<std::int64_t>(rng() % 10000) + 1;
    const double multiplier = static_cast<double>(hundredths) / 100.0;
    ASSERT_EQ(ScaledLimit(static_cast<int>(base), multiplier, true), base * hundredths / 100)
        << "base " << base << " multiplier " << multiplier;
  }
}

TEST(ScaledLimitPropertyTest, StaysCloseToTheRealProduct) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    const int base = RandomInt(rng);
    const double multiplier = RandomMultiplier(rng);
    if (std::isnan(multiplier) || multiplier <= 0.0 || base <= 0) continue;
    const long double product = static_cast<long double>(base) * multiplier;
    const int scaled = ScaledLimit(base, multiplier, true);
    if (product >= kIntMax) {
      ASSERT_EQ(scaled, kIntMax) << base << " x " << multiplier;
    } else {
      // floor(product), or the integer just above when within the relative tolerance.
      ASSERT_LE(static_cast<long double>(scaled), std::ceil(product * (1 + 1e-12L)))
          << base << " x " << multiplier;
      ASSERT_GE(static_cast<long double>(scaled), std::floor(product) - 1)
          << base << " x " << multiplier;
    }
  }
}

TEST(AdmissibleCountPropertyTest, IsTheSmallestBoundNeverNegative) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    const int requested = RandomInt(rng);
    const int worker_free = RandomInt(rng);
    const int limit = RandomInt(rng);
    const std::int64_t running = RandomInt64(rng);
    const __int128 busy = std::max<std::int64_t>(running, 0);
    const __int128 expected =
        std::max<__int128>(0, std::min<__int128>({requested, worker_free, limit - busy}));
    ASSERT_EQ(AdmissibleCount(requested, worker_free, limit, running),
              static_cast<std::int64_t>(expected))
        << "requested " << requested << " free " << worker_free << " limit " << limit << " running "
        << running;
  }
}

TEST(FairSharePropertyTest, SharesStayWithinCapacityAndNearTheLimit) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations / 10; i++) {
    // Within the configuration's bounds: limits up to 100000 x 100, capacities 1..10000.
    const int limit = static_cast<int>(rng() % 10000001);
    std::vector<int> capacities(1 + rng() % 20);
    std::int64_t live = 0;
    for (int& capacity : capacities) {
      capacity = rng() % 3 == 0 ? 10000 : static_cast<int>(1 + rng() % 10000);
      live += capacity;
    }
    std::int64_t total = 0;
    for (int capacity : capacities) {
      const int share = FairShare(limit, capacity, live);
      ASSERT_GE(share, live <= limit ? capacity : 1) << limit << " " << capacity << " " << live;
      ASSERT_LE(share, capacity) << limit << " " << capacity << " " << live;
      // Never less than the exact proportional share.
      if (live > limit) {
        ASSERT_GE(static_cast<long double>(share),
                  static_cast<long double>(limit) * capacity / live)
            << limit << " " << capacity << " " << live;
      }
      total += share;
    }
    // Rounded up, each share exceeds its exact part by less than one slot; the global
    // limit is enforced separately by the shared counter.
    if (live > limit) {
      ASSERT_LE(total, std::max<std::int64_t>(limit, 0) + std::int64_t(capacities.size()) - 1 +
                           // shares are at least 1, even when the limit is 0
                           (limit == 0 ? 1 : 0))
          << "limit " << limit << " workers " << capacities.size();
    } else {
      ASSERT_EQ(total, live);
    }
  }
}

TEST(FairSharePropertyTest, IsMonotoneAndBoundedForAnyInput) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    int limit_low = RandomInt(rng);
    int limit_high = RandomInt(rng);
    if (limit_low > limit_high) std::swap(limit_low, limit_high);
    const int capacity = RandomInt(rng);
    const std::int64_t live = RandomInt64(rng);
    const int low = FairShare(limit_low, capacity, live);
    const int high = FairShare(limit_high, capacity, live);
    ASSERT_GE(low, 0) << limit_low << " " << capacity << " " << live;
    ASSERT_LE(low, std::max(capacity, 0)) << limit_low << " " << capacity << " " << live;
    ASSERT_LE(low, high) << "limits " << limit_low << " <= " << limit_high << " capacity "
                         << capacity << " live " << live;
  }
}

// FairShare runs inside a server process: a division by zero there is a SIGFPE, and the
// postmaster restarts every backend. No input may reach it.
TEST(FairSharePropertyTest, NoInputDividesByZero) {
  for (int limit : {kIntMin, -1, 0, 1}) {
    for (std::int64_t live : {kInt64Min, std::int64_t{-1}, std::int64_t{0}, std::int64_t{1}}) {
      const int share = FairShare(limit, 1, live);
      EXPECT_GE(share, 0) << "limit " << limit << " live " << live;
      EXPECT_LE(share, 1) << "limit " << limit << " live " << live;
    }
  }
}

}  // namespace
}  // namespace queue::policy
