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

// Expected time left of a running render.
Micros ExpectedTimeLeft(Micros mean, Micros elapsed) {
  const Micros m = std::max<Micros>(mean, 0);
  const Micros e = std::max<Micros>(elapsed, 0);
  if (e <= m / 2) return m - e;
  // 3*m/2 without overflow: m + m/2 can exceed INT64_MAX only for absurd means.
  const Micros spread_end = m > std::numeric_limits<Micros>::max() / 3 * 2
                                ? std::numeric_limits<Micros>::max()
                                : m + m / 2;
  return e >= spread_end ? 0 : (spread_end - e) / 2;
}

namespace {

using Wide = __int128;

// Slots that become free at the same time: `count` of them, after `free_in`.
struct SlotGroup {
  Micros free_in;
  Wide count;
};

// When the slots become free, grouped: idle ones at 0, busy ones when their render
// ends. With more renders than slots, only the last `slots` renders to end free one.
std::vector<SlotGroup> SlotsFreeIn(const WaitInput& input) {
  const Micros duration = std::max<Micros>(input.mean_duration, 0);
  if (input.running_left.empty()) {
    const std::int64_t running = std::max<std::int64_t>(input.running, 0);
    const Wide busy = std::min<Wide>(running, input.slots);
    return {{0, input.slots - busy}, {duration, busy}};
  }
  std::vector<Micros> left = input.running_left;
  for (Micros& value : left) value = std::max<Micros>(value, 0);
  std::sort(left.begin(), left.end());
  const size_t slots = static_cast<size_t>(input.slots);
  const size_t busy = std::min(left.size(), slots);
  std::vector<SlotGroup> groups = {{0, static_cast<Wide>(slots - busy)}};
  for (size_t i = left.size() - busy; i < left.size(); i++) groups.push_back({left[i], 1});
  return groups;
}

// Jobs that can start by time `t`, counting at most `enough`.
Wide StartsBy(const std::vector<SlotGroup>& groups, Wide t, Wide duration, Wide enough) {
  Wide starts = 0;
  for (const SlotGroup& group : groups) {
    if (group.count == 0 || t < group.free_in) continue;
    const Wide per_slot = duration == 0 ? enough : (t - group.free_in) / duration + 1;
    starts += std::min(per_slot, enough) * group.count;
    if (starts >= enough) return enough;
  }
  return starts;
}

}  // namespace

// Estimate the wait until a queued job starts.
std::optional<Micros> EstimateWait(const WaitInput& input) {
  if (input.slots <= 0) return std::nullopt;
  const Wide position = std::max<std::int64_t>(input.position, 1);
  const Wide duration = std::max<Micros>(input.mean_duration, 0);
  const std::vector<SlotGroup> groups = SlotsFreeIn(input);
  // The job starts at the smallest t by which `position` jobs can have started: the
  // count only grows with t, so a binary search finds it. The latest slot to be free,
  // plus position durations, is late enough.
  Wide low = 0;
  Wide high = 0;
  for (const SlotGroup& group : groups) high = std::max<Wide>(high, group.free_in);
  high += position * duration;
  while (low < high) {
    const Wide middle = low + (high - low) / 2;
    if (StartsBy(groups, middle, duration, position) >= position) {
      high = middle;
    } else {
      low = middle + 1;
    }
  }
  return static_cast<Micros>(std::min<Wide>(low, std::numeric_limits<Micros>::max()));
}

}  // namespace queue::policy
