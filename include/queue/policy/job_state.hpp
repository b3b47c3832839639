// Job priorities and the job lifecycle, mirroring the SQL enums queue.priority and
// queue.job_status. A "job" is one render request; an "attempt" is one run of it
// by a worker (a job has 1..max_attempts attempts); a "claim" is the dequeue that
// starts an attempt, moving the job from queued to processing.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "queue/policy/pure.hpp"

namespace queue::policy {

// Dispatch order: lower value first (high before medium before low).
enum class Priority : int { kHigh = 0, kMedium = 1, kLow = 2 };
constexpr int kPriorityCount = 3;
constexpr std::array<Priority, kPriorityCount> kAllPriorities = {Priority::kHigh, Priority::kMedium,
                                                                 Priority::kLow};

enum class JobStatus : int {
  kQueued = 0,  // claimable once run_at has passed
  kRetrying,    // an attempt failed; waiting out the backoff before queued again
  kProcessing,  // claimed by a worker, an attempt is running
  kCompleted,   // finished: the last attempt succeeded
  kFailed,      // finished: attempts exhausted or the error was not retryable
  kCancelled,   // finished: cancelled before it completed
};
constexpr int kJobStatusCount = 6;
constexpr std::array<JobStatus, kJobStatusCount> kAllJobStatuses = {
    JobStatus::kQueued,    JobStatus::kRetrying, JobStatus::kProcessing,
    JobStatus::kCompleted, JobStatus::kFailed,   JobStatus::kCancelled};

// Tell whether a job of priority `a` is dispatched before one of priority `b`.
constexpr bool DispatchedBefore(Priority a, Priority b) {
  return static_cast<int>(a) < static_cast<int>(b);
}

// Return the SQL label of a priority ("high", "medium", "low"); empty if out of range.
std::string_view PriorityName(Priority priority);

// Parse an SQL priority label (exact, case-sensitive, like PostgreSQL enums).
std::optional<Priority> ParsePriority(std::string_view name);

// Return the SQL label of a status ("queued", ..., "cancelled"); empty if out of range.
std::string_view JobStatusName(JobStatus status);

// Parse an SQL job status label (exact, case-sensitive, like PostgreSQL enums).
std::optional<JobStatus> ParseJobStatus(std::string_view name);

// Tell whether a status is final: completed, failed or cancelled.
bool IsFinished(JobStatus status);

// Tell whether the lifecycle allows moving a job from `from` to `to`:
//   queued     -> processing | cancelled
//   processing -> completed | retrying | failed | cancelled
//               | queued (reclaimed without counting the attempt)
//   retrying   -> queued | cancelled
// Nothing leaves a finished state, and no status moves to itself.
bool CanTransition(JobStatus from, JobStatus to);

}  // namespace queue::policy
