// Peak windows: times of day when the farm is scaled up (seeded 06:00-09:00 and
// 20:00-23:00 at 1.5x). A window covers [starts, ends) in local time of day; when
// starts > ends it crosses midnight (22:00-02:00 covers 23:30 and 00:30).
//
// Time zones are not handled here: the PostgreSQL side converts a timestamptz to the
// local time of day in settings.timezone before calling these functions, so DST and
// zone rules stay PostgreSQL's.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "queue/policy/pure.hpp"
#include "queue/policy/time.hpp"

namespace queue::policy {

constexpr double kMaxPeakMultiplier = 100.0;

struct PeakWindow {
  Micros starts;      // local time of day, inclusive
  Micros ends;        // local time of day, exclusive, up to 24:00; before starts = crosses midnight
  double multiplier;  // factor applied to limits that scale, in (0, 100]
};

// Tell whether the window covers a time of day (taken modulo one day).
// A window with starts == ends covers nothing.
bool InWindow(const PeakWindow& window, Micros time_of_day);

// Return the largest multiplier among valid windows covering time_of_day (overlaps
// take the max), or 1.0 when none covers it. Windows ValidateWindow refuses are ignored.
double PeakMultiplier(const std::vector<PeakWindow>& windows, Micros time_of_day);

// Tell whether any valid window covers time_of_day.
bool IsPeak(const std::vector<PeakWindow>& windows, Micros time_of_day);

// Tell whether a window is valid; the cheap form of ValidateWindow.
bool IsValidWindow(const PeakWindow& window);

// Explain why a window is invalid, or return std::nullopt if it is valid: times in
// [0, kMicrosPerDay), the end may also be kMicrosPerDay (24:00), starts != ends,
// multiplier finite and in (0, 100]. The text is
// in errmsg style (lower case, no final period).
std::optional<std::string> ValidateWindow(const PeakWindow& window);

}  // namespace queue::policy
