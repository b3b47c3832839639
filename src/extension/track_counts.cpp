// Triggers that keep shared state in step with the tables:
// queue.track_counts on queue.jobs (the exact counters),
// queue.config_changed on the configuration tables and queue.workers_changed
// on queue.workers (the backend caches).
#include "queue/boundary.hpp"
#include "queue/enums.hpp"
#include "queue/ledger.hpp"
#include "queue/registered_workers.hpp"

namespace queue {

namespace {

// Column numbers of queue.jobs, looked up by name (upgrades may reorder).
struct JobColumns {
  Oid relid = InvalidOid;
  int id, status, priority, resource, worker_id, run_at, enqueued_at;
};
JobColumns columns;

// Read the counted columns of a queue.jobs row.
// A row's enqueued_at (a NOT NULL column; NULL, were it dropped, reads as 0).
TimestampTz EnqueuedAt(HeapTuple tuple, TupleDesc desc) {
  bool isnull = false;
  Datum value = heap_getattr(tuple, columns.enqueued_at, desc, &isnull);
  return isnull ? 0 : DatumGetTimestampTz(value);
}

JobCountState ReadRow(HeapTuple tuple, TupleDesc desc, Oid relid) {
  if (columns.relid != relid) {
    columns.id = SPI_fnumber(desc, "id");
    columns.status = SPI_fnumber(desc, "status");
    columns.priority = SPI_fnumber(desc, "priority");
    columns.resource = SPI_fnumber(desc, "resource");
    columns.worker_id = SPI_fnumber(desc, "worker_id");
    columns.run_at = SPI_fnumber(desc, "run_at");
    columns.enqueued_at = SPI_fnumber(desc, "enqueued_at");
    columns.relid = relid;
  }
  bool isnull = false;
  JobCountState row;
  row.id = DatumGetInt64(heap_getattr(tuple, columns.id, desc, &isnull));
  row.status = StatusFromDatum(heap_getattr(tuple, columns.status, desc, &isnull));
  row.priority = PriorityFromDatum(heap_getattr(tuple, columns.priority, desc, &isnull));
  Datum resource = heap_getattr(tuple, columns.resource, desc, &isnull);
  row.resource = isnull ? nullptr : TextDatumGetCString(resource);
  row.worker_id = nullptr;
  if (row.status == policy::JobStatus::kProcessing) {  // only running jobs count per worker
    Datum worker_id = heap_getattr(tuple, columns.worker_id, desc, &isnull);
    if (!isnull) row.worker_id = TextDatumGetCString(worker_id);
  }
  row.scheduled = false;
  if (row.status == policy::JobStatus::kQueued) {  // only queued jobs count as scheduled
    TimestampTz run_at = DatumGetTimestampTz(heap_getattr(tuple, columns.run_at, desc, &isnull));
    row.scheduled = run_at > EnqueuedAt(tuple, desc);
  }
  return row;
}

// Refuse a status change the lifecycle does not have, whoever makes it: a
// finished job stays finished, a queued job is not completed unclaimed.
void RequireLifecycle(const JobCountState& before, const JobCountState& after) {
  if (before.status == after.status || policy::CanTransition(before.status, after.status)) return;
  std::string_view from = policy::JobStatusName(before.status);
  std::string_view to = policy::JobStatusName(after.status);
  ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                  errmsg("job %lld cannot go from %.*s to %.*s", (long long)before.id,
                         static_cast<int>(from.size()), from.data(), static_cast<int>(to.size()),
                         to.data()),
                  errhint("Jobs move queued -> processing -> completed, retrying, failed or "
                          "cancelled, and retrying -> queued; finished jobs are final.")));
}

// Refuse an enqueued_at ahead of the clock, whoever sets it. The counters
// take a queued job as possibly not due only when its run_at is past its
// enqueued_at (every job the API schedules or retries): a job enqueued "in
// an hour" with a run_at in ten minutes would count as claimable in
// positions while no claim takes it. The clock, not now(): a row written
// with clock_timestamp() earlier in the transaction is not in the future.
void RequireEnqueuedAtNotAhead(HeapTuple tuple, TupleDesc desc, int64 id) {
  if (EnqueuedAt(tuple, desc) <= GetCurrentTimestamp()) return;
  ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
                  errmsg("enqueued_at of job %lld is in the future", (long long)id),
                  errhint("enqueued_at records when a job was enqueued; set run_at to hold a "
                          "job until later.")));
}

bool SameText(const char* a, const char* b) {
  return a == nullptr || b == nullptr ? a == b : strcmp(a, b) == 0;
}

// Whether an UPDATE left every counted column as it was (a payload edited, a
// cancel requested): it changes no count.
bool SameCountedState(const JobCountState& a, const JobCountState& b) {
  return a.id == b.id && a.status == b.status && a.priority == b.priority &&
         a.scheduled == b.scheduled && SameText(a.resource, b.resource) &&
         SameText(a.worker_id, b.worker_id);
}

TriggerData* RequireTrigger(FunctionCallInfo fcinfo, const char* name) {
  if (!CALLED_AS_TRIGGER(fcinfo))
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("%s can only be called as a trigger", name)));
  return reinterpret_cast<TriggerData*>(fcinfo->context);
}

}  // namespace

// Before a statement changes queue.jobs, make the counters trustworthy; then
// count each row it changed; after TRUNCATE, forget the counters.
//
// Validating before the first row matters: AFTER ROW triggers fire once the
// whole statement has run, so a rebuild from the first row's trigger would
// already see (and count) every row of the statement, then count them again.
static Datum TrackCounts(FunctionCallInfo fcinfo) {
  TriggerData* trigger = RequireTrigger(fcinfo, "queue.track_counts()");
  RequireSharedCounters();
  TriggerEvent event = trigger->tg_event;
  Relation relation = trigger->tg_relation;
  if (TRIGGER_FIRED_BY_TRUNCATE(event)) {
    InvalidateCountersAtCommit();
    return PointerGetDatum(nullptr);
  }
  if (TRIGGER_FIRED_FOR_STATEMENT(event)) {
    EnsureCountersValid(RelationGetRelid(relation));
    return PointerGetDatum(nullptr);
  }
  TupleDesc desc = RelationGetDescr(relation);
  JobCountState old_row, new_row;
  const JobCountState* before = nullptr;
  const JobCountState* after = nullptr;
  if (TRIGGER_FIRED_BY_INSERT(event)) {
    new_row = ReadRow(trigger->tg_trigtuple, desc, relation->rd_id);
    after = &new_row;
    RequireEnqueuedAtNotAhead(trigger->tg_trigtuple, desc, new_row.id);
  } else if (TRIGGER_FIRED_BY_DELETE(event)) {
    old_row = ReadRow(trigger->tg_trigtuple, desc, relation->rd_id);
    before = &old_row;
  } else {
    old_row = ReadRow(trigger->tg_trigtuple, desc, relation->rd_id);
    new_row = ReadRow(trigger->tg_newtuple, desc, relation->rd_id);
    before = &old_row;
    after = &new_row;
    RequireLifecycle(old_row, new_row);
    if (EnqueuedAt(trigger->tg_trigtuple, desc) != EnqueuedAt(trigger->tg_newtuple, desc))
      RequireEnqueuedAtNotAhead(trigger->tg_newtuple, desc, new_row.id);
    if (SameCountedState(old_row, new_row)) return PointerGetDatum(nullptr);
  }
  RecordJobChange(RelationGetRelid(relation), before, after);
  return PointerGetDatum(nullptr);
}

// queue.workers changed: backends read its rows again (see registered_workers.hpp).
static Datum WorkersChangedTrigger(FunctionCallInfo fcinfo) {
  (void)RequireTrigger(fcinfo, "queue.workers_changed()");
  WorkersChanged();
  return PointerGetDatum(nullptr);
}

// Make every backend read the changed configuration table again at commit.
static Datum ConfigChanged(FunctionCallInfo fcinfo) {
  TriggerData* trigger = RequireTrigger(fcinfo, "queue.config_changed()");
  CacheInvalidateRelcache(trigger->tg_relation);
  return PointerGetDatum(nullptr);
}

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_track_counts, queue::TrackCounts)
QUEUE_SQL_FUNCTION(queue_config_changed, queue::ConfigChanged)
QUEUE_SQL_FUNCTION(queue_workers_changed, queue::WorkersChangedTrigger)
