// queue.complete() and queue.complete_many(): end attempts successfully.
//
// complete_many() ends up to kMaxJobsPerCall attempts of one worker in one
// statement, so a worker that claimed a batch with dequeue(w, 100) reports it
// in one round trip. Each job is held to the same rules as in complete(): it
// must be processing, held by the worker id, on the given attempt (when one
// is given), and claimed by the calling role (or the caller is a queue_admin:
// otherwise 42501). Jobs that fail those checks are skipped and counted as
// refused results; the call returns how many it completed.
#include "queue/arguments.hpp"
#include "queue/attempts.hpp"
#include "queue/boundary.hpp"
#include "queue/config.hpp"
#include "queue/datums.hpp"
#include "queue/ledger.hpp"
#include "queue/spi.hpp"

#include <algorithm>
#include <vector>

namespace queue {

namespace {

constexpr int kMaxJobsPerCall = 1000;
constexpr const char* kResultHint = "Store large output elsewhere and return a reference.";

// Complete jobs that worker $2 holds, each named by `job` with its `result`
// and `attempt` (NULL: any attempt), read from `source`. Each job is found by
// its id. Its status is compared as text on purpose: a plain
// "status = 'processing'" lets the planner pick the small partial index on
// worker_id instead, whose dead entries a long transaction elsewhere keeps.
// $5 the calling role, $6 whether it is a queue_admin.
#define QUEUE_COMPLETE_JOBS(source, job, result, attempt)                            \
  "WITH done AS ("                                                                   \
  "  UPDATE queue.jobs j SET status = 'completed', result = " result                 \
  ","                                                                                \
  "    finished_at = now(), deadline = NULL" source "  WHERE j.id = " job            \
  " AND j.status::text = 'processing' AND j.worker_id = $2"                          \
  "    AND (" attempt " IS NULL OR j.attempts = " attempt                            \
  ")"                                                                                \
  "    AND ($6 OR j.worker_role IS NULL OR pg_has_role($5, j.worker_role, 'USAGE'))" \
  "  RETURNING j.id, j.job_type, j.worker_id,"                                       \
  "    (extract(epoch FROM now() - j.started_at) * 1000000)::int8 AS run_micros),"   \
  " logged AS ("                                                                     \
  "  INSERT INTO queue.job_events (job_id, from_status, to_status, worker_id)"       \
  "  SELECT id, 'processing', 'completed', worker_id FROM done)"                     \
  "SELECT job_type, run_micros FROM done"

// complete(): job $1, result $3, attempt $4. A statement of its own, not a
// one-element complete_jobs: unnesting arrays costs a single completion a
// function scan and a join to start and run.
SavedPlan complete_job = {QUEUE_COMPLETE_JOBS("", "$1", "$3", "$4"),
                          6,
                          {INT8OID, TEXTOID, JSONBOID, INT4OID, OIDOID, BOOLOID},
                          nullptr};

// complete_many(): the jobs of $1, with $3 results and $4 attempts (NULL
// arrays stand for all NULL).
SavedPlan complete_jobs = {
    QUEUE_COMPLETE_JOBS(
        " FROM unnest($1::int8[], $3::jsonb[], $4::int4[]) AS i(id, result, attempt)", "i.id",
        "i.result", "i.attempt"),
    6,
    {INT8ARRAYOID, TEXTOID, JSONBARRAYOID, INT4ARRAYOID, OIDOID, BOOLOID},
    nullptr};
#undef QUEUE_COMPLETE_JOBS

// A job of the list held by the worker id but claimed by another role ($3),
// which no queue_admin may be either.
SavedPlan held_by_another_role = {
    "SELECT id FROM queue.jobs"
    " WHERE id = ANY($1) AND status = 'processing' AND worker_id = $2"
    "   AND worker_role IS NOT NULL AND NOT pg_has_role($3, worker_role, 'USAGE') LIMIT 1",
    3,
    {INT8ARRAYOID, TEXTOID, OIDOID},
    nullptr};

// Fold the completed rows of the current result (job_type, run_micros) into
// the run-time averages and the minute stats.
void RecordCompletions(uint64 completed) {
  MinuteStats stats{CurrentMinute(), static_cast<int64>(completed), 0, 0, 0, 0};
  for (uint64 i = 0; i < completed; i++) {
    policy::Micros run_time = DatumGetInt64(SpiValueNotNull(i, 2));
    RecordRunTime(SpiText(i, 1), run_time);
    stats.run_sum += run_time;
  }
  if (completed > 0) RecordMinuteStats(stats);
}

Datum Complete(FunctionCallInfo fcinfo) {
  const Config& config = RefreshConfig();
  int64 job_id = RequiredJobId(fcinfo, 0);
  char* worker_id = RequiredText(fcinfo, 1, "worker_id", kMaxIdLength);
  if (!PG_ARGISNULL(2))
    RequireDocumentSize(PG_GETARG_DATUM(2), "result", config.max_payload_bytes, kResultHint);
  char attempt_null;
  Datum attempt = OptionalAttempt(fcinfo, 3, &attempt_null);
  Datum args[6] = {Int64GetDatum(job_id),
                   CStringGetTextDatum(worker_id),
                   PG_ARGISNULL(2) ? 0 : PG_GETARG_DATUM(2),
                   attempt,
                   ObjectIdGetDatum(CallingRole()),
                   BoolGetDatum(CallerIsQueueAdmin())};
  char nulls[6] = {' ', ' ', PG_ARGISNULL(2) ? 'n' : ' ', attempt_null, ' ', ' '};
  SpiConnect();
  bool completed = SpiRun(complete_job, args, nulls, SPI_OK_SELECT) == 1;
  if (completed)
    RecordCompletions(1);
  else
    RefuseResult(job_id, args[1]);
  SpiFinish();
  PG_RETURN_BOOL(completed);
}

// How many different job ids a list names (a repeated id is one result).
int64 DistinctIds(const ArrayElements& ids) {
  std::vector<int64> sorted(ids.count);
  for (int i = 0; i < ids.count; i++) sorted[i] = DatumGetInt64(ids.values[i]);
  std::sort(sorted.begin(), sorted.end());
  return std::unique(sorted.begin(), sorted.end()) - sorted.begin();
}

// An optional array argument that must have one element per job.
void RequireSameLength(FunctionCallInfo fcinfo, int index, const char* name, int jobs) {
  if (PG_ARGISNULL(index)) return;
  ArrayType* array = PG_GETARG_ARRAYTYPE_P(index);
  int count = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
  if (ARR_NDIM(array) > 1 || count != jobs)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("%s must have one element per job id", name),
                    errdetail("job_ids has %d elements, %s has %d.", jobs, name, count)));
}

Datum CompleteMany(FunctionCallInfo fcinfo) {
  const Config& config = RefreshConfig();
  RequireArgument(fcinfo, 0, "job_ids");
  ArrayElements ids = ArrayArgument(fcinfo, 0, "job_ids", INT8OID, false);
  int jobs = ids.count;
  if (jobs > kMaxJobsPerCall)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("job_ids must have at most %d elements", kMaxJobsPerCall),
                    errdetail("The array given has %d.", jobs)));
  char* worker_id = RequiredText(fcinfo, 1, "worker_id", kMaxIdLength);
  RequireSameLength(fcinfo, 2, "results", jobs);
  RequireSameLength(fcinfo, 3, "attempts", jobs);
  if (!PG_ARGISNULL(2)) {
    ArrayElements results = ArrayArgument(fcinfo, 2, "results", JSONBOID, true);
    for (int i = 0; i < results.count; i++)
      if (!results.nulls[i])
        RequireDocumentSize(results.values[i], "result", config.max_payload_bytes, kResultHint);
  }
  if (!PG_ARGISNULL(3)) {
    ArrayElements attempts = ArrayArgument(fcinfo, 3, "attempts", INT4OID, true);
    for (int i = 0; i < attempts.count; i++)
      if (!attempts.nulls[i] && DatumGetInt32(attempts.values[i]) < 1)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("attempts must be positive"),
                 errdetail("Element %d is %d.", i + 1, DatumGetInt32(attempts.values[i])),
                 errhint("Pass the attempts column of the rows dequeue() returned.")));
  }
  if (jobs == 0) PG_RETURN_INT32(0);

  bool admin = CallerIsQueueAdmin();
  Datum args[6] = {PG_GETARG_DATUM(0),
                   CStringGetTextDatum(worker_id),
                   PG_ARGISNULL(2) ? 0 : PG_GETARG_DATUM(2),
                   PG_ARGISNULL(3) ? 0 : PG_GETARG_DATUM(3),
                   ObjectIdGetDatum(CallingRole()),
                   BoolGetDatum(admin)};
  char nulls[6] = {' ', ' ', PG_ARGISNULL(2) ? 'n' : ' ', PG_ARGISNULL(3) ? 'n' : ' ', ' ', ' '};
  SpiConnect();
  uint64 completed = SpiRun(complete_jobs, args, nulls, SPI_OK_SELECT);
  RecordCompletions(completed);
  if (completed < static_cast<uint64>(jobs)) {
    Datum check[3] = {args[0], args[1], args[4]};
    if (!admin && SpiRun(held_by_another_role, check, nullptr, SPI_OK_SELECT) > 0)
      ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                      errmsg("job %lld was claimed by another role",
                             (long long)DatumGetInt64(SpiValueNotNull(0, 1))),
                      errhint("Only the role that claimed an attempt, or a member of queue_admin, "
                              "may complete it.")));
    CountRefusedResults(DistinctIds(ids) - static_cast<int64>(completed));
  }
  SpiFinish();
  PG_RETURN_INT32(static_cast<int32>(completed));
}

}  // namespace

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_complete, queue::Complete)
QUEUE_SQL_FUNCTION(queue_complete_many, queue::CompleteMany)
