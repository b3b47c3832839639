// Run-time averages and wait estimates for the end-user view of a job.
#include "queue/policy/estimate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace queue::policy {

// Fold one observed run time into the moving average.
RunTimeAverage AddSample(RunTimeAverage average, Micros observed) {
  const Micros sample = std::max<Micros>(observed, 0);
  if (average.samples <= 0) return RunTimeAverage{sample, 1};
  const Micros mean = std::max<Micros>(average.mean, 0);
  // Both are non-negative, so the difference cannot overflow. The step is rounded
  // away from zero, so the mean always moves toward the sample and reaches a
  // constant run time exactly instead of stalling a few microseconds short of it.
  const Micros difference = sample - mean;
  const double weighted = kRunTimeSmoothing * static_cast<double>(difference);
  const Micros step = RoundToMicros(difference > 0 ? std::ceil(weighted) : std::floor(weighted));
  const Micros bounded = difference > 0 ? std::min(step, difference) : std::max(step, difference);
  const std::int64_t samples = average.samples == std::numeric_limits<std::int64_t>::max()
                                   ? average.samples
                                   : average.samples + 1;
  return RunTimeAverage{mean + bounded, samples};
}

// Estimate the wait until a queued job starts.
std::optional<Micros> EstimateWait(const WaitInput& input) {
  if (input.slots <= 0) return std::nullopt;
  const std::int64_t position = std::max<std::int64_t>(input.position, 1);
  const std::int64_t running = std::max<std::int64_t>(input.running, 0);
  const std::int64_t free_slots = std::max<std::int64_t>(input.slots - running, 0);
  if (position <= free_slots) return 0;
  const Micros duration = std::max<Micros>(input.mean_duration, 0);
  // ceil(ahead / slots) without overflow, ahead > 0.
  const std::int64_t ahead = position - free_slots;
  const std::int64_t waves = (ahead - 1) / input.slots + 1;
  if (duration != 0 && waves > std::numeric_limits<Micros>::max() / duration) {
    return std::numeric_limits<Micros>::max();
  }
  return waves * duration;
}

}  // namespace queue::policy
