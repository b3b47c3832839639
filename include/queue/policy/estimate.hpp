// Estimates shown to end users: the expected run time of a render (an exponentially
// weighted moving average of observed run times) and the expected wait until a
// queued job starts, from its place in dispatch order and the slots it can use.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

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

// Expected time left of a render of mean run time `mean` that has run for `elapsed`.
// Run times are taken to spread evenly over [mean/2, 3*mean/2]: until mean/2 a render
// has mean - elapsed left; then half of what is left of the spread, (3*mean/2 -
// elapsed) / 2, so a render past its mean is not taken to end at once; past 3*mean/2,
// nothing. Negative inputs count as 0.
Micros ExpectedTimeLeft(Micros mean, Micros elapsed);

struct WaitInput {
  std::int64_t position;  // 1-based place in dispatch order
  int slots;              // effective concurrent slots this job can use (>= 0)
  std::int64_t running;   // renders running now in those slots
  Micros mean_duration;   // expected run time of one render
  // Expected time left of each render running in those slots, when known; it then
  // replaces `running`. When empty, each running render has a whole mean_duration left.
  std::vector<Micros> running_left = {};
};

// Estimate the wait until the job starts, by list scheduling: a slot becomes free when
// the render in it ends (at once for an idle slot; when more renders run than there are
// slots, only the last ones to end free a slot), and each job ahead takes the first slot
// to become free and holds it for mean_duration; this job starts when the first slot is
// free after them. With nothing known of the running renders this is the wave formula:
// 0 while a free slot waits for the job (position <= slots - running), else
// ceil((position - free) / slots) * mean_duration, free = max(0, slots - running).
// With slots <= 0 nothing can start: std::nullopt. Saturates at INT64_MAX; a position
// below 1 counts as 1, negative running counts, times left and durations as 0.
std::optional<Micros> EstimateWait(const WaitInput& input);

}  // namespace queue::policy
