// queue.dequeue(): claim up to max_jobs jobs for a render worker.
//
// Admission is decided against the shared running counters, not by counting
// rows: the claim reserves its worker's slots, then global slots, then one slot of each job's
// resource as it meets the job, in dispatch order. A job whose resource is
// full is skipped and its resource excluded for the rest of the call, so a
// full resource never blocks others; a resource missing from queue.resources
// has no slots at all. Reservations are exact under concurrency (one LWLock)
// and given back on abort by the ledger.
//
// A registered worker (its running jobs are counted in shared memory too)
// may hold up to its capacity while no other worker waits
// for slots, and its fair share of the global limit while one does (see
// policy::WorkerAllowance): a claim that came back short because of the
// limits marks its worker as waiting for a short while.
//
// A worker id registered by one role cannot be used by another (42501); each
// claimed attempt records the role that claimed it, so only that role (or a
// queue_admin) can end it, even for an unregistered worker id.
#include "queue/arguments.hpp"
#include "queue/boundary.hpp"
#include "queue/config.hpp"
#include "queue/datums.hpp"
#include "queue/ledger.hpp"
#include "queue/spi.hpp"

#include <algorithm>

extern "C" {
#include "utils/snapmgr.h"
#include "storage/lmgr.h"
}

namespace queue {

namespace {

enum DequeueArg { kWorkerId, kMaxJobs, kResources };
constexpr int kMaxJobsPerCall = 1000;

// A registered worker's state; whether its liveness is due a refresh (it is
// dead, or was last marked alive longer ago than $2); the capacity of the
// other live workers (silent for less than $3), and whether one of them is
// waiting for slots (a claim of theirs came back short within $4); all
// durations in microseconds.
SavedPlan read_worker = {
    "SELECT w.state = 'draining', w.capacity, w.resources, w.owner,"
    "  w.state = 'dead' OR w.last_heartbeat < now() - $2 * interval '1 microsecond',"
    "  others.capacity, others.waiting"
    " FROM queue.workers w,"
    "  LATERAL (SELECT coalesce(sum(o.capacity), 0) AS capacity,"
    "    coalesce(bool_or(o.short_claim_at > now() - $4 * interval '1 microsecond'), false)"
    "      AS waiting"
    "    FROM queue.workers o"
    "    WHERE o.worker_id <> w.worker_id AND o.state = 'active'"
    "      AND o.last_heartbeat > now() - $3 * interval '1 microsecond') others"
    " WHERE w.worker_id = $1",
    4,
    {TEXTOID, INT8OID, INT8OID, INT8OID},
    nullptr};

// Mark a worker alive: a claim counts as a heartbeat.
SavedPlan mark_alive = {
    "UPDATE queue.workers SET last_heartbeat = now(),"
    " state = CASE WHEN state = 'dead' THEN 'active'::queue.worker_state ELSE state END"
    " WHERE worker_id = $1",
    1,
    {TEXTOID},
    nullptr};

// A claim refreshes its worker's liveness at most this often, as a fraction
// of settings.worker_timeout: the row is not rewritten on every claim (a hot
// row, a dead tuple a claim), yet never looks silent while the worker claims.
constexpr int kLivenessRefreshesPerTimeout = 4;

// How recently another worker's claim must have come back short for it to
// count as waiting for slots: a few polling intervals of a busy worker.
constexpr policy::Micros kWaitingWindow = 10 * policy::kMicrosPerSecond;

// The worker got fewer jobs than it could hold because of the limits: others
// hold to their shares until it has its own.
SavedPlan mark_short_claim = {
    "UPDATE queue.workers SET short_claim_at = now() WHERE worker_id = $1", 1, {TEXTOID}, nullptr};

// Claimable jobs of one priority from where its queued jobs begin, in id
// order, locked (an arm of find_candidates); $1 the caller's resources,
// $2 full resources, $3 how many, $4 the worker's registered resources,
// $5 jobs this call already took, `bound` an id no queued job of the
// priority lies below.
#define QUEUE_CANDIDATES_OF(priority, bound)                                      \
  "SELECT * FROM (SELECT id, resource FROM queue.jobs"                            \
  " WHERE status = 'queued' AND" QUEUE_PRIORITY_FROM(priority, bound)             \
  "   AND run_at <= now()"                                                        \
  "   AND (resource IS NULL OR (($1 IS NULL OR resource = ANY($1))"               \
  "        AND ($4 IS NULL OR resource = ANY($4)) AND resource <> ALL($2)))"      \
  "   AND id <> ALL($5)"                                                          \
  " ORDER BY priority, id LIMIT $3 FOR UPDATE SKIP LOCKED) c"

// Claimable jobs in dispatch order: each priority's index scan starts where
// its queued jobs begin ($6, $7, $8 for high, medium, low), instead of
// walking over the entries of jobs claimed since vacuum last ran, which a
// long transaction elsewhere keeps from being removed; a lower priority is
// read only when the higher ones could not fill the claim.
SavedPlan find_candidates = {
    "SELECT id, resource FROM (" QUEUE_CANDIDATES_OF("high", "$6") " UNION ALL "
    QUEUE_CANDIDATES_OF("medium", "$7") " UNION ALL " QUEUE_CANDIDATES_OF("low", "$8")
    ") candidates LIMIT $3",
    8,
    {TEXTARRAYOID, TEXTARRAYOID, INT4OID, TEXTARRAYOID, INT8ARRAYOID, INT8OID, INT8OID, INT8OID},
    nullptr};
#undef QUEUE_CANDIDATES_OF

SavedPlan claim_jobs = {
    "WITH claimed AS ("
    "  UPDATE queue.jobs SET status = 'processing', attempts = attempts + 1, started_at = now(),"
    "    deadline = now() + timeout, worker_id = $2, worker_role = $3, cancel_requested = false"
    "  WHERE id = ANY($1) RETURNING *),"
    " logged AS ("
    "  INSERT INTO queue.job_events (job_id, from_status, to_status, worker_id, detail)"
    "  SELECT id, 'queued', 'processing', worker_id, 'attempt ' || attempts FROM claimed)"
    "SELECT * FROM claimed ORDER BY priority, id",
    3,
    {INT8ARRAYOID, TEXTOID, OIDOID},
    nullptr};

bool Contains(char** items, int count, const char* item) {
  for (int i = 0; i < count; i++)
    if (strcmp(items[i], item) == 0) return true;
  return false;
}

// What the worker registry says about the caller.
struct WorkerSlots {
  bool registered;
  bool draining;
  int allowance;    // jobs it may hold now (see policy::WorkerAllowance)
  int capacity;     // jobs it could hold were nobody else waiting
  Datum resources;  // registered resources (text[]) or 0
};

// Read the caller's registration and refresh its liveness when due; an
// unregistered caller may hold max_jobs more.
WorkerSlots ReadWorker(const Config& config, const char* worker_id, int max_jobs,
                       int global_limit) {
  Datum id = CStringGetTextDatum(worker_id);
  WorkerSlots slots{false, false, max_jobs, max_jobs, 0};
  Datum args[4] = {id, Int64GetDatum(config.worker_timeout / kLivenessRefreshesPerTimeout),
                   Int64GetDatum(config.worker_timeout), Int64GetDatum(kWaitingWindow)};
  if (SpiRun(read_worker, args, nullptr, SPI_OK_SELECT) == 0) return slots;
  slots.registered = true;
  bool no_owner = false;
  Datum owner = SpiValue(0, 4, &no_owner);
  CheckWorkerAccess(worker_id, no_owner ? InvalidOid : DatumGetObjectId(owner));
  slots.draining = DatumGetBool(SpiValueNotNull(0, 1));
  slots.capacity = DatumGetInt32(SpiValueNotNull(0, 2));
  bool isnull = false;
  Datum resources = SpiValue(0, 3, &isnull);
  if (!isnull) slots.resources = SPI_datumTransfer(resources, false, -1);
  bool refresh_liveness = DatumGetBool(SpiValueNotNull(0, 5));
  int64 live_capacity = DatumGetInt64(SpiValueNotNull(0, 6)) + slots.capacity;
  bool others_waiting = DatumGetBool(SpiValueNotNull(0, 7));
  slots.allowance =
      policy::WorkerAllowance(global_limit, slots.capacity, live_capacity, others_waiting);
  if (refresh_liveness) SpiRun(mark_alive, &id, nullptr, SPI_OK_UPDATE);
  return slots;
}

// Reserve the running slots of the claim: the worker's own (its jobs are
// counted in shared memory, so concurrent claims under one id are exact
// without a lock), then the global ones. Sets *came_back_short when the
// limits, not the worker's own capacity, held the claim back.
int ReserveRunningSlots(const WorkerSlots& worker, const char* worker_id, int max_jobs,
                        int global_limit, bool* came_back_short) {
  *came_back_short = false;
  if (worker.draining) return 0;
  if (!worker.registered) return Reserve(MakeKey(CounterKind::kRunningTotal), max_jobs, global_limit);
  CounterKey own = WorkerKey(worker_id);
  int64 running = VisibleCount(own);
  int could_take = static_cast<int>(std::clamp<int64>(worker.capacity - running, 0, max_jobs));
  int want = Reserve(own, max_jobs, worker.allowance);
  int reserved = Reserve(MakeKey(CounterKind::kRunningTotal), want, global_limit);
  *came_back_short = reserved < could_take;
  return reserved;
}

// Record the waits of first attempts for the stats window.
void RecordStarts(uint64 claimed) {
  TupleDesc desc = SPI_tuptable->tupdesc;
  int attempts_column = SPI_fnumber(desc, "attempts");
  int enqueued_column = SPI_fnumber(desc, "enqueued_at");
  int started_column = SPI_fnumber(desc, "started_at");
  MinuteStats stats{};
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  stats.minute = now / (60 * policy::kMicrosPerSecond);
  for (uint64 i = 0; i < claimed; i++) {
    if (DatumGetInt32(SpiValueNotNull(i, attempts_column)) != 1) continue;
    stats.started++;
    stats.wait_sum += DatumGetTimestampTz(SpiValueNotNull(i, started_column)) -
                      DatumGetTimestampTz(SpiValueNotNull(i, enqueued_column));
  }
  if (stats.started > 0) RecordMinuteStats(stats);
}

Datum Dequeue(FunctionCallInfo fcinfo) {
  const Config& config = RefreshConfig();
  char* worker_id = RequiredText(fcinfo, kWorkerId, "worker_id", kMaxIdLength);
  RequireArgument(fcinfo, kMaxJobs, "max_jobs");
  int max_jobs = PG_GETARG_INT32(kMaxJobs);
  if (max_jobs < 1 || max_jobs > kMaxJobsPerCall)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("max_jobs must be between 1 and %d", kMaxJobsPerCall),
                    errdetail("The value given is %d.", max_jobs)));
  char** wanted = nullptr;
  int wanted_count = OptionalTextArray(fcinfo, kResources, "resources", &wanted);
  for (int i = 0; i < wanted_count; i++) RequireResource(config, wanted[i]);

  InitMaterializedSRF(fcinfo, 0);
  Tuplestorestate* result = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo)->setResult;
  EnsureCountersValid(config.jobs_relid);
  // Whoever may still change the counters holds this lock (see the locking
  // rules in shared_counters.cpp): take it before reserving slots.
  LockRelationOid(config.jobs_relid, RowExclusiveLock);
  SpiConnect();
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  int global_limit = GlobalLimitAt(config, now);
  WorkerSlots worker = ReadWorker(config, worker_id, max_jobs, global_limit);
  bool came_back_short = false;
  int reserved = ReserveRunningSlots(worker, worker_id, max_jobs, global_limit, &came_back_short);
  if (came_back_short) {
    Datum id = CStringGetTextDatum(worker_id);
    SpiRun(mark_short_claim, &id, nullptr, SPI_OK_UPDATE);
  }

  // The bounds are read after the snapshot is taken: every job the snapshot
  // sees as queued lowered its priority's bound before it committed.
  Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
  int64 lowest_ids[policy::kPriorityCount];
  LowestQueuedIds(lowest_ids);
  static_assert(policy::kPriorityCount == 3, "find_candidates has one arm per priority");
  if (std::all_of(std::begin(lowest_ids), std::end(lowest_ids),
                  [](int64 id) { return id == PG_INT64_MAX; }))
    reserved = 0;  // nothing queued: give the slots back below

  int64* ids = static_cast<int64*>(palloc(sizeof(int64) * (reserved + 1)));
  int claimed = 0;
  int resource_count = static_cast<int>(config.resources.size());
  char** full = static_cast<char**>(palloc(sizeof(char*) * (resource_count + 1)));
  int full_count = 0;
  // Each round either fills the claim or excludes one more full resource.
  for (int round = 0; claimed < reserved && round <= resource_count; round++) {
    int ask = reserved - claimed;
    Datum args[8] = {PG_ARGISNULL(kResources) ? 0 : TextArrayDatum(wanted, wanted_count),
                     TextArrayDatum(full, full_count),
                     Int32GetDatum(ask),
                     worker.resources,
                     Int64ArrayDatum(ids, claimed),
                     Int64GetDatum(lowest_ids[0]),
                     Int64GetDatum(lowest_ids[1]),
                     Int64GetDatum(lowest_ids[2])};
    char nulls[8] = {args[0] ? ' ' : 'n', ' ', ' ', worker.resources ? ' ' : 'n', ' ', ' ', ' ', ' '};
    uint64 found = SpiRunOnSnapshot(find_candidates, args, nulls, snapshot, SPI_OK_SELECT);
    bool excluded_more = false;
    for (uint64 i = 0; i < found && claimed < reserved; i++) {
      char* resource = SpiText(i, 2);
      if (resource != nullptr) {
        if (Contains(full, full_count, resource)) continue;
        const ResourceConfig* limited = config.FindResource(resource);
        int limit = limited != nullptr ? ResourceLimitAt(config, *limited, now) : 0;
        if (Reserve(MakeKey(CounterKind::kRunningResource, 0, 0, resource), 1, limit) == 0) {
          full[full_count++] = resource;
          excluded_more = true;
          continue;
        }
      }
      ids[claimed++] = DatumGetInt64(SpiValueNotNull(i, 1));
    }
    if (found < static_cast<uint64>(ask) || !excluded_more) break;
  }

  UnregisterSnapshot(snapshot);

  if (claimed > 0) {
    Datum args[3] = {Int64ArrayDatum(ids, claimed), CStringGetTextDatum(worker_id),
                     ObjectIdGetDatum(CallingRole())};
    uint64 rows = SpiRun(claim_jobs, args, nullptr, SPI_OK_SELECT);
    for (uint64 i = 0; i < rows; i++) tuplestore_puttuple(result, SPI_tuptable->vals[i]);
    RecordStarts(rows);
  }
  ReleaseReservations();
  SpiFinish();
  return static_cast<Datum>(0);
}

}  // namespace

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_dequeue, queue::Dequeue)
