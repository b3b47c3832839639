// queue.cancel(): stop a job that has not finished.
//
// A waiting job (queued or retrying) is cancelled at once. A running job
// cannot be stopped from here: it is flagged, queue.heartbeat() tells its
// worker, and the worker's next fail() ends it as cancelled.
#include "queue/arguments.hpp"
#include "queue/boundary.hpp"
#include "queue/enums.hpp"
#include "queue/spi.hpp"

namespace queue {

namespace {

SavedPlan lock_job = {
    "SELECT status, owner FROM queue.jobs WHERE id = $1 FOR UPDATE", 1, {INT8OID}, nullptr};

SavedPlan cancel_waiting = {
    "WITH cancelled AS ("
    "  UPDATE queue.jobs j SET status = 'cancelled', finished_at = now(),"
    "    last_error = coalesce($2, 'cancelled')"
    "  FROM (SELECT status FROM queue.jobs WHERE id = $1) AS before"
    "  WHERE j.id = $1 RETURNING j.id, before.status AS from_status, j.last_error)"
    "INSERT INTO queue.job_events (job_id, from_status, to_status, detail)"
    "SELECT id, from_status, 'cancelled', last_error FROM cancelled",
    2,
    {INT8OID, TEXTOID},
    nullptr};

SavedPlan request_cancel = {
    "WITH flagged AS ("
    "  UPDATE queue.jobs SET cancel_requested = true WHERE id = $1"
    "  RETURNING id, worker_id)"
    "INSERT INTO queue.job_events (job_id, from_status, to_status, worker_id, detail)"
    "SELECT id, 'processing', 'processing', worker_id,"
    "  'cancellation requested' || coalesce(': ' || $2, '') FROM flagged",
    2,
    {INT8OID, TEXTOID},
    nullptr};

Datum Cancel(FunctionCallInfo fcinfo) {
  int64 job_id = RequiredJobId(fcinfo, 0);
  char* reason = OptionalText(fcinfo, 1, "reason", kMaxErrorLength);
  Datum args[2] = {Int64GetDatum(job_id), reason != nullptr ? CStringGetTextDatum(reason) : 0};
  char nulls[2] = {' ', reason != nullptr ? ' ' : 'n'};

  SpiConnect();
  if (SpiRun(lock_job, args, nullptr, SPI_OK_SELECT) == 0) RaiseUnknownJob(job_id);
  CheckJobAccess(job_id, DatumGetObjectId(SpiValueNotNull(0, 2)));
  bool cancelled = true;
  switch (StatusFromDatum(SpiValueNotNull(0, 1))) {
    case policy::JobStatus::kQueued:
    case policy::JobStatus::kRetrying:
      SpiRun(cancel_waiting, args, nulls, SPI_OK_INSERT);
      break;
    case policy::JobStatus::kProcessing:
      SpiRun(request_cancel, args, nulls, SPI_OK_INSERT);
      break;
    default:
      cancelled = false;
  }
  SpiFinish();
  PG_RETURN_BOOL(cancelled);
}

}  // namespace

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_cancel, queue::Cancel)
