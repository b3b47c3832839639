// Property tests of queue/policy/peak_windows.hpp: random windows (across midnight, ending
// at 24:00, invalid ones mixed in) checked against an oracle written differently from the
// code (modular distance from the start), and what the policy sees on DST days.
//
// The seed is fixed so a run is reproducible; set QUEUE_PROPERTY_SEED to explore others.
// A failure prints the seed and the inputs.
#include "queue/policy/peak_windows.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace queue::policy {
namespace {

constexpr int kIterations = 200000;

std::uint64_t Seed() {
  const char* text = std::getenv("QUEUE_PROPERTY_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 20261129;
}

std::string Describe(const PeakWindow& window) {
  std::ostringstream out;
  out << "{starts " << window.starts << ", ends " << window.ends << ", multiplier "
      << window.multiplier << "}";
  return out.str();
}

std::string Describe(const std::vector<PeakWindow>& windows) {
  std::string text;
  for (const PeakWindow& window : windows) text += Describe(window) + " ";
  return text;
}

// Times of day biased towards the edges where off-by-one errors live.
Micros RandomTimeOfDay(std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0:
      return 0;
    case 1:
      return kMicrosPerDay - 1;
    case 2:
      return static_cast<Micros>(rng() % 24) * kMicrosPerHour;
    case 3:
      return static_cast<Micros>(rng() % (24 * 60)) * kMicrosPerMinute;
    default:
      return static_cast<Micros>(rng() % static_cast<std::uint64_t>(kMicrosPerDay));
  }
}

// A window end: a time of day, or 24:00.
Micros RandomWindowEnd(std::mt19937_64& rng) {
  return rng() % 8 == 0 ? kMicrosPerDay : RandomTimeOfDay(rng);
}

double RandomValidMultiplier(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0:
      return 1.5;
    case 1:
      return kMaxPeakMultiplier;
    default:
      return std::uniform_real_distribution<double>(1e-6, kMaxPeakMultiplier)(rng);
  }
}

// A window that ValidateWindow must accept (ends may equal 24:00; may cross midnight).
PeakWindow RandomValidWindow(std::mt19937_64& rng) {
  PeakWindow window{RandomTimeOfDay(rng), RandomWindowEnd(rng), RandomValidMultiplier(rng)};
  if (window.starts == window.ends) window.ends = window.starts + 1;  // still <= 24:00
  return window;
}

// A window that breaks exactly one rule.
PeakWindow RandomInvalidWindow(std::mt19937_64& rng) {
  PeakWindow window = RandomValidWindow(rng);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  switch (rng() % 9) {
    case 0:
      window.starts = -1 - static_cast<Micros>(rng() % 1000000);
      break;
    case 1:
      window.starts = kMicrosPerDay + static_cast<Micros>(rng() % 1000);  // 24:00 cannot start
      break;
    case 2:
      window.ends = kMicrosPerDay + 1 + static_cast<Micros>(rng() % 1000);
      break;
    case 3:
      window.ends = -1;
      break;
    case 4:
      window.ends = window.starts;
      break;
    case 5:
      window.multiplier = nan;
      break;
    case 6:
      window.multiplier = rng() % 2 ? inf : -inf;
      break;
    case 7:
      window.multiplier = rng() % 2 ? 0.0 : -std::uniform_real_distribution<double>(0, 10)(rng);
      break;
    default:
      window.multiplier = std::nextafter(kMaxPeakMultiplier, inf) + (rng() % 100);
      break;
  }
  return window;
}

// Oracle: t is covered iff its distance after the start, modulo one day, is shorter than
// the window's length: its end's distance after the start modulo one day, except that
// 00:00-24:00 is the whole day (and a window with starts == ends has length 0).
bool CoveredByOracle(const PeakWindow& window, Micros time_of_day) {
  constexpr __int128 day = kMicrosPerDay;
  const auto modulo = [](__int128 value) { return ((value % day) + day) % day; };
  __int128 length = modulo(static_cast<__int128>(window.ends) - window.starts);
  if (length == 0 && window.ends != window.starts) length = day;
  const __int128 offset = modulo(static_cast<__int128>(time_of_day) - window.starts);
  return offset < length;
}

TEST(PeakWindowPropertyTest, InWindowMatchesModularOracle) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    const PeakWindow window = RandomValidWindow(rng);
    const Micros t = RandomTimeOfDay(rng);
    ASSERT_EQ(InWindow(window, t), CoveredByOracle(window, t))
        << "window " << Describe(window) << " time " << t;
  }
}

TEST(PeakWindowPropertyTest, InWindowIsPeriodicOverWholeDays) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::int64_t max_days = std::numeric_limits<Micros>::max() / kMicrosPerDay - 1;
  for (int i = 0; i < kIterations; i++) {
    const PeakWindow window = RandomValidWindow(rng);
    const Micros t = RandomTimeOfDay(rng);
    const std::int64_t days = static_cast<std::int64_t>(rng() % (2 * max_days + 1)) - max_days;
    ASSERT_EQ(InWindow(window, t + days * kMicrosPerDay), InWindow(window, t))
        << "window " << Describe(window) << " time " << t << " shifted by " << days << " days";
  }
  // The ends of the Micros range wrap without overflow, to the right time of day.
  const PeakWindow whole_day{0, kMicrosPerDay, 2.0};
  for (Micros t : {std::numeric_limits<Micros>::min(), std::numeric_limits<Micros>::max()}) {
    EXPECT_TRUE(InWindow(whole_day, t)) << t;
    const PeakWindow around{WrapTimeOfDay(t), WrapTimeOfDay(t) + 1, 2.0};
    EXPECT_TRUE(InWindow(around, t)) << t;
  }
}

TEST(PeakWindowPropertyTest, AWindowAndItsReverseSplitTheDay) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    PeakWindow window = RandomValidWindow(rng);
    if (window.ends == kMicrosPerDay) window.ends = 0;  // the reverse must start at it
    if (window.starts == window.ends) continue;
    const PeakWindow reverse{window.ends, window.starts, window.multiplier};
    const Micros t = RandomTimeOfDay(rng);
    ASSERT_NE(InWindow(window, t), InWindow(reverse, t))
        << "window " << Describe(window) << " time " << t;
  }
}

TEST(PeakWindowPropertyTest, MultiplierIsTheLargestOfTheValidCoveringWindows) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations / 4; i++) {
    std::vector<PeakWindow> windows;
    const int count = static_cast<int>(rng() % 7);
    for (int w = 0; w < count; w++)
      windows.push_back(rng() % 4 == 0 ? RandomInvalidWindow(rng) : RandomValidWindow(rng));
    const Micros t = RandomTimeOfDay(rng);

    bool covered = false;
    double expected = 1.0;
    for (const PeakWindow& window : windows) {
      if (!IsValidWindow(window) || !CoveredByOracle(window, t)) continue;
      expected = covered ? std::max(expected, window.multiplier) : window.multiplier;
      covered = true;
    }
    ASSERT_EQ(IsPeak(windows, t), covered) << Describe(windows) << "time " << t;
    ASSERT_EQ(PeakMultiplier(windows, t), expected) << Describe(windows) << "time " << t;
    const double multiplier = PeakMultiplier(windows, t);
    ASSERT_TRUE(std::isfinite(multiplier) && multiplier > 0.0 && multiplier <= kMaxPeakMultiplier)
        << multiplier;

    // The order of the rows does not matter.
    std::shuffle(windows.begin(), windows.end(), rng);
    ASSERT_EQ(PeakMultiplier(windows, t), expected) << Describe(windows) << "time " << t;
  }
}

TEST(PeakWindowPropertyTest, ValidationAgreesWithTheCheapFormAndTheRules) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    const bool want_valid = rng() % 2 == 0;
    const PeakWindow window = want_valid ? RandomValidWindow(rng) : RandomInvalidWindow(rng);
    const std::optional<std::string> why = ValidateWindow(window);
    ASSERT_EQ(!why.has_value(), want_valid) << Describe(window) << " " << why.value_or("");
    ASSERT_EQ(IsValidWindow(window), want_valid) << Describe(window);
    if (why) {
      // errmsg style: starts lower case, no final period.
      ASSERT_FALSE(why->empty());
      ASSERT_TRUE(std::islower(static_cast<unsigned char>(why->front()))) << *why;
      ASSERT_NE(why->back(), '.') << *why;
    }
  }
}

// Local time of day as the PostgreSQL side computes it (LocalTimeOfDay with pg_tz): UTC
// plus the zone's offset in force at that instant. America/New_York on its 2026 DST days:
// clocks jump 02:00 EST -> 03:00 EDT at 07:00 UTC on March 8, and fall back 02:00 EDT ->
// 01:00 EST at 06:00 UTC on November 1.
struct DstDay {
  const char* name;
  Micros local_midnight_utc;  // UTC instant of local 00:00, from the start of that UTC day
  Micros switch_utc;          // UTC instant of the switch, same origin
  Micros offset_before;       // local minus UTC
  Micros offset_after;
  Micros day_length;  // real length of the local day
};

constexpr DstDay kSpringForward{"spring forward",    5 * kMicrosPerHour,  7 * kMicrosPerHour,
                                -5 * kMicrosPerHour, -4 * kMicrosPerHour, 23 * kMicrosPerHour};
constexpr DstDay kFallBack{"fall back",         4 * kMicrosPerHour,  6 * kMicrosPerHour,
                           -4 * kMicrosPerHour, -5 * kMicrosPerHour, 25 * kMicrosPerHour};

Micros LocalTimeOfDayOn(const DstDay& day, Micros utc) {
  return WrapTimeOfDay(utc + (utc < day.switch_utc ? day.offset_before : day.offset_after));
}

// Minutes of real time, over the local day, during which the window is in force.
std::int64_t RealMinutesInForce(const std::vector<PeakWindow>& windows, const DstDay& day) {
  std::int64_t minutes = 0;
  for (Micros utc = day.local_midnight_utc; utc < day.local_midnight_utc + day.day_length;
       utc += kMicrosPerMinute)
    minutes += IsPeak(windows, LocalTimeOfDayOn(day, utc)) ? 1 : 0;
  return minutes;
}

// Minutes of the window inside [from, to) local time, by the oracle.
std::int64_t LocalMinutesCovered(const PeakWindow& window, Micros from, Micros to) {
  std::int64_t minutes = 0;
  for (Micros t = from; t < to; t += kMicrosPerMinute) minutes += CoveredByOracle(window, t);
  return minutes;
}

TEST(PeakWindowPropertyTest, DstDaysSkipOrRepeatOnlyTheShiftedHour) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 300; i++) {
    // Minute-aligned windows, so that counting minutes is exact.
    PeakWindow window{static_cast<Micros>(rng() % (24 * 60)) * kMicrosPerMinute,
                      static_cast<Micros>(rng() % (24 * 60 + 1)) * kMicrosPerMinute, 1.5};
    if (window.starts == window.ends) continue;
    const std::vector<PeakWindow> windows = {window};
    const std::int64_t length = LocalMinutesCovered(window, 0, kMicrosPerDay);
    // Spring forward: local 02:00-03:00 never happens.
    ASSERT_EQ(RealMinutesInForce(windows, kSpringForward),
              length - LocalMinutesCovered(window, ClockTime(2), ClockTime(3)))
        << Describe(window);
    // Fall back: local 01:00-02:00 happens twice.
    ASSERT_EQ(RealMinutesInForce(windows, kFallBack),
              length + LocalMinutesCovered(window, ClockTime(1), ClockTime(2)))
        << Describe(window);
  }
}

TEST(PeakWindowPropertyTest, TimesAroundTheShiftedHourAreDecidedByWallClockAlone) {
  const std::vector<PeakWindow> windows = {{ClockTime(1, 30), ClockTime(2, 30), 2.0},
                                           {ClockTime(6), ClockTime(9), 1.5}};
  // The repeated 01:45 (EDT, then EST) is in the window both times, with the same factor.
  const Micros first = kFallBack.switch_utc - 15 * kMicrosPerMinute;
  const Micros second = kFallBack.switch_utc + 45 * kMicrosPerMinute;
  ASSERT_EQ(LocalTimeOfDayOn(kFallBack, first), LocalTimeOfDayOn(kFallBack, second));
  EXPECT_EQ(PeakMultiplier(windows, LocalTimeOfDayOn(kFallBack, first)), 2.0);
  EXPECT_EQ(PeakMultiplier(windows, LocalTimeOfDayOn(kFallBack, second)), 2.0);
  // Spring forward: the last instant before the jump is 01:59:59.999999, in force; the
  // first after it is 03:00, outside.
  const Micros before = kSpringForward.switch_utc - 1;
  EXPECT_EQ(LocalTimeOfDayOn(kSpringForward, before), ClockTime(2) - 1);
  EXPECT_TRUE(IsPeak(windows, LocalTimeOfDayOn(kSpringForward, before)));
  EXPECT_EQ(LocalTimeOfDayOn(kSpringForward, kSpringForward.switch_utc), ClockTime(3));
  EXPECT_FALSE(IsPeak(windows, ClockTime(3)));
  // The morning window keeps its three real hours on both days: the shift is at 02:00.
  const std::vector<PeakWindow> morning = {windows[1]};
  EXPECT_EQ(RealMinutesInForce(morning, kSpringForward), 180);
  EXPECT_EQ(RealMinutesInForce(morning, kFallBack), 180);
}

}  // namespace
}  // namespace queue::policy
