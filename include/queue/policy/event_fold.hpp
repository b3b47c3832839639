// The monitoring pass's fold of queue.job_events: a slice of events, read in
// id order, becomes what the pass adds to the per-minute history, the job
// type totals and the workers' failure streaks, and the ids it must look at
// again (ids taken by transactions that had not committed when it read).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "queue/policy/job_state.hpp"
#include "queue/policy/pure.hpp"
#include "queue/policy/time.hpp"

namespace queue::policy {

// A range of event ids, first to last inclusive.
struct IdRange {
  std::int64_t first = 0;
  std::int64_t last = 0;
  bool operator==(const IdRange& other) const {
    return first == other.first && last == other.last;
  }
};

// A range the pass skipped earlier, still waiting for its events: when it
// was first noted (it is given up an hour later), and the first transaction
// id not yet assigned then (0: not known). Once every transaction below that
// id has ended, a last read finds whatever of the range will ever come.
struct PendingRange {
  IdRange ids;
  Micros noted_at = 0;
  std::int64_t noted_before_xid = 0;
  bool operator==(const PendingRange& other) const {
    return ids == other.ids && noted_at == other.noted_at &&
           noted_before_xid == other.noted_before_xid;
  }
};

// One event as the pass reads it, with what it needs of the event's job.
struct FoldEvent {
  std::int64_t id = 0;
  std::optional<PendingRange> found_in;  // the skipped range it turned up in; none: a new event
  Micros at = 0;
  Micros minute = 0;                       // `at` truncated to its minute
  std::optional<std::string> worker_id;    // the worker the transition names
  std::optional<std::string> job_type;     // none once the job is deleted
  std::optional<JobStatus> from;           // none: the enqueue
  JobStatus to = JobStatus::kQueued;
  bool timed_out_detail = false;           // detail says the attempt timed out
  std::optional<double> wait_seconds;      // a claim: how long the job was claimable
  std::optional<double> run_seconds;       // a completion: how long the attempt ran
};

// Transitions counted per minute and per job type.
struct TransitionCounts {
  std::int64_t enqueued = 0;
  std::int64_t started = 0;
  std::int64_t completed = 0;
  std::int64_t failed = 0;
  std::int64_t retried = 0;
  std::int64_t timed_out = 0;
  std::int64_t cancelled = 0;
};

struct MinuteFold {
  Micros minute = 0;
  TransitionCounts counts;
  double wait_seconds_sum = 0;
  std::int64_t wait_count = 0;
};

struct JobTypeFold {
  std::string job_type;
  TransitionCounts counts;
  std::vector<double> waits;  // samples for the wait histogram
  std::vector<double> runs;   // samples for the run-time histogram
  double wait_sum = 0;
  double run_sum = 0;
};

// What a slice says of a worker's attempts that ended: with a completed one
// among them, the streak restarts from the errors after the last of those.
struct StreakFold {
  std::string worker_id;
  int failures = 0;  // errors after the slice's last success (all, without one)
  std::optional<Micros> last_failure_at;
  std::optional<Micros> last_success_at;
};

struct EventFold {
  std::int64_t folded = 0;
  std::optional<std::int64_t> last_id;     // the highest id folded
  std::vector<MinuteFold> minutes;          // in minute order
  std::vector<JobTypeFold> job_types;       // in name order
  std::vector<StreakFold> streaks;          // in worker id order
  std::vector<std::int64_t> ranges_seen;    // first ids of skipped ranges events turned up in
  std::vector<PendingRange> still_missing;  // what of those ranges is still missing
  std::vector<IdRange> new_gaps;            // ids this slice passed over
};

// Fold `events` (in id order): the events of skipped ranges, then those past
// `cursor`, the id the pass had folded up to.
EventFold FoldEvents(const std::vector<FoldEvent>& events, std::int64_t cursor);

}  // namespace queue::policy
