// queue.dequeue(): claim up to max_jobs jobs for a render worker.
//
// Admission is decided against the shared running counters, not by counting
// rows: the claim reserves its worker's slots, then global slots, then one
// slot of each job's resource as its scan meets the job, in dispatch order
// (queue.claim_resource_slot()). A job whose resource is full is skipped and
// its resource excluded for the rest of the call, so a full resource never
// blocks others; a resource missing from queue.resources has no slots at all.
// Reservations are exact under concurrency (one LWLock) and given back on
// abort by the ledger.
//
// A registered worker (its running jobs are counted in shared memory too)
// may hold up to its capacity while no other worker waits for slots, and its
// fair share of the global limit while one does (see policy::WorkerAllowance):
// a claim that came back short because of the limits marks its worker as
// waiting for a short while. The registration is read from the backend's
// copy while queue.workers has not changed (see registered_workers.hpp).
//
// A worker id registered by one role cannot be used by another (42501); each
// claimed attempt records the role that claimed it, so only that role (or a
// queue_admin) can end it, even for an unregistered worker id.
#include "queue/arguments.hpp"
#include "queue/boundary.hpp"
#include "queue/config.hpp"
#include "queue/datums.hpp"
#include "queue/ledger.hpp"
#include "queue/registered_workers.hpp"
#include "queue/scheduled_jobs.hpp"
#include "queue/spi.hpp"

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

extern "C" {
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/snapmgr.h"
}

namespace queue {

namespace {

enum DequeueArg { kWorkerId, kMaxJobs, kResources };
constexpr int kMaxJobsPerCall = 1000;

// The capacity of the workers other than $1 that are live (silent for less
// than $2), and whether one of them is waiting for slots (a claim of theirs
// came back short within $3); durations in microseconds.
SavedPlan read_other_workers = {
    "SELECT coalesce(sum(capacity), 0),"
    "  coalesce(bool_or(short_claim_at > now() - $3 * interval '1 microsecond'), false)"
    " FROM queue.workers"
    " WHERE worker_id <> $1 AND state = 'active'"
    "   AND last_heartbeat > now() - $2 * interval '1 microsecond'",
    3,
    {TEXTOID, INT8OID, INT8OID},
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

// Claim up to $1 claimable jobs of one priority in id order, from where its
// queued jobs begin ($4: an id no queued job of the priority lies below)
// instead of walking over the entries of jobs claimed since vacuum last ran,
// which a long transaction elsewhere keeps from being removed. $2 the worker
// id, $3 the calling role, $5 the caller's resources, $6 the worker's
// registered resources. A job with a resource is taken only when
// queue.claim_resource_slot() reserves it a running slot of that resource;
// the call costs more than every other condition, so the planner evaluates
// it last, for jobs that are otherwise claimable. One statement finds, locks,
// claims and logs: the claim path's cost is mostly executor start-up.
#define QUEUE_CLAIM_OF(priority, ids_in, ids_end, in_order) \
  "WITH claimed AS ("                                                                   \
  "  UPDATE queue.jobs SET status = 'processing', attempts = attempts + 1,"             \
  "    started_at = now(), deadline = now() + timeout, worker_id = $2,"                 \
  "    worker_role = $3, cancel_requested = false"                                      \
  "  WHERE id " ids_in                                                                   \
  "    SELECT id FROM queue.jobs"                                                       \
  "     WHERE status = 'queued' AND" QUEUE_PRIORITY_FROM(priority, "$4")                \
  "       AND run_at <= now()"                                                          \
  "       AND (resource IS NULL OR (($5 IS NULL OR resource = ANY($5))"                 \
  "            AND ($6 IS NULL OR resource = ANY($6))"                                  \
  "            AND queue.claim_resource_slot(resource)))"                              \
  "     ORDER BY priority, id LIMIT $1 FOR UPDATE SKIP LOCKED" ids_end                  \
  "  RETURNING *),"                                                                     \
  " logged AS ("                                                                        \
  "  INSERT INTO queue.job_events (job_id, from_status, to_status, worker_id, detail)"  \
  "  SELECT id, 'queued', 'processing', worker_id, 'attempt ' || attempts FROM claimed)" \
  "SELECT * FROM claimed" in_order

#define QUEUE_CLAIM_PLAN(priority, ids_in, ids_end, in_order)                              \
  {                                                                                        \
    QUEUE_CLAIM_OF(priority, ids_in, ids_end, in_order), 6,                                \
        {INT4OID, TEXTOID, OIDOID, INT8OID, TEXTARRAYOID, TEXTARRAYOID}, nullptr           \
  }
#define QUEUE_CLAIM_MANY(priority) \
  QUEUE_CLAIM_PLAN(priority, "= ANY(ARRAY(", "))", " ORDER BY id")
#define QUEUE_CLAIM_ONE(priority) QUEUE_CLAIM_PLAN(priority, "= (", ")", "")

// One statement per priority, in dispatch order: each keeps its priority a
// literal, and a claim runs only the ones it needs. A claim of one job (a
// worker's usual call) has statements of its own: a scalar subquery and no
// sort cost less to start than an array of ids and its ordering.
SavedPlan claim_of_priority[] = {QUEUE_CLAIM_MANY("high"), QUEUE_CLAIM_MANY("medium"),
                                 QUEUE_CLAIM_MANY("low")};
SavedPlan claim_one_of_priority[] = {QUEUE_CLAIM_ONE("high"), QUEUE_CLAIM_ONE("medium"),
                                     QUEUE_CLAIM_ONE("low")};
static_assert(std::size(claim_of_priority) == policy::kPriorityCount &&
                  std::size(claim_one_of_priority) == policy::kPriorityCount,
              "one claim statement per priority");
#undef QUEUE_CLAIM_ONE
#undef QUEUE_CLAIM_MANY
#undef QUEUE_CLAIM_PLAN
#undef QUEUE_CLAIM_OF

// Where a claim of `priority` starts, `lowest` being its LowestQueuedIds:
// there, or, when many of its queued jobs are scheduled for later or
// retried, at its first claimable job, so that a claim does not read every
// job of a batch scheduled for tonight on its way to the jobs behind it.
// That job is the first claimable from its enqueue (none lies below
// LowestUnscheduledIdSeen) or the first due of the others, whichever comes
// first; when more of those are due than the look-up reads, the claim
// starts at `lowest`. Not in a REPEATABLE READ transaction, whose snapshot
// may be older than the counts: a job that a later commit made scheduled,
// claimable in that snapshot, would be passed over. (SPI connected;
// `snapshot` is the claim's.)
int64 ClaimStart(int priority, int64 lowest, Snapshot snapshot) {
  if (IsolationUsesXactSnapshot() ||
      ReadCounter(MakeKey(CounterKind::kQueuedScheduled, priority)) < kScheduledWorthPassing)
    return lowest;
  const int64 unscheduled = LowestUnscheduledIdSeen(priority);
  if (unscheduled <= lowest) return lowest;  // nothing to pass over
  const ScheduledRead due = ReadScheduled(priority, ScheduledSide::kDue, 0, snapshot);
  return due.all_read ? std::min(unscheduled, due.first_id) : lowest;
}

// The claim this backend is making, for queue.claim_resource_slot(): the
// (sub)transaction it runs in (none: no claim; a claim that failed leaves
// its subtransaction or transaction behind, so a later call cannot pass as
// its), and the resources it found full, which are not asked again for every
// later job of theirs the scan meets.
struct ResourceClaims {
  LocalTransactionId transaction = InvalidLocalTransactionId;
  SubTransactionId subtransaction = InvalidSubTransactionId;
  std::vector<std::string> full;

  bool InProgress() const {
    return transaction == MyProc->lxid && subtransaction == GetCurrentSubTransactionId();
  }
};
ResourceClaims resource_claims;

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
  WorkerSlots slots{false, false, max_jobs, max_jobs, 0};
  // `row` lives in the backend's copies, which mark_alive below empties (the
  // trigger on queue.workers): every use of it comes before.
  const RegisteredWorker& row = LookUpWorker(worker_id);
  if (!row.registered) {
    RequireNoForeignAttempts(worker_id);
    return slots;
  }
  CheckWorkerAccess(worker_id, row.owner);
  slots.registered = true;
  slots.draining = row.draining;
  slots.capacity = row.capacity;
  if (!row.any_resource) {
    int count = static_cast<int>(row.resources.size());
    char** names = static_cast<char**>(palloc(sizeof(char*) * (count + 1)));
    for (int i = 0; i < count; i++) names[i] = const_cast<char*>(row.resources[i].c_str());
    slots.resources = TextArrayDatum(names, count);
  }
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  bool refresh_liveness =
      row.dead || row.last_heartbeat < now - config.worker_timeout / kLivenessRefreshesPerTimeout;
  Datum id = CStringGetTextDatum(worker_id);

  // Only a claim that came back short makes its worker wait for slots, and
  // every one is noted in shared memory as well: without one in the window,
  // nobody waits, and the worker may hold its capacity without reading the
  // others (the common case, and a statement less on every claim).
  int64 live_capacity = slots.capacity;
  bool others_waiting = false;
  if (ShortClaimSince(now - kWaitingWindow)) {
    Datum others_args[3] = {id, Int64GetDatum(config.worker_timeout),
                            Int64GetDatum(kWaitingWindow)};
    SpiRun(read_other_workers, others_args, nullptr, SPI_OK_SELECT);
    live_capacity += DatumGetInt64(SpiValueNotNull(0, 1));
    others_waiting = DatumGetBool(SpiValueNotNull(0, 2));
  }
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
  if (!worker.registered)
    return Reserve(MakeKey(CounterKind::kRunningTotal), max_jobs, global_limit);
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
    NoteShortClaim();
    Datum id = CStringGetTextDatum(worker_id);
    SpiRun(mark_short_claim, &id, nullptr, SPI_OK_UPDATE);
  }

  // The bounds are read after the snapshot is taken: every job the snapshot
  // sees as queued lowered its priority's bound before it committed.
  Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
  int64 lowest_ids[policy::kPriorityCount];
  LowestQueuedIds(lowest_ids);
  resource_claims.transaction = MyProc->lxid;
  resource_claims.subtransaction = GetCurrentSubTransactionId();
  resource_claims.full.clear();
  Datum wanted_resources = PG_ARGISNULL(kResources) ? 0 : TextArrayDatum(wanted, wanted_count);
  Datum args[6] = {0,
                   CStringGetTextDatum(worker_id),
                   ObjectIdGetDatum(CallingRole()),
                   0,
                   wanted_resources,
                   worker.resources};
  const char nulls[6] = {
      ' ', ' ', ' ', ' ', wanted_resources ? ' ' : 'n', worker.resources ? ' ' : 'n'};
  int claimed = 0;
  for (int priority = 0; priority < policy::kPriorityCount && claimed < reserved; priority++) {
    if (lowest_ids[priority] == PG_INT64_MAX) continue;  // nothing of it queued
    const int64 start = ClaimStart(priority, lowest_ids[priority], snapshot);
    if (start == PG_INT64_MAX) continue;  // nothing of it claimable
    const int wanted_now = reserved - claimed;
    args[0] = Int32GetDatum(wanted_now);
    args[3] = Int64GetDatum(start);
    SavedPlan& claim =
        wanted_now == 1 ? claim_one_of_priority[priority] : claim_of_priority[priority];
    uint64 rows = SpiRunOnSnapshot(claim, args, nulls, snapshot, SPI_OK_SELECT);
    for (uint64 i = 0; i < rows; i++) tuplestore_puttuple(result, SPI_tuptable->vals[i]);
    RecordStarts(rows);
    claimed += static_cast<int>(rows);
  }
  resource_claims.transaction = InvalidLocalTransactionId;
  UnregisterSnapshot(snapshot);
  ReleaseReservations();
  SpiFinish();
  return static_cast<Datum>(0);
}

// queue.claim_resource_slot(resource): inside a claim, reserve one running
// slot of the resource for the job the claim is looking at; false when the
// resource is full or has no slots at all (missing from queue.resources).
// A reservation the claim does not use is given back when the claim ends,
// as are the global ones: the job was locked by another claim after all, or
// was changed by a transaction that committed meanwhile, and the re-check of
// its new version asked again (then, if the resource had one slot left, the
// job waits for the next claim).
Datum ClaimResourceSlot(FunctionCallInfo fcinfo) {
  if (!resource_claims.InProgress())
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("queue.claim_resource_slot() can only run inside queue.dequeue()")));
  const char* resource = text_to_cstring(PG_GETARG_TEXT_PP(0));
  for (const std::string& full : resource_claims.full)
    if (full == resource) PG_RETURN_BOOL(false);
  const Config& config = RefreshConfig();
  const ResourceConfig* limited = config.FindResource(resource);
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  int limit = limited != nullptr ? ResourceLimitAt(config, *limited, now) : 0;
  if (Reserve(MakeKey(CounterKind::kRunningResource, 0, 0, resource), 1, limit) == 1)
    PG_RETURN_BOOL(true);
  resource_claims.full.emplace_back(resource);
  PG_RETURN_BOOL(false);
}

}  // namespace

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_dequeue, queue::Dequeue)
QUEUE_SQL_FUNCTION(queue_claim_resource_slot, queue::ClaimResourceSlot)
