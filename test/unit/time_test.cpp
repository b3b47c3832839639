// Unit tests for queue/policy/time.hpp: clock times, wrapping and rounding.
#include "queue/policy/time.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace queue::policy {
namespace {

constexpr Micros kMax = std::numeric_limits<Micros>::max();
constexpr Micros kMin = std::numeric_limits<Micros>::min();

TEST(ClockTimeTest, BuildsMicrosSinceMidnight) {
  EXPECT_EQ(ClockTime(0), 0);
  EXPECT_EQ(ClockTime(6), 6 * 3600 * kMicrosPerSecond);
  EXPECT_EQ(ClockTime(23, 59, 59), kMicrosPerDay - kMicrosPerSecond);
  EXPECT_EQ(ClockTime(24), kMicrosPerDay);
  static_assert(ClockTime(1, 30) == 90 * kMicrosPerMinute);
}

TEST(WrapTimeOfDayTest, WrapsIntoOneDay) {
  EXPECT_EQ(WrapTimeOfDay(0), 0);
  EXPECT_EQ(WrapTimeOfDay(ClockTime(13)), ClockTime(13));
  EXPECT_EQ(WrapTimeOfDay(kMicrosPerDay), 0);
  EXPECT_EQ(WrapTimeOfDay(kMicrosPerDay + ClockTime(2)), ClockTime(2));
  EXPECT_EQ(WrapTimeOfDay(-1), kMicrosPerDay - 1);
  EXPECT_EQ(WrapTimeOfDay(-kMicrosPerDay), 0);
  EXPECT_GE(WrapTimeOfDay(kMin), 0);
  EXPECT_LT(WrapTimeOfDay(kMax), kMicrosPerDay);
}

TEST(RoundToMicrosTest, RoundsToNearest) {
  EXPECT_EQ(RoundToMicros(0.0), 0);
  EXPECT_EQ(RoundToMicros(1.4), 1);
  EXPECT_EQ(RoundToMicros(1.6), 2);
  EXPECT_EQ(RoundToMicros(-1.6), -2);
  EXPECT_EQ(RoundToMicros(3e11), 300000000000);
}

TEST(RoundToMicrosTest, Saturates) {
  EXPECT_EQ(RoundToMicros(9.3e18), kMax);
  EXPECT_EQ(RoundToMicros(9223372036854775808.0), kMax);
  EXPECT_EQ(RoundToMicros(HUGE_VAL), kMax);
  EXPECT_EQ(RoundToMicros(-HUGE_VAL), kMin);
  EXPECT_EQ(RoundToMicros(std::nan("")), 0);
}

}  // namespace
}  // namespace queue::policy
