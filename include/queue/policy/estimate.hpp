// Estimates shown to end users: the expected run time of a render (an exponentially
// weighted moving average of observed run times) and the expected wait until a
// queued job starts, from its place in dispatch order and the slots it can use.
#pragma once

#include <cstdint>
#include <optional>

#include "queue/policy/pure.hpp"
#include "queue/policy/time.hpp"

namespace queue::policy {

// Weight of a new sample in the moving average.
constexpr double kRunTimeSmoothing = 0.2;

// Exponentially weighted moving average of run times; the first sample is taken as is.
struct RunTimeAverage {
  Micros mean = 0;
  std::int64_t samples = 0;
};

// Fold one observed run time into the average: mean += 0.2 * (observed - mean), the
// step rounded to whole microseconds away from zero (so the mean settles exactly on a
// constant run time). Negative observations and means count as 0.
RunTimeAverage AddSample(RunTimeAverage average, Micros observed);

struct WaitInput {
  std::int64_t position;  // 1-based place in dispatch order
  int slots;              // effective concurrent slots this job can use (>= 0)
  std::int64_t running;   // renders running now in those slots
  Micros mean_duration;   // expected run time of one render
};

// Estimate the wait until the job starts: 0 while a free slot is waiting for it
// (position <= slots - running); otherwise the jobs ahead drain in waves of `slots`:
// ceil((position - free) / slots) * mean_duration, where free = max(0, slots - running).
// With slots <= 0 nothing can start: std::nullopt. Saturates at INT64_MAX; a position
// below 1 counts as 1, negative running counts and durations as 0.
std::optional<Micros> EstimateWait(const WaitInput& input);

}  // namespace queue::policy
