// The transaction ledger (see ledger.hpp).
//
// Each entry is one counter's pending change within one (sub)transaction:
//   applied   already added to shared memory, taken back on abort;
//   reserved  a claim's reservation, also already added, given back unless a
//             claimed row consumes it (then it becomes `applied`);
//   at_commit added to shared memory at commit, dropped on abort.
// The commit and abort callbacks must not fail, so everything they need is
// allocated while recording.
#include "queue/ledger.hpp"

#include "queue/boundary.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace queue {

namespace {

struct Entry {
  CounterKey key;
  SubTransactionId subxact;
  SharedCounter* counter;
  int64 applied;
  int64 reserved;
  int64 at_commit;
};

struct PendingStats {
  SubTransactionId subxact;
  MinuteStats stats;
};

struct PendingRunTime {
  SubTransactionId subxact;
  std::string job_type;
  policy::Micros run_time;
};

// An entry's identity: the counter and the subtransaction. Compared and
// hashed as bytes, so the padding is always zero (see MakeEntryId).
struct EntryId {
  CounterKey key;
  SubTransactionId subxact;
};

EntryId MakeEntryId(const CounterKey& key, SubTransactionId subxact) {
  EntryId id;
  memset(&id, 0, sizeof(id));
  id.key = key;
  id.subxact = subxact;
  return id;
}

struct EntryIdHash {
  size_t operator()(const EntryId& id) const noexcept {
    return std::hash<std::string_view>{}(
        std::string_view(reinterpret_cast<const char*>(&id), sizeof(id)));
  }
};

struct EntryIdEqual {
  bool operator()(const EntryId& a, const EntryId& b) const noexcept {
    return memcmp(&a, &b, sizeof(a)) == 0;
  }
};

std::vector<Entry> entries;
std::unordered_map<EntryId, size_t, EntryIdHash, EntryIdEqual> entry_index;  // -> entries[i]
std::vector<std::pair<SharedCounter*, int64>> settlements;  // kept as large as entries
std::vector<PendingStats> pending_stats;
std::vector<PendingRunTime> pending_run_times;
bool invalidate_at_commit = false;
bool wake_worker_at_commit = false;
bool workers_changed = false;

constexpr int kMaxKeysPerCall = 14;

// Find the entries of up to kMaxKeysPerCall counters in the current
// subtransaction, creating the missing ones with one trip to shared memory;
// their positions in `entries` go to `found_at`.
void FindEntries(const CounterKey* keys, int count, size_t* found_at) {
  SubTransactionId subxact = GetCurrentSubTransactionId();
  CounterKey missing[kMaxKeysPerCall];
  int missing_count = 0;
  for (int i = 0; i < count; i++) {
    auto found = entry_index.find(MakeEntryId(keys[i], subxact));
    if (found != entry_index.end()) {
      found_at[i] = found->second;
      continue;
    }
    bool listed = false;
    for (int j = 0; j < missing_count && !listed; j++)
      listed = memcmp(&missing[j], &keys[i], sizeof(CounterKey)) == 0;
    if (!listed) missing[missing_count++] = keys[i];
  }
  if (missing_count > 0) {
    // Allocate first: once pinned, a counter must reach the ledger to be unpinned.
    entries.reserve(entries.size() + missing_count);
    settlements.reserve(entries.size() + missing_count);
    entry_index.reserve(entries.size() + missing_count);
    SharedCounter* pinned[kMaxKeysPerCall];
    PgCall([&] { PinCounters(missing, missing_count, pinned); });
    for (int j = 0; j < missing_count; j++) {
      entry_index.emplace(MakeEntryId(missing[j], subxact), entries.size());
      entries.push_back(Entry{missing[j], subxact, pinned[j], 0, 0, 0});
    }
    for (int i = 0; i < count; i++)
      found_at[i] = entry_index.find(MakeEntryId(keys[i], subxact))->second;
  }
}

// Settle every entry that `selected` picks, with the delta `delta_of` gives,
// and drop it from the ledger and its index; the index follows the entries
// that move. Allocates nothing (erasing from and updating a hash map does
// not), so abort callbacks may use it.
template <typename Select, typename Delta>
void SettleEntries(Select selected, Delta delta_of) {
  settlements.clear();
  size_t kept = 0;
  for (size_t i = 0; i < entries.size(); i++) {
    EntryId id = MakeEntryId(entries[i].key, entries[i].subxact);
    if (selected(entries[i])) {
      settlements.emplace_back(entries[i].counter, delta_of(entries[i]));
      entry_index.erase(id);
    } else {
      if (kept != i) entry_index.find(id)->second = kept;
      entries[kept++] = entries[i];
    }
  }
  entries.resize(kept);
  SettleCounters(settlements);
}

int64 AbortDelta(const Entry& entry) { return -entry.applied - entry.reserved; }
int64 CommitDelta(const Entry& entry) { return entry.at_commit - entry.reserved; }

void ClearLedger() {
  entries.clear();
  entry_index.clear();
  pending_stats.clear();
  pending_run_times.clear();
  invalidate_at_commit = false;
  wake_worker_at_commit = false;
  workers_changed = false;
}

void OnCommit() {
  SettleEntries([](const Entry&) { return true; }, CommitDelta);
  for (const PendingStats& pending : pending_stats) AddMinuteStats(pending.stats);
  for (const PendingRunTime& pending : pending_run_times)
    AddRunTimeSample(pending.job_type, pending.run_time);
  if (invalidate_at_commit) InvalidateCounters();
  if (wake_worker_at_commit) WakeWorker();
  if (workers_changed) BumpWorkersGeneration();
  ClearLedger();
}

void OnAbort() {
  SettleEntries([](const Entry&) { return true; }, AbortDelta);
  ClearLedger();
}

void TransactionCallback(XactEvent event, void*) {
  switch (event) {
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
      OnCommit();
      break;
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
      OnAbort();
      break;
    case XACT_EVENT_PREPARE:
      // COMMIT PREPARED runs in another backend, without this callback: the
      // copies of queue.workers are dropped now, and whatever a backend reads
      // again before that commit it keeps for kMaxCachedAge at most.
      if (workers_changed) BumpWorkersGeneration();
      ClearLedger();
      break;
    case XACT_EVENT_PRE_PREPARE:
      // Counter changes are applied by this backend's commit callback, which
      // a prepared transaction never reaches; nor would a TRUNCATE's. A write
      // that changed no count still holds a lock the counters' rebuild after
      // a restart would wait for.
      if (!entries.empty() || !pending_stats.empty() || invalidate_at_commit ||
          BlocksCounterRebuild())
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cannot prepare a transaction that wrote or locked queue.jobs"),
                        errhint("Run queue functions outside two-phase transactions.")));
      break;
    default:
      break;
  }
}

// Drop a rolled-back subtransaction's pending items, keeping the rest in order.
template <typename Item>
void DropSubtransaction(std::vector<Item>& items, SubTransactionId subxact) {
  size_t kept = 0;
  for (size_t i = 0; i < items.size(); i++)
    if (items[i].subxact != subxact) items[kept++] = std::move(items[i]);
  items.resize(kept);
}

void OnSubtransactionAbort(SubTransactionId subxact) {
  SettleEntries([subxact](const Entry& entry) { return entry.subxact == subxact; }, AbortDelta);
  DropSubtransaction(pending_stats, subxact);
  DropSubtransaction(pending_run_times, subxact);
}

// Hand a committed subtransaction's entries to its parent, merging entries
// of the same counter (the merged one gives back its extra pin).
void OnSubtransactionCommit(SubTransactionId subxact, SubTransactionId parent) {
  bool touched = false;
  settlements.clear();
  for (Entry& entry : entries) {
    if (entry.subxact != subxact) continue;
    touched = true;
    entry.subxact = parent;
  }
  if (!touched) return;
  decltype(entry_index) merged;
  size_t kept = 0;
  for (size_t i = 0; i < entries.size(); i++) {
    auto [at, inserted] = merged.emplace(MakeEntryId(entries[i].key, entries[i].subxact), kept);
    if (inserted) {
      entries[kept++] = entries[i];
      continue;
    }
    Entry& into = entries[at->second];
    into.applied += entries[i].applied;
    into.reserved += entries[i].reserved;
    into.at_commit += entries[i].at_commit;
    settlements.emplace_back(entries[i].counter, 0);  // drops the duplicate pin
  }
  entries.resize(kept);
  entry_index = std::move(merged);
  SettleCounters(settlements);
  for (PendingStats& pending : pending_stats)
    if (pending.subxact == subxact) pending.subxact = parent;
  for (PendingRunTime& pending : pending_run_times)
    if (pending.subxact == subxact) pending.subxact = parent;
}

void SubtransactionCallback(SubXactEvent event, SubTransactionId subxact, SubTransactionId parent,
                            void*) {
  CaughtError caught;
  try {
    if (event == SUBXACT_EVENT_ABORT_SUB)
      OnSubtransactionAbort(subxact);
    else if (event == SUBXACT_EVENT_COMMIT_SUB)
      OnSubtransactionCommit(subxact, parent);
    return;
  } catch (...) {
    CaptureCurrentException(caught);
  }
  RaiseCaught(caught);
}

// Counter changes a row in `row`'s state stands for, with `sign` +1 (the row
// arrives in that state) or -1 (it leaves it).
struct RowEffect {
  CounterKey key;
  int64 delta;
  bool immediate;  // counts at once (entering processing), else at commit
};

constexpr int kMaxRowEffects = 7;
static_assert(2 * kMaxRowEffects <= kMaxKeysPerCall, "an UPDATE counts an old and a new row");

// Write the effects of one row state to out; returns how many (<= kMaxRowEffects).
int RowEffects(const JobCountState& row, int64 sign, RowEffect* out) {
  int n = 0;
  out[n++] = {MakeKey(CounterKind::kStatus, static_cast<int>(row.status)), sign, false};
  if (row.status == policy::JobStatus::kProcessing) {
    bool immediate = sign > 0;
    out[n++] = {MakeKey(CounterKind::kRunningTotal), sign, immediate};
    if (row.resource != nullptr)
      out[n++] = {MakeKey(CounterKind::kRunningResource, 0, 0, row.resource), sign, immediate};
    if (row.worker_id != nullptr) out[n++] = {WorkerKey(row.worker_id), sign, immediate};
  } else if (row.status == policy::JobStatus::kQueued) {
    int priority = static_cast<int>(row.priority);
    out[n++] = {MakeKey(CounterKind::kQueuedPriority, priority), sign, false};
    int64 block = row.id >> kIdBlockShift;
    out[n++] = {MakeKey(CounterKind::kQueuedBlock, priority, block), sign, false};
    out[n++] = {MakeKey(CounterKind::kQueuedRange, priority, block >> kBlockRangeShift), sign,
                false};
    if (row.scheduled) {
      out[n++] = {MakeKey(CounterKind::kQueuedScheduled, priority), sign, false};
      out[n++] = {MakeKey(CounterKind::kQueuedScheduledBlock, priority, block), sign, false};
      out[n++] = {MakeKey(CounterKind::kQueuedScheduledRange, priority, block >> kBlockRangeShift),
                  sign, false};
    }
  }
  return n;
}

}  // namespace

void RegisterLedgerCallbacks() {
  RegisterXactCallback(TransactionCallback, nullptr);
  RegisterSubXactCallback(SubtransactionCallback, nullptr);
}

void RecordJobChange(Oid jobs_relid, const JobCountState* old_row, const JobCountState* new_row) {
  // The statement trigger validates before the first row changes; without it
  // (disabled by hand) this change cannot be counted exactly: count again.
  if (!CountersValidated(jobs_relid)) {
    InvalidateCountersAtCommit();
    return;
  }
  RowEffect effects[kMaxKeysPerCall];
  int n = 0;
  if (old_row != nullptr) n += RowEffects(*old_row, -1, effects + n);
  if (new_row != nullptr) n += RowEffects(*new_row, +1, effects + n);

  CounterKey keys[kMaxKeysPerCall] = {};
  for (int i = 0; i < n; i++) keys[i] = effects[i].key;

  size_t found_at[kMaxKeysPerCall];
  FindEntries(keys, n, found_at);
  for (int i = 0; i < n; i++) {
    Entry& entry = entries[found_at[i]];
    if (!effects[i].immediate) {
      entry.at_commit += effects[i].delta;
    } else if (entry.reserved > 0) {
      entry.reserved--;
      entry.applied++;
    } else {
      AddCounter(entry.counter, effects[i].delta);
      entry.applied += effects[i].delta;
    }
  }
}

int Reserve(const CounterKey& key, int wanted, int limit) {
  // Slots this transaction freed (jobs it completed, failed, ...) count at
  // its commit, but its own claims may use them already: an abort undoes the
  // release and every later claim of the transaction together.
  int64 own_releases = 0;
  for (const Entry& entry : entries)
    if (memcmp(&entry.key, &key, sizeof(key)) == 0 && entry.at_commit < 0)
      own_releases -= entry.at_commit;
  size_t found_at;
  FindEntries(&key, 1, &found_at);
  Entry& entry = entries[found_at];
  int64 raised_limit = std::min<int64>(PG_INT32_MAX, limit + own_releases);
  int reserved = AddUpToLimit(entry.counter, wanted, static_cast<int>(raised_limit));
  entry.reserved += reserved;
  return reserved;
}

void ReleaseReservations() {
  for (Entry& entry : entries) {
    if (entry.reserved == 0) continue;
    AddCounter(entry.counter, -entry.reserved);
    entry.reserved = 0;
  }
}

void RecordMinuteStats(const MinuteStats& stats) {
  pending_stats.push_back({GetCurrentSubTransactionId(), stats});
}

void RecordRunTime(const char* job_type, policy::Micros run_time) {
  pending_run_times.push_back({GetCurrentSubTransactionId(), job_type, run_time});
}

int64 VisibleCount(const CounterKey& key) {
  int64 count = ReadCounter(key);
  for (const Entry& entry : entries)
    if (memcmp(&entry.key, &key, sizeof(key)) == 0) count += entry.at_commit;
  return count;
}

int64 VisibleBlocksBefore(BlockCounters counters, int priority, int64 block) {
  int64 count = SumBlocksBefore(counters, priority, block);
  int64 range = block >> kBlockRangeShift;
  // The same sums over this transaction's pending changes (see SumBlocksBefore).
  for (const Entry& entry : entries) {
    if (entry.key.database != MyDatabaseId || entry.key.slot != priority) continue;
    bool earlier_range =
        entry.key.kind == static_cast<uint8>(counters.range) && entry.key.block < range;
    bool earlier_block_in_range = entry.key.kind == static_cast<uint8>(counters.block) &&
                                  entry.key.block < block &&
                                  entry.key.block >= range << kBlockRangeShift;
    if (earlier_range || earlier_block_in_range) count += entry.at_commit;
  }
  return count;
}

int64 LowestUnscheduledIdSeen(int priority) {
  int64 lowest = LowestUnscheduledId(priority);
  // A block where this transaction changed queued jobs, or which of them
  // were scheduled, may hold one that it made claimable from its enqueue:
  // the scan starts there at the latest.
  for (const Entry& entry : entries) {
    if (entry.key.database != MyDatabaseId || entry.key.slot != priority || entry.at_commit == 0 ||
        (entry.key.kind != static_cast<uint8>(CounterKind::kQueuedBlock) &&
         entry.key.kind != static_cast<uint8>(CounterKind::kQueuedScheduledBlock)))
      continue;
    lowest = std::min(lowest, entry.key.block << kIdBlockShift);
  }
  return lowest;
}

void InvalidateCountersAtCommit() { invalidate_at_commit = true; }

bool LedgerHoldsCounterChanges() { return !entries.empty(); }

void WakeWorkerAtCommit() { wake_worker_at_commit = true; }

void BumpWorkersGenerationAtCommit() { workers_changed = true; }

}  // namespace queue
