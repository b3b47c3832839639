// Peak-window arithmetic on local times of day: membership, the multiplier in force,
// and validation of admin-entered windows.
#include "queue/policy/peak_windows.hpp"

#include <cmath>

namespace queue::policy {

namespace {

// Tell whether a time is a time of day in [0, kMicrosPerDay).
bool IsTimeOfDay(Micros micros) { return micros >= 0 && micros < kMicrosPerDay; }

// Tell whether a time can end a window: a time of day, or 24:00 (the end of the day).
bool IsWindowEnd(Micros micros) { return micros >= 0 && micros <= kMicrosPerDay; }

}  // namespace

// Tell whether the window covers a time of day.
bool InWindow(const PeakWindow& window, Micros time_of_day) {
  const Micros t = WrapTimeOfDay(time_of_day);
  if (window.starts < window.ends) return window.starts <= t && t < window.ends;
  if (window.starts > window.ends) return window.starts <= t || t < window.ends;
  return false;
}

// Return the largest multiplier in force at a time of day, 1.0 outside all windows.
double PeakMultiplier(const std::vector<PeakWindow>& windows, Micros time_of_day) {
  bool covered = false;
  double multiplier = 1.0;
  for (const PeakWindow& window : windows) {
    if (!IsValidWindow(window) || !InWindow(window, time_of_day)) continue;
    if (!covered || window.multiplier > multiplier) multiplier = window.multiplier;
    covered = true;
  }
  return multiplier;
}

// Tell whether any valid window covers a time of day.
bool IsPeak(const std::vector<PeakWindow>& windows, Micros time_of_day) {
  for (const PeakWindow& window : windows) {
    if (IsValidWindow(window) && InWindow(window, time_of_day)) return true;
  }
  return false;
}

// Tell whether a window is valid.
bool IsValidWindow(const PeakWindow& window) {
  return IsTimeOfDay(window.starts) && IsWindowEnd(window.ends) && window.starts != window.ends &&
         std::isfinite(window.multiplier) && window.multiplier > 0.0 &&
         window.multiplier <= kMaxPeakMultiplier;
}

// Explain why a window is invalid, or return std::nullopt.
std::optional<std::string> ValidateWindow(const PeakWindow& window) {
  if (!IsTimeOfDay(window.starts)) {
    return "peak window start must be a time of day from 00:00 up to but not including 24:00";
  }
  if (!IsWindowEnd(window.ends)) {
    return "peak window end must be a time of day from 00:00 up to and including 24:00";
  }
  if (window.starts == window.ends) {
    return "peak window must not start and end at the same time";
  }
  if (!std::isfinite(window.multiplier) || window.multiplier <= 0.0 ||
      window.multiplier > kMaxPeakMultiplier) {
    return "peak window multiplier must be greater than 0 and at most 100";
  }
  return std::nullopt;
}

}  // namespace queue::policy
