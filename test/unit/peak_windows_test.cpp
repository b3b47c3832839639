// Unit tests for queue/policy/peak_windows.hpp: window membership (including windows
// across midnight), the seeded 06-09 and 20-23 windows, overlaps and validation.
#include "queue/policy/peak_windows.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace queue::policy {
namespace {

// The windows the extension seeds: 06:00-09:00 and 20:00-23:00 at 1.5x.
const std::vector<PeakWindow> kSeeded = {
    {ClockTime(6), ClockTime(9), 1.5},
    {ClockTime(20), ClockTime(23), 1.5},
};

TEST(InWindowTest, SameDayWindowIsHalfOpen) {
  const PeakWindow window{ClockTime(6), ClockTime(9), 1.5};
  EXPECT_FALSE(InWindow(window, ClockTime(5, 59, 59)));
  EXPECT_FALSE(InWindow(window, ClockTime(6) - 1));
  EXPECT_TRUE(InWindow(window, ClockTime(6)));
  EXPECT_TRUE(InWindow(window, ClockTime(7, 30)));
  EXPECT_TRUE(InWindow(window, ClockTime(9) - 1));
  EXPECT_FALSE(InWindow(window, ClockTime(9)));
  EXPECT_FALSE(InWindow(window, ClockTime(0)));
}

TEST(InWindowTest, WindowAcrossMidnight) {
  const PeakWindow window{ClockTime(22), ClockTime(2), 2.0};
  EXPECT_TRUE(InWindow(window, ClockTime(22)));
  EXPECT_TRUE(InWindow(window, ClockTime(23, 30)));
  EXPECT_TRUE(InWindow(window, ClockTime(23, 59, 59)));
  EXPECT_TRUE(InWindow(window, ClockTime(0)));
  EXPECT_TRUE(InWindow(window, ClockTime(0, 30)));
  EXPECT_TRUE(InWindow(window, ClockTime(2) - 1));
  EXPECT_FALSE(InWindow(window, ClockTime(2)));
  EXPECT_FALSE(InWindow(window, ClockTime(12)));
  EXPECT_FALSE(InWindow(window, ClockTime(21, 59)));
  EXPECT_FALSE(InWindow(window, ClockTime(22) - 1));
}

TEST(InWindowTest, WindowEndingAtMidnight) {
  const PeakWindow window{ClockTime(20), ClockTime(0), 1.5};
  EXPECT_TRUE(InWindow(window, ClockTime(20)));
  EXPECT_TRUE(InWindow(window, kMicrosPerDay - 1));
  EXPECT_FALSE(InWindow(window, ClockTime(0)));
  EXPECT_FALSE(InWindow(window, ClockTime(19, 59)));
}

TEST(InWindowTest, WindowStartingAtMidnight) {
  const PeakWindow window{ClockTime(0), ClockTime(3), 1.5};
  EXPECT_TRUE(InWindow(window, ClockTime(0)));
  EXPECT_TRUE(InWindow(window, ClockTime(2, 59)));
  EXPECT_FALSE(InWindow(window, ClockTime(3)));
  EXPECT_FALSE(InWindow(window, kMicrosPerDay - 1));
}

TEST(InWindowTest, TimeIsTakenModuloOneDay) {
  const PeakWindow window{ClockTime(6), ClockTime(9), 1.5};
  EXPECT_TRUE(InWindow(window, kMicrosPerDay + ClockTime(7)));
  EXPECT_TRUE(InWindow(window, ClockTime(7) - kMicrosPerDay));
  const PeakWindow night{ClockTime(22), ClockTime(2), 1.5};
  EXPECT_TRUE(InWindow(night, kMicrosPerDay));  // 24:00 is the next midnight
}

TEST(InWindowTest, EmptyWindowCoversNothing) {
  const PeakWindow window{ClockTime(6), ClockTime(6), 1.5};
  EXPECT_FALSE(InWindow(window, ClockTime(6)));
  EXPECT_FALSE(InWindow(window, ClockTime(7)));
}

TEST(SeededWindowsTest, EdgesAreStartInclusiveEndExclusive) {
  EXPECT_FALSE(IsPeak(kSeeded, ClockTime(5, 59, 59)));
  EXPECT_TRUE(IsPeak(kSeeded, ClockTime(6)));
  EXPECT_TRUE(IsPeak(kSeeded, ClockTime(8, 59, 59)));
  EXPECT_FALSE(IsPeak(kSeeded, ClockTime(9)));
  EXPECT_FALSE(IsPeak(kSeeded, ClockTime(14)));
  EXPECT_FALSE(IsPeak(kSeeded, ClockTime(19, 59, 59)));
  EXPECT_TRUE(IsPeak(kSeeded, ClockTime(20)));
  EXPECT_TRUE(IsPeak(kSeeded, ClockTime(22, 59, 59)));
  EXPECT_FALSE(IsPeak(kSeeded, ClockTime(23)));
  EXPECT_FALSE(IsPeak(kSeeded, ClockTime(0)));
}

TEST(SeededWindowsTest, MultiplierIsOneAndAHalfInsideAndOneOutside) {
  EXPECT_EQ(PeakMultiplier(kSeeded, ClockTime(6)), 1.5);
  EXPECT_EQ(PeakMultiplier(kSeeded, ClockTime(9)), 1.0);
  EXPECT_EQ(PeakMultiplier(kSeeded, ClockTime(21)), 1.5);
  EXPECT_EQ(PeakMultiplier(kSeeded, ClockTime(23)), 1.0);
  EXPECT_EQ(PeakMultiplier(kSeeded, ClockTime(3)), 1.0);
}

TEST(PeakMultiplierTest, AcrossMidnight) {
  const std::vector<PeakWindow> windows = {{ClockTime(22), ClockTime(2), 2.0}};
  EXPECT_EQ(PeakMultiplier(windows, ClockTime(23, 30)), 2.0);
  EXPECT_EQ(PeakMultiplier(windows, ClockTime(0, 30)), 2.0);
  EXPECT_EQ(PeakMultiplier(windows, ClockTime(2)), 1.0);
  EXPECT_EQ(PeakMultiplier(windows, ClockTime(21, 59)), 1.0);
  EXPECT_TRUE(IsPeak(windows, ClockTime(23, 30)));
  EXPECT_TRUE(IsPeak(windows, ClockTime(0, 30)));
  EXPECT_FALSE(IsPeak(windows, ClockTime(2)));
  EXPECT_FALSE(IsPeak(windows, ClockTime(21, 59)));
}

TEST(PeakMultiplierTest, OverlappingWindowsTakeTheMax) {
  const std::vector<PeakWindow> windows = {
      {ClockTime(6), ClockTime(9), 1.5},
      {ClockTime(8), ClockTime(10), 2.5},
      {ClockTime(7), ClockTime(12), 1.2},
  };
  EXPECT_EQ(PeakMultiplier(windows, ClockTime(6, 30)), 1.5);
  EXPECT_EQ(PeakMultiplier(windows, ClockTime(7, 30)), 1.5);
  EXPECT_EQ(PeakMultiplier(windows, ClockTime(8, 30)), 2.5);
  EXPECT_EQ(PeakMultiplier(windows, ClockTime(9, 30)), 2.5);
  EXPECT_EQ(PeakMultiplier(windows, ClockTime(11)), 1.2);
  EXPECT_EQ(PeakMultiplier(windows, ClockTime(12)), 1.0);
}

TEST(PeakMultiplierTest, WindowBelowOneStillApplies) {
  // A window may scale the farm down; the max is over covering windows only.
  const std::vector<PeakWindow> windows = {{ClockTime(1), ClockTime(5), 0.5}};
  EXPECT_EQ(PeakMultiplier(windows, ClockTime(2)), 0.5);
  EXPECT_TRUE(IsPeak(windows, ClockTime(2)));
  EXPECT_EQ(PeakMultiplier(windows, ClockTime(6)), 1.0);
}

TEST(PeakMultiplierTest, NoWindowsMeansOffPeak) {
  const std::vector<PeakWindow> none;
  EXPECT_EQ(PeakMultiplier(none, ClockTime(7)), 1.0);
  EXPECT_FALSE(IsPeak(none, ClockTime(7)));
}

TEST(PeakMultiplierTest, InvalidWindowsAreIgnored) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<PeakWindow> windows = {
      {ClockTime(6), ClockTime(9), nan},      {ClockTime(6), ClockTime(9), 0.0},
      {ClockTime(6), ClockTime(9), 1000.0},   {-1, ClockTime(9), 3.0},
      {ClockTime(6), kMicrosPerDay + 1, 3.0},
  };
  EXPECT_EQ(PeakMultiplier(windows, ClockTime(7)), 1.0);
  EXPECT_FALSE(IsPeak(windows, ClockTime(7)));
}

TEST(ValidateWindowTest, AcceptsValidWindows) {
  for (const PeakWindow& window : kSeeded) {
    EXPECT_EQ(ValidateWindow(window), std::nullopt);
    EXPECT_TRUE(IsValidWindow(window));
  }
  EXPECT_EQ(ValidateWindow({ClockTime(22), ClockTime(2), 2.0}), std::nullopt);
  EXPECT_EQ(ValidateWindow({0, kMicrosPerDay - 1, 100.0}), std::nullopt);
  EXPECT_EQ(ValidateWindow({ClockTime(1), ClockTime(2), 0.001}), std::nullopt);
}

// Expect the window to be refused with an explanation mentioning `word`.
void ExpectRefused(const PeakWindow& window, const std::string& word) {
  const std::optional<std::string> why = ValidateWindow(window);
  ASSERT_TRUE(why.has_value()) << word;
  EXPECT_NE(why->find(word), std::string::npos) << *why;
  EXPECT_FALSE(IsValidWindow(window)) << *why;
}

TEST(ValidateWindowTest, ExplainsTimesOutsideOneDay) {
  ExpectRefused({-1, ClockTime(9), 1.5}, "start");
  ExpectRefused({kMicrosPerDay, ClockTime(9), 1.5}, "start");
  ExpectRefused({ClockTime(6), kMicrosPerDay + 1, 1.5}, "end");
  ExpectRefused({ClockTime(6), -kMicrosPerSecond, 1.5}, "end");
}

TEST(ValidateWindowTest, AcceptsTheEndOfTheDayAsAnEnd) {
  // 00:00-24:00 is the whole day; 20:00-24:00 the evening up to midnight.
  const PeakWindow whole_day{0, kMicrosPerDay, 2.0};
  EXPECT_EQ(ValidateWindow(whole_day), std::nullopt);
  EXPECT_TRUE(InWindow(whole_day, 0));
  EXPECT_TRUE(InWindow(whole_day, ClockTime(12)));
  EXPECT_TRUE(InWindow(whole_day, kMicrosPerDay - 1));
  EXPECT_DOUBLE_EQ(PeakMultiplier({whole_day}, ClockTime(12)), 2.0);
  const PeakWindow evening{ClockTime(20), kMicrosPerDay, 1.5};
  EXPECT_TRUE(InWindow(evening, ClockTime(23, 59)));
  EXPECT_FALSE(InWindow(evening, ClockTime(0)));
}

TEST(ValidateWindowTest, ExplainsEmptyWindow) {
  ExpectRefused({ClockTime(6), ClockTime(6), 1.5}, "same time");
}

TEST(ValidateWindowTest, ExplainsBadMultiplier) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ExpectRefused({ClockTime(6), ClockTime(9), 0.0}, "multiplier");
  ExpectRefused({ClockTime(6), ClockTime(9), -1.5}, "multiplier");
  ExpectRefused({ClockTime(6), ClockTime(9), 100.01}, "multiplier");
  ExpectRefused({ClockTime(6), ClockTime(9), inf}, "multiplier");
  ExpectRefused({ClockTime(6), ClockTime(9), nan}, "multiplier");
}

}  // namespace
}  // namespace queue::policy
