// Shared-memory storage of the exact job counters (see shared_counters.hpp).
//
// Locking rules:
// - One LWLock (shared->lock) guards the database slots, the counter hash and
//   the worker latch. It is held only for a few memory operations: no SQL, no
//   catalog access, no ereport() and no allocation that can fail while held
//   (a full hash is reported after the lock is released).
// - Every transaction that pins counters (see ledger.hpp) holds
//   RowExclusiveLock on queue.jobs: writers by their DML, dequeue() explicitly
//   before it reserves. A rebuild takes ShareLock on queue.jobs, so it waits
//   until no transaction can still change the counters, counts the table on a
//   snapshot taken after that wait, and releases the lock at once.
// - A rebuild never runs while its own transaction holds a lock on queue.jobs
//   from an earlier statement: callers validate first (EnsureCountersValid
//   at the start of a function, or the jobs table's BEFORE statement trigger).
#include "queue/shared_counters.hpp"

#include "queue/boundary.hpp"
#include "queue/config.hpp"
#include "queue/gucs.hpp"
#include "queue/ledger.hpp"
#include "queue/policy/estimate.hpp"
#include "queue/policy/job_state.hpp"
#include "queue/spi.hpp"

#include <algorithm>

extern "C" {
#include "access/xlog.h"
#include "common/hashfn.h"
#include "storage/lmgr.h"
#include "utils/syscache.h"
}

namespace queue {

namespace {

constexpr int kMaxDatabases = 64;
constexpr int kMinuteSlots = 64;  // more than the longest stats window (60 min)
constexpr const char* kTrancheName = "queue";

// What one database's counters share besides the hash entries.
struct DatabaseSlot {
  Oid database;
  bool valid;
  Oid jobs_relid;                              // queue.jobs the counters describe
  int64 refused_results;                       // complete()/fail() of attempts not held
  int64 lowest_block[policy::kPriorityCount];  // no queued block below this
  bool positions_in_table;            // the position counters did not fit (PositionsCountedInTable)
  TimestampTz positions_checked;      // when they last did not, or a pass last counted
  MinuteStats minutes[kMinuteSlots];  // ring indexed by minute % kMinuteSlots
  TimestampTz renders_read_at;        // when `renders` was read (0: never)
  int renders_count;
  RunningRender renders[kMaxSharedRenders];  // see PublishRunningRenders
};

struct SharedState {
  LWLock* lock;
  DatabaseSlot databases[kMaxDatabases];
  Latch* worker_latch;                  // the background worker's, while it runs
  pg_atomic_uint32 pass_requested;      // WakeWorker asked for a pass at once
  pg_atomic_uint64 last_short_claim;    // TimestampTz, see NoteShortClaim
  pg_atomic_uint64 workers_generation;  // see BumpWorkersGeneration
};

SharedState* shared = nullptr;
HTAB* counters = nullptr;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

// Reserve the shared memory and the lock while the postmaster starts.
void RequestShmem() {
  if (previous_request_hook != nullptr) previous_request_hook();
  RequestAddinShmemSpace(MAXALIGN(sizeof(SharedState)));
  RequestAddinShmemSpace(hash_estimate_size(queue_max_counters, sizeof(SharedCounter)));
  RequestNamedLWLockTranche(kTrancheName, 1);
}

// Attach to (or create, first time) the shared state and the counter hash.
void StartupShmem() {
  if (previous_startup_hook != nullptr) previous_startup_hook();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  shared = static_cast<SharedState*>(ShmemInitStruct("queue state", sizeof(SharedState), &found));
  if (!found) {
    memset(shared, 0, sizeof(SharedState));
    shared->lock = &(GetNamedLWLockTranche(kTrancheName))->lock;
    pg_atomic_init_u32(&shared->pass_requested, 0);
    // Short claims recorded in queue.workers before the server started are
    // not known here: count as one just now.
    pg_atomic_init_u64(&shared->last_short_claim, static_cast<uint64>(GetCurrentTimestamp()));
    pg_atomic_init_u64(&shared->workers_generation, 0);
  }
  HASHCTL info;
  memset(&info, 0, sizeof(info));
  info.keysize = sizeof(CounterKey);
  info.entrysize = sizeof(SharedCounter);
  // Fixed size: a full hash refuses new counters (RaiseCountersFull) rather
  // than take the rest of the server's shared memory, which the lock manager
  // of every database grows into.
  counters = ShmemInitHash("queue counters", queue_max_counters, queue_max_counters, &info,
                           HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
  LWLockRelease(AddinShmemInitLock);
}

// This database's slot, claimed on first use when `create` (the caller then
// holds the lock exclusively); nullptr when it has none, or none is free.
DatabaseSlot* FindSlot(bool create) {
  DatabaseSlot* free_slot = nullptr;
  for (DatabaseSlot& slot : shared->databases) {
    if (slot.database == MyDatabaseId) return &slot;
    if (slot.database == InvalidOid && free_slot == nullptr) free_slot = &slot;
  }
  if (!create || free_slot == nullptr) return nullptr;
  memset(free_slot, 0, sizeof(*free_slot));
  free_slot->database = MyDatabaseId;
  return free_slot;
}

[[noreturn]] void RaiseNoFreeSlot() {
  ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                  errmsg("queue is in use in more than %d databases", kMaxDatabases),
                  errhint("Use the queue extension in fewer databases of this cluster.")));
  pg_unreachable();
}

// Remove every counter of a database. Caller holds the lock exclusively.
void RemoveDatabaseCounters(Oid database) {
  HASH_SEQ_STATUS scan;
  hash_seq_init(&scan, counters);
  while (auto* counter = static_cast<SharedCounter*>(hash_seq_search(&scan))) {
    if (counter->key.database != database) continue;
    if (counter->pins == 0)
      hash_search(counters, &counter->key, HASH_REMOVE, nullptr);
    else
      counter->value = 0;
  }
}

// Counters of id blocks and ranges come and go with the queue, as many as
// its jobs' ids are spread: they may fill the hash up to this many entries,
// and the rest stays for the counters the limits need, which are few. (Ids
// cost nothing to spread: a rolled-back enqueue uses one up.)
long PositionCounterBudget() { return queue_max_counters / 4 * 3; }

// Find or create a counter under the exclusive lock; nullptr when the hash is full.
SharedCounter* EnterCounterOrNull(const CounterKey& key) {
  bool found = false;
  auto* counter = static_cast<SharedCounter*>(hash_search(counters, &key, HASH_ENTER_NULL, &found));
  if (counter != nullptr && !found) {
    counter->value = 0;
    counter->samples = 0;
    counter->pins = 0;
  }
  return counter;
}

// A counter's value, 0 when it has no entry, and whether a transaction may
// still change it (it holds a pin): one that committed a moment ago is seen
// by snapshots before its change reaches the counter. Caller holds the lock.
struct CounterReading {
  int64 value;
  bool pinned;
};
CounterReading ReadUnderLock(const CounterKey& key) {
  auto* counter = static_cast<SharedCounter*>(hash_search(counters, &key, HASH_FIND, nullptr));
  if (counter == nullptr) return {0, false};
  return {counter->value, counter->pins > 0};
}

// A counter's value, 0 when it has no entry. Caller holds the lock.
int64 CounterValue(const CounterKey& key) { return ReadUnderLock(key).value; }

// Release the exclusive lock and report that the counter hash is full.
[[noreturn]] void RaiseCountersFull() {
  LWLockRelease(shared->lock);
  ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("queue counters are full"),
                  errhint("Raise queue.max_counters (now %d) and restart the server.",
                          queue_max_counters)));
  pg_unreachable();
}

// Find or create a counter under the exclusive lock; error when the hash is full.
SharedCounter* EnterCounter(const CounterKey& key) {
  SharedCounter* counter = EnterCounterOrNull(key);
  if (counter == nullptr) RaiseCountersFull();
  return counter;
}

// Find or create a position counter of `slot`'s database under the exclusive
// lock; nullptr while its positions are counted in the table, which starts
// now when a new counter would pass the budget (*moved is then set).
SharedCounter* PositionCounterOrNull(DatabaseSlot* slot, const CounterKey& key, bool* moved) {
  if (slot->positions_in_table) return nullptr;
  if (auto* counter = static_cast<SharedCounter*>(hash_search(counters, &key, HASH_FIND, nullptr)))
    return counter;
  if (hash_get_num_entries(counters) < PositionCounterBudget()) {
    if (SharedCounter* counter = EnterCounterOrNull(key)) return counter;
  }
  slot->positions_in_table = true;
  slot->positions_checked = GetCurrentTimestamp();
  *moved = true;
  return nullptr;
}

// Whether a counter is no longer needed once unpinned: empty, or counting
// positions of a database whose positions are counted in the table.
bool Unneeded(const SharedCounter& counter, const DatabaseSlot* slot) {
  if (!IsTransientKind(counter.key.kind)) return false;
  return counter.value == 0 ||
         (slot != nullptr && slot->positions_in_table && IsQueuedPositionKind(counter.key.kind));
}

// Drop this database's unneeded position counters (all unpinned ones while
// its positions are counted in the table), and set where its queued ids
// start from the block counters left. Caller holds the lock exclusively.
void CompactPositionCounters(DatabaseSlot* slot) {
  int64 lowest[policy::kPriorityCount];
  std::fill(std::begin(lowest), std::end(lowest), PG_INT64_MAX);
  HASH_SEQ_STATUS scan;
  hash_seq_init(&scan, counters);
  while (auto* counter = static_cast<SharedCounter*>(hash_seq_search(&scan))) {
    if (counter->key.database != MyDatabaseId || !IsQueuedPositionKind(counter->key.kind)) continue;
    if (counter->pins == 0 && Unneeded(*counter, slot)) {
      hash_search(counters, &counter->key, HASH_REMOVE, nullptr);
    } else if (counter->key.kind == static_cast<uint8>(CounterKind::kQueuedBlock)) {
      lowest[counter->key.slot] = std::min(lowest[counter->key.slot], counter->key.block);
    }
  }
  std::copy(std::begin(lowest), std::end(lowest), slot->lowest_block);
}

void LogPositionsInCounters() {
  ereport(LOG, (errmsg("queue: positions in database %u are counted by the counters again",
                       MyDatabaseId)));
}

void LogPositionsInTable() {
  ereport(LOG, (errmsg("queue: positions in database %u are counted in the table from now on",
                       MyDatabaseId),
                errdetail("The queued jobs' ids are spread over more blocks than the counters "
                          "have room for (%ld of queue.max_counters = %d).",
                          PositionCounterBudget(), queue_max_counters),
                errhint("Positions take longer in a long queue until its jobs fit the counters "
                        "again (a pass checks every 60 tick intervals), or raise "
                        "queue.max_counters and restart the server.")));
}

// Free the slots and counters of databases dropped since they used queue.
// The catalog is read without the lock held; a dropped database has no
// sessions left that could use its slot meanwhile.
void ReclaimDroppedDatabases() {
  Oid databases[kMaxDatabases];
  LWLockAcquire(shared->lock, LW_SHARED);
  for (int i = 0; i < kMaxDatabases; i++) databases[i] = shared->databases[i].database;
  LWLockRelease(shared->lock);
  bool dropped[kMaxDatabases] = {};
  bool any = false;
  for (int i = 0; i < kMaxDatabases; i++) {
    dropped[i] = OidIsValid(databases[i]) &&
                 !SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(databases[i]));
    any = any || dropped[i];
  }
  if (!any) return;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  for (int i = 0; i < kMaxDatabases; i++) {
    if (!dropped[i] || shared->databases[i].database != databases[i]) continue;
    RemoveDatabaseCounters(databases[i]);
    memset(&shared->databases[i], 0, sizeof(DatabaseSlot));
  }
  LWLockRelease(shared->lock);
}

// Add one minute's figures into another's.
void AddMinute(MinuteStats& into, const MinuteStats& minute) {
  into.completed += minute.completed;
  into.failed += minute.failed;
  into.started += minute.started;
  into.run_sum += minute.run_sum;
  into.wait_sum += minute.wait_sum;
}

// One row of a rebuild: a key and the count the table holds for it.
struct RebuiltCount {
  CounterKey key;
  int64 count;
};

SavedPlan count_by_status = {
    "SELECT status::text, count(*) FROM queue.jobs GROUP BY status", 0, {}, nullptr};
SavedPlan count_running = {
    "SELECT resource, count(*) FROM queue.jobs WHERE status = 'processing' GROUP BY resource",
    0,
    {},
    nullptr};
SavedPlan count_running_per_worker = {
    "SELECT worker_id, count(*) FROM queue.jobs"
    " WHERE status = 'processing' AND worker_id IS NOT NULL GROUP BY worker_id",
    0,
    {},
    nullptr};
// In order, so that a range's blocks come together.
SavedPlan count_queued_blocks = {
    "SELECT priority::text, id >> 8, count(*), count(*) FILTER (WHERE run_at > enqueued_at)"
    " FROM queue.jobs WHERE status = 'queued' GROUP BY priority, id >> 8 ORDER BY priority, 2",
    0,
    {},
    nullptr};
SavedPlan count_queued_scheduled = {
    "SELECT priority::text, count(*) FROM queue.jobs"
    " WHERE status = 'queued' AND run_at > enqueued_at GROUP BY priority",
    0,
    {},
    nullptr};

// Which snapshot a count of queue.jobs sees: one taken now, after the
// rebuild's wait (kLatest), or the transaction's own, consistent with what
// its other statements read (kTransaction).
enum class CountSnapshot { kLatest, kTransaction };

// Run one of the counting statements on the chosen snapshot.
uint64 RunCount(SavedPlan& plan, CountSnapshot snapshot) {
  if (snapshot == CountSnapshot::kLatest) return SpiRunOnLatestSnapshot(plan, SPI_OK_SELECT);
  return SpiRun(plan, nullptr, nullptr, SPI_OK_SELECT);
}

// Count queue.jobs into rows palloc'd in the caller's memory context (no lock
// held: the scan may be long); with `positions_only`, the counters of id
// blocks and ranges alone (a scan of the queued jobs, not the table).
RebuiltCount* CountJobs(CountSnapshot snapshot, int* count_out, bool positions_only = false) {
  static_assert(kIdBlockShift == 8, "count_queued_blocks groups ids by 256");
  PinSearchPath();
  SpiConnect();
  int capacity = 16;
  int used = 0;
  auto* rows = static_cast<RebuiltCount*>(SPI_palloc(sizeof(RebuiltCount) * capacity));
  auto add = [&](const CounterKey& key, int64 count) {
    if (used == capacity) {
      capacity *= 2;
      rows = static_cast<RebuiltCount*>(repalloc(rows, sizeof(RebuiltCount) * capacity));
    }
    rows[used++] = RebuiltCount{key, count};
  };
  // Sum the block rows [first, first + count), in order, into rows of their ranges.
  auto add_ranges = [&](int first, int count, CounterKind range_kind) {
    const int first_range = used;
    for (int b = first; b < first + count; b++) {
      CounterKey range =
          MakeKey(range_kind, rows[b].key.slot, rows[b].key.block >> kBlockRangeShift);
      if (used > first_range && memcmp(&rows[used - 1].key, &range, sizeof(range)) == 0)
        rows[used - 1].count += rows[b].count;
      else
        add(range, rows[b].count);
    }
  };

  uint64 n = 0;
  if (!positions_only) {
    n = RunCount(count_by_status, snapshot);
    for (uint64 i = 0; i < n; i++) {
      auto status = policy::ParseJobStatus(SpiText(i, 1));
      add(MakeKey(CounterKind::kStatus, static_cast<int>(*status)),
          DatumGetInt64(SpiValueNotNull(i, 2)));
    }
    n = RunCount(count_running, snapshot);
    int64 running = 0;
    for (uint64 i = 0; i < n; i++) {
      int64 count = DatumGetInt64(SpiValueNotNull(i, 2));
      running += count;
      if (char* resource = SpiText(i, 1))
        add(MakeKey(CounterKind::kRunningResource, 0, 0, resource), count);
    }
    add(MakeKey(CounterKind::kRunningTotal), running);
    n = RunCount(count_running_per_worker, snapshot);
    for (uint64 i = 0; i < n; i++)
      add(WorkerKey(SpiText(i, 1)), DatumGetInt64(SpiValueNotNull(i, 2)));
  }
  n = RunCount(count_queued_blocks, snapshot);
  int64 per_priority[policy::kPriorityCount] = {};
  int first_block_row = used;  // ranges are summed from blocks, after them
  int block_rows = 0;
  for (uint64 i = 0; i < n; i++) {
    int priority = static_cast<int>(*policy::ParsePriority(SpiText(i, 1)));
    int64 count = DatumGetInt64(SpiValueNotNull(i, 3));
    per_priority[priority] += count;
    add(MakeKey(CounterKind::kQueuedBlock, priority, DatumGetInt64(SpiValueNotNull(i, 2))), count);
    block_rows++;
  }
  add_ranges(first_block_row, block_rows, CounterKind::kQueuedRange);
  int first_scheduled_row = used;
  int scheduled_rows = 0;
  for (uint64 i = 0; i < n; i++) {  // the blocks' jobs scheduled for later or retried
    int64 scheduled = DatumGetInt64(SpiValueNotNull(i, 4));
    if (scheduled == 0) continue;
    int priority = static_cast<int>(*policy::ParsePriority(SpiText(i, 1)));
    add(MakeKey(CounterKind::kQueuedScheduledBlock, priority, DatumGetInt64(SpiValueNotNull(i, 2))),
        scheduled);
    scheduled_rows++;
  }
  add_ranges(first_scheduled_row, scheduled_rows, CounterKind::kQueuedScheduledRange);
  if (!positions_only) {
    for (int p = 0; p < policy::kPriorityCount; p++)
      add(MakeKey(CounterKind::kQueuedPriority, p), per_priority[p]);
    n = RunCount(count_queued_scheduled, snapshot);
    for (uint64 i = 0; i < n; i++)
      add(MakeKey(CounterKind::kQueuedScheduled,
                  static_cast<int>(*policy::ParsePriority(SpiText(i, 1)))),
          DatumGetInt64(SpiValueNotNull(i, 2)));
  }
  SpiFinish();
  UnpinSearchPath();
  *count_out = used;
  return rows;
}

// Set the counters of counted rows under the exclusive lock, where the
// lowest queued blocks start from PG_INT64_MAX; the rows of id blocks and
// ranges are left out while `slot`'s positions are counted in the table.
void EnterCountedRows(DatabaseSlot* slot, const RebuiltCount* rows, int count) {
  for (int i = 0; i < count; i++) {
    if (slot->positions_in_table && IsQueuedPositionKind(rows[i].key.kind)) continue;
    SharedCounter* counter = EnterCounter(rows[i].key);
    counter->value = rows[i].count;
    if (rows[i].key.kind == static_cast<uint8>(CounterKind::kQueuedBlock)) {
      int64& lowest = slot->lowest_block[rows[i].key.slot];
      lowest = std::min(lowest, rows[i].key.block);
    }
  }
}

// Whether this database's shared counters describe the table `jobs_relid`.
bool SlotValidFor(Oid jobs_relid) {
  LWLockAcquire(shared->lock, LW_SHARED);
  DatabaseSlot* slot = FindSlot(false);
  bool valid = slot != nullptr && slot->valid && slot->jobs_relid == jobs_relid;
  LWLockRelease(shared->lock);
  return valid;
}

// Replace this database's counters with counts of the table. The caller holds
// ShareLock on queue.jobs, so no other transaction pins them meanwhile.
void RebuildCounters(Oid jobs_relid) {
  int count = 0;
  RebuiltCount* rows = CountJobs(CountSnapshot::kLatest, &count);
  ReclaimDroppedDatabases();
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  DatabaseSlot* slot = FindSlot(true);
  if (slot == nullptr) {
    LWLockRelease(shared->lock);
    RaiseNoFreeSlot();
  }
  RemoveDatabaseCounters(MyDatabaseId);
  if (slot->jobs_relid != jobs_relid) {
    // A new queue.jobs (the extension was created again): the figures of
    // the old one's finished attempts are no history of this one.
    memset(slot->minutes, 0, sizeof(slot->minutes));
    slot->refused_results = 0;
  }
  for (int p = 0; p < policy::kPriorityCount; p++) slot->lowest_block[p] = PG_INT64_MAX;
  slot->renders_read_at = 0;
  long position_rows = 0;
  for (int i = 0; i < count; i++) position_rows += IsQueuedPositionKind(rows[i].key.kind) ? 1 : 0;
  const bool was_in_table = slot->positions_in_table;
  slot->positions_in_table =
      hash_get_num_entries(counters) + position_rows > PositionCounterBudget();
  slot->positions_checked = GetCurrentTimestamp();
  EnterCountedRows(slot, rows, count);
  slot->jobs_relid = jobs_relid;
  slot->valid = true;
  const bool in_table = slot->positions_in_table;
  LWLockRelease(shared->lock);
  elog(DEBUG1, "queue: rebuilt %d counters of database %u from queue.jobs", count, MyDatabaseId);
  if (in_table && !was_in_table) LogPositionsInTable();
  if (was_in_table && !in_table) LogPositionsInCounters();
  pfree(rows);
}

// Per-transaction memo: the counters were validated for this table in this
// transaction. They can only become invalid at a TRUNCATE's commit (which
// waits for our lock on queue.jobs) or a server restart, so one check per
// transaction suffices.
LocalTransactionId validated_in = InvalidLocalTransactionId;
Oid validated_relid = InvalidOid;

// On a hot standby: this transaction's counts of the table, in
// TopTransactionContext (nullptr elsewhere), read instead of shared memory.
RebuiltCount* standby_counts = nullptr;
int standby_count_rows = 0;

void CountForStandby() {
  MemoryContext caller = MemoryContextSwitchTo(TopTransactionContext);
  standby_counts = CountJobs(CountSnapshot::kTransaction, &standby_count_rows);
  MemoryContextSwitchTo(caller);
}

bool ReadingStandbyCounts() { return standby_counts != nullptr && validated_in == MyProc->lxid; }

int64 StandbyCount(const CounterKey& key) {
  for (int i = 0; i < standby_count_rows; i++)
    if (memcmp(&standby_counts[i].key, &key, sizeof(key)) == 0) return standby_counts[i].count;
  return 0;
}

}  // namespace

CounterKey MakeKey(CounterKind kind, int slot, int64 block, std::string_view name) {
  CounterKey key;
  memset(&key, 0, sizeof(key));  // HASH_BLOBS hashes the padding too
  key.database = MyDatabaseId;
  key.kind = static_cast<uint8>(kind);
  key.slot = static_cast<int16>(slot);
  key.block = block;
  size_t length = std::min(name.size(), static_cast<size_t>(NAMEDATALEN - 1));
  memcpy(key.name, name.data(), length);
  return key;
}

CounterKey WorkerKey(std::string_view worker_id) {
  uint64 hash = hash_bytes_extended(reinterpret_cast<const unsigned char*>(worker_id.data()),
                                    static_cast<int>(worker_id.size()), 0);
  return MakeKey(CounterKind::kRunningWorker, 0, static_cast<int64>(hash), worker_id);
}

void RequestSharedCounters() {
  previous_request_hook = shmem_request_hook;
  shmem_request_hook = RequestShmem;
  previous_startup_hook = shmem_startup_hook;
  shmem_startup_hook = StartupShmem;
}

void RequireSharedCounters() {
  if (shared == nullptr)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("queue must be loaded via shared_preload_libraries"),
                    errdetail("The queue keeps its exact concurrency counts in shared memory."),
                    errhint("Add queue to shared_preload_libraries in postgresql.conf and "
                            "restart the server.")));
}

void EnsureCountersValid(Oid jobs_relid) {
  RequireSharedCounters();
  if (CountersValidated(jobs_relid)) return;
  standby_counts = nullptr;
  if (RecoveryInProgress()) {
    CountForStandby();
  } else if (!SlotValidFor(jobs_relid)) {
    // The counters are in doubt while this transaction holds changes of
    // counters (which a valid slot would have had since it made them): it
    // used queue.jobs, dropped the extension and created it again. A rebuild
    // now would count the new table, and the old table's changes would land
    // on its counters at commit. (A TRUNCATE's invalidation at commit is no
    // such change.)
    if (LedgerHoldsCounterChanges())
      ereport(ERROR,
              (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
               errmsg("queue.jobs was created again in a transaction that had changed queue jobs"),
               errhint("Commit or roll back first, then use the queue in a new transaction.")));
    LockRelationOid(jobs_relid, ShareLock);
    if (!SlotValidFor(jobs_relid)) RebuildCounters(jobs_relid);  // else another rebuilt them
    UnlockRelationOid(jobs_relid, ShareLock);
  }
  validated_in = MyProc->lxid;
  validated_relid = jobs_relid;
}

bool CountersValidated(Oid jobs_relid) {
  return validated_in == MyProc->lxid && validated_relid == jobs_relid;
}

bool BlocksCounterRebuild() {
  // Found by name: a LOCK TABLE validates nothing, and a table this
  // transaction dropped is no table a rebuild counts.
  const Oid jobs = QueueTableOid("jobs");
  if (!OidIsValid(jobs)) return false;
  LOCKTAG table;
  SET_LOCKTAG_RELATION(table, MyDatabaseId, jobs);
  for (LOCKMODE mode = AccessShareLock; mode <= MaxLockMode; mode++)
    if (DoLockModesConflict(mode, ShareLock) && LockHeldByMe(&table, mode)) return true;
  return false;
}

void InvalidateCounters() {
  if (shared == nullptr) return;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  if (DatabaseSlot* slot = FindSlot(false)) slot->valid = false;
  LWLockRelease(shared->lock);
  validated_in = InvalidLocalTransactionId;
}

void PinCounters(const CounterKey* keys, int count, SharedCounter** pinned) {
  bool moved_to_table = false;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  DatabaseSlot* slot = FindSlot(false);  // created by the validation before any pin
  for (int i = 0; i < count; i++) {
    if (slot != nullptr && IsQueuedPositionKind(keys[i].kind)) {
      pinned[i] = PositionCounterOrNull(slot, keys[i], &moved_to_table);
      if (pinned[i] == nullptr) continue;  // positions are counted in the table
    } else {
      pinned[i] = EnterCounterOrNull(keys[i]);
    }
    if (pinned[i] == nullptr) {
      for (int j = 0; j < i; j++)  // nothing of this call stays pinned
        if (pinned[j] != nullptr) pinned[j]->pins--;
      RaiseCountersFull();
    }
    pinned[i]->pins++;
    if (slot != nullptr && keys[i].kind == static_cast<uint8>(CounterKind::kQueuedBlock))
      slot->lowest_block[keys[i].slot] = std::min(slot->lowest_block[keys[i].slot], keys[i].block);
  }
  LWLockRelease(shared->lock);
  if (moved_to_table) LogPositionsInTable();
}

int AddUpToLimit(SharedCounter* counter, int wanted, int limit) {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  int added = policy::AdmissibleCount(wanted, wanted, limit, counter->value);
  counter->value += added;
  LWLockRelease(shared->lock);
  return added;
}

void AddCounter(SharedCounter* counter, int64 delta) {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  counter->value += delta;
  LWLockRelease(shared->lock);
}

// A block of queued ids emptied: when it was its priority's lowest, move the
// lowest up to the next block that has a counter, over at most
// kLowestBlockProbes probes; a range of blocks without a counter is skipped
// whole (it holds no block with one). Blocks and ranges without a counter
// hold no queued job, so the lowest stays a lower bound wherever the probes
// stop. Claims start their scan there, so they do not walk over the index
// entries of jobs claimed since; CompactCounters makes it exact every pass.
// Caller holds the lock exclusively.
constexpr int kLowestBlockProbes = 64;
void AdvanceLowestBlock(const CounterKey& emptied) {
  DatabaseSlot* slot = FindSlot(false);
  if (slot == nullptr || emptied.kind != static_cast<uint8>(CounterKind::kQueuedBlock) ||
      slot->lowest_block[emptied.slot] != emptied.block)
    return;
  CounterKey block_key = emptied;
  CounterKey range_key = emptied;
  range_key.kind = static_cast<uint8>(CounterKind::kQueuedRange);
  int64 block = emptied.block + 1;
  for (int probe = 0; probe < kLowestBlockProbes; probe++) {
    range_key.block = block >> kBlockRangeShift;
    if (hash_search(counters, &range_key, HASH_FIND, nullptr) == nullptr) {
      block = (range_key.block + 1) << kBlockRangeShift;
      continue;
    }
    block_key.block = block;
    if (hash_search(counters, &block_key, HASH_FIND, nullptr) != nullptr) break;
    block++;
  }
  slot->lowest_block[emptied.slot] = block;
}

void SettleCounters(const std::vector<std::pair<SharedCounter*, int64>>& settlements) noexcept {
  if (settlements.empty()) return;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  const DatabaseSlot* slot = FindSlot(false);
  for (const auto& [counter, delta] : settlements) {
    if (counter == nullptr) continue;  // a position counted in the table
    counter->value += delta;
    counter->pins--;
    // Empty id blocks and idle worker ids come and go; other counters are few.
    if (counter->pins == 0 && Unneeded(*counter, slot)) {
      CounterKey emptied = counter->key;
      hash_search(counters, &counter->key, HASH_REMOVE, nullptr);
      AdvanceLowestBlock(emptied);
    }
  }
  LWLockRelease(shared->lock);
}

namespace {

// This database's slot when its block counters say where queued ids lie;
// nullptr on a standby, while its positions are counted in the table, or
// without a slot (the callers then start from id 0). Caller holds the lock.
const DatabaseSlot* SlotKeepingBlocks() {
  const DatabaseSlot* slot = FindSlot(false);
  return slot != nullptr && !ReadingStandbyCounts() && !slot->positions_in_table ? slot : nullptr;
}

// The first id of a block; PG_INT64_MAX stays (nothing queued).
int64 FirstIdOf(int64 block) { return block == PG_INT64_MAX ? block : block << kIdBlockShift; }

}  // namespace

void LowestQueuedIds(int64 (&lowest_ids)[policy::kPriorityCount]) {
  LWLockAcquire(shared->lock, LW_SHARED);
  const DatabaseSlot* slot = SlotKeepingBlocks();
  for (int p = 0; p < policy::kPriorityCount; p++)
    lowest_ids[p] = slot != nullptr ? FirstIdOf(slot->lowest_block[p]) : 0;
  LWLockRelease(shared->lock);
}

namespace {

// The most blocks and ranges of blocks LowestUnscheduledId looks at, four
// hash look-ups each at most, under the shared lock: a longer run of them
// that holds only jobs scheduled for later is read by the scan that starts
// where the look-ups stopped.
constexpr int kUnscheduledBlockProbes = 512;

// The queued jobs a block (or range of blocks) counts when they are all
// scheduled for later or retried and no transaction may still change that;
// else -1: it may hold a job claimable from its enqueue. Caller holds the lock.
int64 OnlyScheduledCount(const CounterKey& queued_key, const CounterKey& scheduled_key) {
  const CounterReading queued = ReadUnderLock(queued_key);
  const CounterReading scheduled = ReadUnderLock(scheduled_key);
  if (queued.pinned || scheduled.pinned || queued.value > scheduled.value) return -1;
  return queued.value;
}

// From `slot`'s lowest queued block of `priority` on, the first block that
// may hold a queued job claimable from its enqueue, or where the look-ups
// stopped (see LowestUnscheduledId); a range of blocks is passed over whole
// when it may not. PG_INT64_MAX when nothing is queued. Caller holds the lock.
int64 FirstUnscheduledBlock(const DatabaseSlot& slot, int priority) {
  const int64 lowest = slot.lowest_block[priority];
  if (lowest == PG_INT64_MAX) return lowest;
  const CounterKey total_key = MakeKey(CounterKind::kQueuedPriority, priority);
  int64 uncounted = CounterValue(total_key);  // queued jobs in the blocks ahead
  CounterKey range_key = MakeKey(CounterKind::kQueuedRange, priority);
  CounterKey scheduled_range_key = MakeKey(CounterKind::kQueuedScheduledRange, priority);
  CounterKey block_key = MakeKey(CounterKind::kQueuedBlock, priority);
  CounterKey scheduled_key = MakeKey(CounterKind::kQueuedScheduledBlock, priority);
  int64 block = lowest;
  for (int probe = 0; uncounted > 0 && probe < kUnscheduledBlockProbes; probe++) {
    range_key.block = block >> kBlockRangeShift;
    // A range counts only its blocks from `lowest` on: none below holds a job.
    if (probe == 0 || block == range_key.block << kBlockRangeShift) {
      scheduled_range_key.block = range_key.block;
      const int64 in_range = OnlyScheduledCount(range_key, scheduled_range_key);
      if (in_range >= 0) {
        uncounted -= in_range;
        block = (range_key.block + 1) << kBlockRangeShift;
        continue;
      }
    }
    block_key.block = block;
    scheduled_key.block = block;
    const int64 in_block = OnlyScheduledCount(block_key, scheduled_key);
    if (in_block < 0) return block;
    uncounted -= in_block;
    block++;
  }
  return block;
}

}  // namespace

int64 LowestUnscheduledId(int priority) {
  LWLockAcquire(shared->lock, LW_SHARED);
  const DatabaseSlot* slot = SlotKeepingBlocks();
  const int64 lowest = slot != nullptr ? FirstIdOf(FirstUnscheduledBlock(*slot, priority)) : 0;
  LWLockRelease(shared->lock);
  return lowest;
}

void AddRunTimeSample(std::string_view job_type, policy::Micros run_time) noexcept {
  CounterKey key = MakeKey(CounterKind::kRunTime, 0, 0, job_type);
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  // A full hash only costs this sample: estimates fall back to expected_duration.
  if (SharedCounter* counter = EnterCounterOrNull(key)) {
    policy::RunTimeAverage average{counter->value, counter->samples};
    average = policy::AddSample(average, run_time);
    counter->value = average.mean;
    counter->samples = average.samples;
  }
  LWLockRelease(shared->lock);
}

void AddMinuteStats(const MinuteStats& stats) noexcept {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  DatabaseSlot* slot = FindSlot(false);
  if (slot != nullptr) {
    MinuteStats& ring = slot->minutes[stats.minute % kMinuteSlots];
    if (ring.minute != stats.minute) ring = MinuteStats{stats.minute, 0, 0, 0, 0, 0};
    AddMinute(ring, stats);
  }
  LWLockRelease(shared->lock);
}

void CountRefusedResults(int64 count) noexcept {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  if (DatabaseSlot* slot = FindSlot(false)) slot->refused_results += count;
  LWLockRelease(shared->lock);
}

int64 ReadRefusedResults() {
  LWLockAcquire(shared->lock, LW_SHARED);
  DatabaseSlot* slot = FindSlot(false);
  int64 refused = slot != nullptr ? slot->refused_results : 0;
  LWLockRelease(shared->lock);
  return refused;
}

int64 ReadCounter(const CounterKey& key) {
  if (ReadingStandbyCounts()) return StandbyCount(key);
  LWLockAcquire(shared->lock, LW_SHARED);
  int64 value = CounterValue(key);
  LWLockRelease(shared->lock);
  return value;
}

SharedCounter ReadRunTime(std::string_view job_type) {
  CounterKey key = MakeKey(CounterKind::kRunTime, 0, 0, job_type);
  SharedCounter result;
  memset(&result, 0, sizeof(result));
  LWLockAcquire(shared->lock, LW_SHARED);
  if (auto* counter = static_cast<SharedCounter*>(hash_search(counters, &key, HASH_FIND, nullptr)))
    result = *counter;
  LWLockRelease(shared->lock);
  return result;
}

// Add the counters of `key`'s kind and slot with key.block in [from, to).
// Caller holds the lock.
// The sum of `key`'s counters of blocks [from, to): a lookup a block, or,
// when there are more blocks than the hash holds counters, one pass over the
// hash. Ids can lie far apart (an admin moved the id sequence on by 2^44),
// and a lookup per empty block would hold the lock, and every claim and
// commit behind it, for minutes. (Caller holds the lock.)
int64 SumCounters(CounterKey key, int64 from, int64 to) {
  int64 sum = 0;
  if (to - from <= hash_get_num_entries(counters)) {
    for (key.block = to - 1; key.block >= from; key.block--) sum += CounterValue(key);
    return sum;
  }
  HASH_SEQ_STATUS scan;
  hash_seq_init(&scan, counters);
  while (auto* counter = static_cast<SharedCounter*>(hash_seq_search(&scan))) {
    const CounterKey& other = counter->key;
    if (other.database == key.database && other.kind == key.kind && other.slot == key.slot &&
        strcmp(other.name, key.name) == 0 && other.block >= from && other.block < to)
      sum += counter->value;
  }
  return sum;
}

int64 SumBlocksBefore(BlockCounters counters, int priority, int64 block) {
  if (ReadingStandbyCounts()) {
    int64 sum = 0;
    for (int i = 0; i < standby_count_rows; i++) {
      const CounterKey& key = standby_counts[i].key;
      if (key.kind == static_cast<uint8>(counters.block) && key.slot == priority &&
          key.block < block)
        sum += standby_counts[i].count;
    }
    return sum;
  }
  const int64 range = block >> kBlockRangeShift;
  const int64 range_start = range << kBlockRangeShift;
  const int64 range_end = range_start + (int64{1} << kBlockRangeShift);
  const CounterKey range_key = MakeKey(counters.range, priority);
  const CounterKey block_key = MakeKey(counters.block, priority);
  LWLockAcquire(shared->lock, LW_SHARED);
  DatabaseSlot* slot = FindSlot(false);
  int64 lowest = slot != nullptr ? slot->lowest_block[priority] : block;
  int64 sum = SumCounters(range_key, lowest >> kBlockRangeShift, range);
  // The earlier blocks of its range, or the range's count less its later
  // blocks, whichever takes fewer lookups: a range counts exactly its blocks
  // (a commit settles both under this lock) and none lies below `lowest`.
  const int64 first = std::max(lowest, range_start);
  if (block - first <= range_end - block + 1) {
    sum += SumCounters(block_key, first, block);
  } else {
    sum += SumCounters(range_key, range, range + 1) - SumCounters(block_key, block, range_end);
  }
  LWLockRelease(shared->lock);
  return sum;
}

bool PositionsCountedInTable() {
  if (ReadingStandbyCounts()) return false;  // a standby's counts of the table have every block
  LWLockAcquire(shared->lock, LW_SHARED);
  const DatabaseSlot* slot = FindSlot(false);
  bool in_table = slot != nullptr && slot->positions_in_table;
  LWLockRelease(shared->lock);
  return in_table;
}

void TakeBackPositions(Oid jobs_relid) {
  // A minute at the default interval: the count reads every queued job.
  const long recheck_millis = 60L * queue_tick_interval;
  const TimestampTz now = GetCurrentTimestamp();
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  DatabaseSlot* slot = FindSlot(false);
  bool due = slot != nullptr && slot->valid && slot->jobs_relid == jobs_relid &&
             slot->positions_in_table &&
             now >= TimestampTzPlusMilliseconds(slot->positions_checked, recheck_millis);
  if (due) slot->positions_checked = now;
  LWLockRelease(shared->lock);
  // A transaction that wrote queue.jobs would count its own changes twice.
  if (!due || BlocksCounterRebuild()) return;
  SpiConnect();
  const uint64 blocks = SpiRun(count_queued_blocks, nullptr, nullptr, SPI_OK_SELECT);
  long counted_blocks = static_cast<long>(blocks);  // with those of jobs scheduled for later
  for (uint64 i = 0; i < blocks; i++)
    if (DatumGetInt64(SpiValueNotNull(i, 4)) > 0) counted_blocks++;
  SpiFinish();
  LWLockAcquire(shared->lock, LW_SHARED);
  // A counter per block (and per block of jobs scheduled for later), and at
  // most as many for their ranges.
  bool fit = hash_get_num_entries(counters) + 2 * counted_blocks <= PositionCounterBudget();
  LWLockRelease(shared->lock);
  // The lock waits for every transaction that writes queue.jobs, and every
  // caller would wait behind it: take it only if it is free now. While it is
  // held nobody writes the table, and nobody holds a position counter (only
  // writers pin them, and none in table mode): count the queued jobs' blocks
  // and swap their counters in. The other counters stay as they are: they
  // were kept exact all along. Until the swap nothing changes, so a count
  // cut short leaves the positions in the table.
  if (!fit || !ConditionalLockRelationOid(jobs_relid, ShareLock)) return;
  int count = 0;
  RebuiltCount* rows = CountJobs(CountSnapshot::kLatest, &count, true);
  bool taken_back = false;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  slot = FindSlot(false);
  if (slot != nullptr && slot->positions_in_table) {
    // Drops the stale position counters (none is pinned, see above), which
    // leaves every lowest block at PG_INT64_MAX.
    CompactPositionCounters(slot);
    if (hash_get_num_entries(counters) + count <= PositionCounterBudget()) {
      slot->positions_in_table = false;
      EnterCountedRows(slot, rows, count);
      taken_back = true;
    }
  }
  LWLockRelease(shared->lock);
  UnlockRelationOid(jobs_relid, ShareLock);
  pfree(rows);
  if (taken_back) LogPositionsInCounters();
}

MinuteStats SumMinuteStats(int64 from_minute, int64 to_minute) {
  MinuteStats sum{to_minute, 0, 0, 0, 0, 0};
  LWLockAcquire(shared->lock, LW_SHARED);
  if (DatabaseSlot* slot = FindSlot(false)) {
    for (const MinuteStats& minute : slot->minutes) {
      if (minute.minute >= from_minute && minute.minute <= to_minute) AddMinute(sum, minute);
    }
  }
  LWLockRelease(shared->lock);
  return sum;
}

void PublishWorkerLatch(Latch* latch) {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  shared->worker_latch = latch;
  LWLockRelease(shared->lock);
}

void WakeWorker() noexcept {
  if (shared == nullptr) return;
  pg_atomic_write_u32(&shared->pass_requested, 1);
  LWLockAcquire(shared->lock, LW_SHARED);
  if (shared->worker_latch != nullptr) SetLatch(shared->worker_latch);
  LWLockRelease(shared->lock);
}

bool TakePassRequest() { return pg_atomic_exchange_u32(&shared->pass_requested, 0) != 0; }

int CopyRunningRenders(TimestampTz read_after, RunningRender* out) {
  int count = -1;
  LWLockAcquire(shared->lock, LW_SHARED);
  const DatabaseSlot* slot = FindSlot(false);
  if (slot != nullptr && slot->valid && slot->renders_read_at > read_after) {
    count = slot->renders_count;
    memcpy(out, slot->renders, sizeof(RunningRender) * count);
  }
  LWLockRelease(shared->lock);
  return count;
}

void PublishRunningRenders(const RunningRender* renders, int count, TimestampTz read_at) {
  if (count > kMaxSharedRenders) return;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  DatabaseSlot* slot = FindSlot(false);
  if (slot != nullptr && slot->valid && read_at > slot->renders_read_at) {
    memcpy(slot->renders, renders, sizeof(RunningRender) * count);
    slot->renders_count = count;
    slot->renders_read_at = read_at;
  }
  LWLockRelease(shared->lock);
}

void NoteShortClaim() noexcept {
  pg_atomic_write_u64(&shared->last_short_claim, static_cast<uint64>(GetCurrentTimestamp()));
}

bool ShortClaimSince(TimestampTz since) {
  return static_cast<TimestampTz>(pg_atomic_read_u64(&shared->last_short_claim)) > since;
}

uint64 WorkersGeneration() { return pg_atomic_read_u64(&shared->workers_generation); }

void BumpWorkersGeneration() noexcept {
  if (shared != nullptr) pg_atomic_fetch_add_u64(&shared->workers_generation, 1);
}

void CompactCounters() {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  if (DatabaseSlot* slot = FindSlot(false)) CompactPositionCounters(slot);
  LWLockRelease(shared->lock);
}

}  // namespace queue
