// Ending attempts: one statement for every way an attempt ends without
// success (fail, timeout, dead worker), and the policy that decides how.
#pragma once

#include "queue/config.hpp"
#include "queue/pg.hpp"

namespace queue {

// How one processing job's attempt ends.
struct AttemptEnd {
  int64 job_id;
  policy::JobStatus status;  // retrying, failed or cancelled
  TimestampTz run_at;        // when a retry may run; unused otherwise
  const char* error;         // becomes last_error and the audit detail
};

// A failed attempt's facts, as read from the locked job row.
struct FailedAttempt {
  int64 job_id;
  int attempts;
  int max_attempts;
  bool cancel_requested;
};

// Decide a failed attempt's end: cancelled if cancellation was requested,
// retrying (after the backoff, or at once when `backoff` is false) while
// attempts remain and the error is retryable, else failed.
AttemptEnd DecideFailure(const Config& config, const FailedAttempt& attempt, bool retryable,
                         bool backoff, TimestampTz now, const char* error);

// The minute of the transaction's start, as minute stats count it.
int64 CurrentMinute();

// A complete() or fail() found the attempt not held by the caller: error if
// the job does not exist (P0002) or the worker id's attempt belongs to another
// role (42501); otherwise count the refusal (the caller then returns false or
// NULL). Call with SPI connected.
void RefuseResult(int64 job_id, Datum worker_id);

// The optional `attempt` argument at `index` (absent in the 1.0 signatures):
// given and positive, or NULL (*null_flag 'n', as SPI wants it).
Datum OptionalAttempt(FunctionCallInfo fcinfo, int index, char* null_flag);

// End the given attempts of processing jobs, log them and count them as
// failures in the minute stats. Leaves (id, status) rows in SPI_tuptable and
// returns how many ended. Call with SPI connected.
uint64 EndAttempts(const AttemptEnd* ends, int count);

}  // namespace queue
