#include "queue/policy/event_fold.hpp"

#include <algorithm>
#include <map>

namespace queue::policy {

namespace {

// The transitions one event counts as (an attempt that timed out also
// counts as failed or retried).
void Count(const FoldEvent& event, TransitionCounts& counts) {
  const bool from_processing = event.from == JobStatus::kProcessing;
  if (!event.from) counts.enqueued++;
  if (event.from == JobStatus::kQueued && event.to == JobStatus::kProcessing) counts.started++;
  if (event.to == JobStatus::kCompleted) counts.completed++;
  if (event.to == JobStatus::kFailed) counts.failed++;
  if (event.to == JobStatus::kRetrying) counts.retried++;
  if (from_processing && event.to != JobStatus::kProcessing && event.timed_out_detail)
    counts.timed_out++;
  if (event.to == JobStatus::kCancelled) counts.cancelled++;
}

// An attempt that ended by the worker's report or its deadline: completed,
// or an error (retrying, failed). Cancels and reclaims are neither.
bool EndsAttempt(const FoldEvent& event) {
  return event.from == JobStatus::kProcessing &&
         (event.to == JobStatus::kCompleted || event.to == JobStatus::kRetrying ||
          event.to == JobStatus::kFailed);
}

std::optional<Micros> Later(std::optional<Micros> a, Micros b) {
  return a ? std::max(*a, b) : b;
}

// The worker's attempts that ended in the slice, in id order: the errors
// after the last success, or all of them without one.
StreakFold Streak(const std::string& worker_id, const std::vector<const FoldEvent*>& ends) {
  StreakFold streak{worker_id, 0, std::nullopt, std::nullopt};
  for (const FoldEvent* end : ends) {
    if (end->to == JobStatus::kCompleted) {
      streak.failures = 0;
      streak.last_success_at = Later(streak.last_success_at, end->at);
    } else {
      streak.failures++;
      streak.last_failure_at = Later(streak.last_failure_at, end->at);
    }
  }
  return streak;
}

// A skipped range gives way to the runs of it still missing: before its
// first event, between two, after its last.
void StillMissing(const PendingRange& range, const std::vector<std::int64_t>& found,
                  std::vector<PendingRange>& missing) {
  std::int64_t next = range.ids.first;
  for (std::int64_t id : found) {
    if (id > next) missing.push_back({{next, id - 1}, range.noted_at, range.noted_before_xid});
    next = id + 1;
  }
  if (next <= range.ids.last)
    missing.push_back({{next, range.ids.last}, range.noted_at, range.noted_before_xid});
}

}  // namespace

EventFold FoldEvents(const std::vector<FoldEvent>& events, std::int64_t cursor) {
  EventFold fold;
  std::map<Micros, MinuteFold> minutes;
  std::map<std::string, JobTypeFold> job_types;
  std::map<std::string, std::vector<const FoldEvent*>> attempt_ends;
  std::map<std::int64_t, std::pair<PendingRange, std::vector<std::int64_t>>> ranges;
  std::int64_t previous_new = cursor;
  for (const FoldEvent& event : events) {
    fold.folded++;
    fold.last_id = std::max(fold.last_id.value_or(event.id), event.id);

    MinuteFold& minute = minutes[event.minute];
    minute.minute = event.minute;
    Count(event, minute.counts);
    if (event.wait_seconds) {
      minute.wait_seconds_sum += *event.wait_seconds;
      minute.wait_count++;
    }

    if (event.job_type) {
      JobTypeFold& type = job_types[*event.job_type];
      type.job_type = *event.job_type;
      Count(event, type.counts);
      if (event.wait_seconds) {
        type.waits.push_back(*event.wait_seconds);
        type.wait_sum += *event.wait_seconds;
      }
      if (event.run_seconds) {
        type.runs.push_back(*event.run_seconds);
        type.run_sum += *event.run_seconds;
      }
    }

    if (EndsAttempt(event) && event.worker_id) attempt_ends[*event.worker_id].push_back(&event);

    if (event.found_in) {
      auto& [range, found] = ranges[event.found_in->ids.first];
      range = *event.found_in;
      found.push_back(event.id);
    } else {
      if (event.id > previous_new + 1) fold.new_gaps.push_back({previous_new + 1, event.id - 1});
      previous_new = event.id;
    }
  }
  for (auto& [minute, totals] : minutes) fold.minutes.push_back(std::move(totals));
  for (auto& [name, totals] : job_types) fold.job_types.push_back(std::move(totals));
  for (const auto& [worker_id, ends] : attempt_ends) fold.streaks.push_back(Streak(worker_id, ends));
  for (const auto& [first, seen] : ranges) {
    fold.ranges_seen.push_back(first);
    StillMissing(seen.first, seen.second, fold.still_missing);
  }
  return fold;
}

}  // namespace queue::policy
