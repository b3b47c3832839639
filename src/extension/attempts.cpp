// queue.fail(), and what every way of ending an attempt shares.
//
// complete() (complete.cpp) and fail() take the worker id as proof of holding the attempt: a worker whose
// attempt timed out, was recovered or cancelled no longer holds the job, so
// it can neither complete nor fail the attempt that replaced it. A worker
// that passes its attempt number (dequeue's `attempts`) is also refused when
// the job has moved on to another attempt, even one of its own worker id.
// Only the role that claimed the attempt (or a queue_admin) may end it (42501).
// Refusals are counted for stats().
#include "queue/attempts.hpp"

#include "queue/arguments.hpp"
#include "queue/boundary.hpp"
#include "queue/datums.hpp"
#include "queue/ledger.hpp"
#include "queue/spi.hpp"

namespace queue {

namespace {

// Each job is found by its id, its status compared as text (see complete_jobs
// in complete.cpp): with a plain comparison the planner may scan a partial
// index of processing jobs instead, over every entry a long transaction
// elsewhere keeps from being removed.
SavedPlan end_attempts = {
    "WITH ending AS ("
    "  SELECT * FROM unnest($1::int8[], $2::text[], $3::timestamptz[], $4::text[])"
    "    AS e(id, status, run_at, error)),"
    " ended AS ("
    "  UPDATE queue.jobs j SET status = e.status::queue.job_status,"
    "    run_at = coalesce(e.run_at, j.run_at), last_error = e.error, deadline = NULL,"
    "    finished_at = CASE WHEN e.status IN ('failed', 'cancelled') THEN now() END"
    "  FROM ending e WHERE j.id = e.id AND j.status::text = 'processing'"
    "  RETURNING j.id, j.status, j.worker_id, j.last_error),"
    " logged AS ("
    "  INSERT INTO queue.job_events (job_id, from_status, to_status, worker_id, detail)"
    "  SELECT id, 'processing', status, worker_id, last_error FROM ended)"
    "SELECT id, status FROM ended",
    4,
    {INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID},
    nullptr};

// Why a worker does not hold a job: is it held by that worker id, and by which role.
SavedPlan held_by = {
    "SELECT status = 'processing' AND worker_id = $2, worker_role FROM queue.jobs WHERE id = $1",
    2,
    {INT8OID, TEXTOID},
    nullptr};

// $3 the attempt (NULL: any). Found by id, its status compared as text (see
// complete_jobs in complete.cpp).
SavedPlan lock_held_attempt = {
    "SELECT attempts, max_attempts, cancel_requested, worker_role FROM queue.jobs"
    " WHERE id = $1 AND status::text = 'processing' AND worker_id = $2"
    "   AND ($3::int4 IS NULL OR attempts = $3) FOR UPDATE",
    3,
    {INT8OID, TEXTOID, INT4OID},
    nullptr};

}  // namespace

int64 CurrentMinute() {
  return GetCurrentTransactionStartTimestamp() / (60 * policy::kMicrosPerSecond);
}

void RefuseResult(int64 job_id, Datum worker_id) {
  Datum args[2] = {Int64GetDatum(job_id), worker_id};
  if (SpiRun(held_by, args, nullptr, SPI_OK_SELECT) == 0) RaiseUnknownJob(job_id);
  bool no_role = false;
  Datum role = SpiValue(0, 2, &no_role);
  if (DatumGetBool(SpiValueNotNull(0, 1)) && !no_role && !CallerMayActAs(DatumGetObjectId(role)))
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("job %lld was claimed by another role", (long long)job_id),
                    errhint("Only the role that claimed an attempt, or a member of queue_admin, "
                            "may complete or fail it.")));
  CountRefusedResults(1);
}

Datum OptionalAttempt(FunctionCallInfo fcinfo, int index, char* null_flag) {
  *null_flag = 'n';
  if (PG_NARGS() <= index || PG_ARGISNULL(index)) return 0;
  int32 attempt = PG_GETARG_INT32(index);
  if (attempt < 1)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("attempt must be positive"),
                    errdetail("The value given is %d.", attempt),
                    errhint("Pass the attempts column of the row dequeue() returned, or NULL.")));
  *null_flag = ' ';
  return Int32GetDatum(attempt);
}

namespace {

Datum Fail(FunctionCallInfo fcinfo) {
  const Config& config = RefreshConfig();
  int64 job_id = RequiredJobId(fcinfo, 0);
  char* worker_id = RequiredText(fcinfo, 1, "worker_id", kMaxIdLength);
  char* error = RequiredText(fcinfo, 2, "error", kMaxErrorLength);
  RequireArgument(fcinfo, 3, "retryable");
  bool retryable = PG_GETARG_BOOL(3);
  Datum args[3] = {Int64GetDatum(job_id), CStringGetTextDatum(worker_id), 0};
  char nulls[3] = {' ', ' ', ' '};
  args[2] = OptionalAttempt(fcinfo, 4, &nulls[2]);

  SpiConnect();
  if (SpiRun(lock_held_attempt, args, nulls, SPI_OK_SELECT) == 0) {
    RefuseResult(job_id, args[1]);
    SpiFinish();
    PG_RETURN_NULL();
  }
  bool no_role = false;
  Datum role = SpiValue(0, 4, &no_role);
  if (!no_role && !CallerMayActAs(DatumGetObjectId(role))) RefuseResult(job_id, args[1]);
  FailedAttempt attempt{job_id, DatumGetInt32(SpiValueNotNull(0, 1)),
                        DatumGetInt32(SpiValueNotNull(0, 2)), DatumGetBool(SpiValueNotNull(0, 3))};
  AttemptEnd end =
      DecideFailure(config, attempt, retryable, true, GetCurrentTransactionStartTimestamp(), error);
  EndAttempts(&end, 1);
  Datum status = SpiValueNotNull(0, 2);  // an enum: passed by value
  SpiFinish();
  return status;
}

}  // namespace

AttemptEnd DecideFailure(const Config& config, const FailedAttempt& attempt, bool retryable,
                         bool backoff, TimestampTz now, const char* error) {
  if (attempt.cancel_requested)
    return AttemptEnd{attempt.job_id, policy::JobStatus::kCancelled, now, error};
  if (policy::ShouldRetry(attempt.attempts, attempt.max_attempts, retryable)) {
    policy::Micros delay = backoff ? policy::RetryDelay(config.retry, attempt.attempts) : 0;
    return AttemptEnd{attempt.job_id, policy::JobStatus::kRetrying, now + delay, error};
  }
  return AttemptEnd{attempt.job_id, policy::JobStatus::kFailed, now, error};
}

uint64 EndAttempts(const AttemptEnd* ends, int count) {
  auto* ids = static_cast<int64*>(palloc(sizeof(int64) * count));
  auto* statuses = static_cast<char**>(palloc(sizeof(char*) * count));
  auto* run_ats = static_cast<TimestampTz*>(palloc(sizeof(TimestampTz) * count));
  auto* errors = static_cast<char**>(palloc(sizeof(char*) * count));
  for (int i = 0; i < count; i++) {
    std::string_view status = policy::JobStatusName(ends[i].status);
    ids[i] = ends[i].job_id;
    statuses[i] = pnstrdup(status.data(), status.size());
    run_ats[i] = ends[i].run_at;
    errors[i] = const_cast<char*>(ends[i].error);
  }
  Datum args[4] = {Int64ArrayDatum(ids, count), TextArrayDatum(statuses, count),
                   TimestampArrayDatum(run_ats, count), TextArrayDatum(errors, count)};
  uint64 ended = SpiRun(end_attempts, args, nullptr, SPI_OK_SELECT);
  if (ended > 0)
    RecordMinuteStats(MinuteStats{CurrentMinute(), 0, static_cast<int64>(ended), 0, 0, 0});
  // A retry due at once (no backoff) should not wait for the next tick.
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  for (int i = 0; i < count; i++)
    if (ends[i].status == policy::JobStatus::kRetrying && ends[i].run_at <= now)
      WakeWorkerAtCommit();
  return ended;
}

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_fail, queue::Fail)
