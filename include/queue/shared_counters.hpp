// Exact job counts in shared memory, per database.
//
// The claim path must know how many jobs run now, globally and per resource,
// without counting rows; positions and stats must know how many jobs wait,
// per priority and per block of ids, without scanning the queue. These
// counters live in one shared hash protected by one LWLock. Backends change
// them only through the transaction ledger (ledger.hpp), which applies each
// change at the right moment of the transaction; this file only stores them.
//
// A database's counters are rebuilt from queue.jobs when they are in doubt:
// after the server (re)starts, after TRUNCATE of queue.jobs, after the
// extension was dropped and created again, and after a standby's promotion.
// A hot standby replays changes without running triggers, so it never keeps
// shared counters: each transaction there counts the table instead.
#pragma once

#include "queue/pg.hpp"
#include "queue/policy/time.hpp"

#include <string_view>
#include <vector>

namespace queue {

enum class CounterKind : uint8 {
  kRunningTotal = 1,      // processing jobs, plus claims in flight
  kRunningResource,       // the same, for one resource (name)
  kStatus,                // jobs per status (slot = status)
  kQueuedPriority,        // queued jobs per priority (slot = priority)
  kQueuedBlock,           // queued jobs per priority and block of ids (slot, block)
  kQueuedRange,           // queued jobs per priority and range of blocks (slot, range)
  kRunTime,               // moving average of run time per job type (name)
  kRunningWorker,         // processing jobs held by one worker id (see WorkerKey)
  kQueuedScheduled,       // queued jobs whose run_at is past their enqueued_at, the
                          // jobs of the index of scheduled jobs (slot = priority)
  kQueuedScheduledBlock,  // the same, per priority and block of ids (slot, block)
  kQueuedScheduledRange,  // the same, per priority and range of blocks (slot, range)
};

// Ids are grouped in blocks of 2^kIdBlockShift, and blocks in ranges of
// 2^kBlockRangeShift, for positions: the jobs ahead of one are the counts of
// the earlier ranges, plus those of the earlier blocks in its range (or the
// range's count less its later blocks, whichever side is shorter), plus a
// count inside its block. At a million queued ids that is at most 144 lookups.
constexpr int kIdBlockShift = 8;
constexpr int kBlockRangeShift = 8;

// Whether a kind counts queued jobs by position (these come and go with the
// queue and are removed when empty).
inline bool IsQueuedPositionKind(uint8 kind) {
  return kind == static_cast<uint8>(CounterKind::kQueuedBlock) ||
         kind == static_cast<uint8>(CounterKind::kQueuedRange) ||
         kind == static_cast<uint8>(CounterKind::kQueuedScheduledBlock) ||
         kind == static_cast<uint8>(CounterKind::kQueuedScheduledRange);
}

// Counters that come and go with the jobs they count, removed when they are
// back to zero: queued jobs by position, and a worker id's running jobs.
inline bool IsTransientKind(uint8 kind) {
  return IsQueuedPositionKind(kind) || kind == static_cast<uint8>(CounterKind::kRunningWorker);
}

struct CounterKey {
  Oid database;
  uint8 kind;
  int16 slot;
  int64 block;
  char name[NAMEDATALEN];
};

// A counter's shared storage. `pins` counts transactions that will still
// change it, so it is never removed under them.
struct SharedCounter {
  CounterKey key;
  int64 value;
  int64 samples;
  int32 pins;
};

// Build a key for the current database; unused fields are zero.
CounterKey MakeKey(CounterKind kind, int slot = 0, int64 block = 0, std::string_view name = {});

// The key of a worker id's running jobs. Ids may be longer than a key's name:
// the name holds the id's first bytes and the block a 64-bit hash of all of it.
CounterKey WorkerKey(std::string_view worker_id);

// One minute of finished attempts, for stats over a recent window.
struct MinuteStats {
  int64 minute;  // minutes since the Unix epoch
  int64 completed;
  int64 failed;
  int64 started;
  policy::Micros run_sum;   // over completed attempts
  policy::Micros wait_sum;  // enqueue to first start, over started attempts
};

// Ask for shared memory and the LWLock; only from _PG_init while preloading.
void RequestSharedCounters();

// Error unless the library was preloaded, with a hint saying how.
void RequireSharedCounters();

// Make this database's counters trustworthy for the table `jobs_relid`
// (queue.jobs), rebuilding them from the table when in doubt. Call it before
// the transaction changes queue.jobs or reserves slots: a rebuild waits for
// every other transaction that may still change the counters, which would
// deadlock against a lock on queue.jobs this transaction already holds.
void EnsureCountersValid(Oid jobs_relid);

// Whether EnsureCountersValid ran for `jobs_relid` in this transaction.
bool CountersValidated(Oid jobs_relid);

// Whether this transaction holds a lock on queue.jobs that a rebuild of the
// counters (ShareLock) waits for: it wrote the table, or locked it by hand
// (LOCK TABLE), with or without a queue function. Such a transaction
// cannot be prepared, or after a restart every caller would wait for its
// COMMIT PREPARED.
bool BlocksCounterRebuild();

// Forget this database's counters at commit of a TRUNCATE.
void InvalidateCounters();

// Find or create counters and pin them for the current transaction, under one
// acquisition of the lock.
void PinCounters(const CounterKey* keys, int count, SharedCounter** counters);

// Add as much of `wanted` to a pinned counter as keeps it within limit, under
// one acquisition of the lock; returns how much was added.
int AddUpToLimit(SharedCounter* counter, int wanted, int limit);

// Add delta to a pinned counter unconditionally.
void AddCounter(SharedCounter* counter, int64 delta);

// At the end of a transaction: add each delta and drop each pin. Never errors.
void SettleCounters(const std::vector<std::pair<SharedCounter*, int64>>& settlements) noexcept;

// Count results (complete(), fail()) refused because the caller no longer held
// the attempt. Never errors.
void CountRefusedResults(int64 count) noexcept;

// Refusals counted since the server started.
int64 ReadRefusedResults();

// Fold one observed run time into a job type's moving average.
void AddRunTimeSample(std::string_view job_type, policy::Micros run_time) noexcept;

// Add finished-attempt figures to the minute they belong to. Never errors.
void AddMinuteStats(const MinuteStats& stats) noexcept;

// Current value of a counter (0 when absent).
int64 ReadCounter(const CounterKey& key);

// Moving average of a job type's run time; samples 0 when none seen yet.
SharedCounter ReadRunTime(std::string_view job_type);

// For each priority, an id no queued job of it lies below (PG_INT64_MAX: none
// queued; 0 on a standby, which keeps no counters). Committed or not, every
// job that becomes queued lowers its priority's bound before its commit, so
// bounds read after taking a snapshot hold for every job that snapshot sees.
void LowestQueuedIds(int64 (&lowest_ids)[policy::kPriorityCount]);

// An id no queued job of `priority` lies below that was claimable from its
// enqueue (run_at not past enqueued_at), in any snapshot taken before the
// call: the block counters less the scheduled ones skip the blocks (and
// ranges of blocks) that hold only jobs scheduled for later or retried, so a
// scan for the first such job passes over at most a block of them (past 512
// such blocks and ranges, the rest of the run too). It never skips a block
// whose counts a transaction may still change (a pinned counter): a commit
// shows before its counts reach the counters. PG_INT64_MAX: nothing is
// queued; 0 on a standby or while positions are counted in the table. One
// case it does not cover: a commit after the snapshot that made a job of a
// skipped block scheduled, which the snapshot sees as claimable from its
// enqueue (only an edit by hand does that). This transaction's own changes
// are left out: LowestUnscheduledIdSeen in the ledger adds them.
int64 LowestUnscheduledId(int priority);

// An SQL condition: queue.jobs rows of `priority` (a literal) from id `bound`
// (a parameter holding its LowestQueuedIds) on. Written as a row comparison
// and a range, not "priority = p": with an equality, a generic plan drops the
// priority from the sort and walks the primary key over every finished job
// instead of the (priority, id) index.
#define QUEUE_PRIORITY_FROM(priority, bound) \
  " (priority, id) >= ('" priority "', " bound ") AND priority <= '" priority "' "

// The counters of one kind of queued jobs by position: per block of ids and
// per range of blocks.
struct BlockCounters {
  CounterKind block;
  CounterKind range;
};
constexpr BlockCounters kQueuedBlocks{CounterKind::kQueuedBlock, CounterKind::kQueuedRange};
constexpr BlockCounters kScheduledBlocks{CounterKind::kQueuedScheduledBlock,
                                         CounterKind::kQueuedScheduledRange};

// Queued jobs of a priority that `counters` count, in the id blocks before `block`.
int64 SumBlocksBefore(BlockCounters counters, int priority, int64 block);

// Whether this database's positions are counted in the table, not by the
// position counters: its queued jobs' ids were spread over more blocks than
// the counters have room for (a share of queue.max_counters). The counters
// of id blocks and ranges are then dropped and no longer kept, positions
// count the jobs ahead in the table, and claims scan their priority from
// its first id. Everything else is counted as before. A rebuild of the
// counters (a restart, TRUNCATE) or TakeBackPositions takes them back if
// they fit.
bool PositionsCountedInTable();

// In a pass, before it writes queue.jobs: while positions are counted in
// the table, every 60 tick intervals (queue.tick_interval), count the queued
// jobs' blocks (a scan of the queued jobs), and when they fit the counters
// again, count the block and range counters afresh and swap them in, but
// only if no transaction writes queue.jobs right now: it never waits for
// the lock, so nobody waits behind it.
void TakeBackPositions(Oid jobs_relid);

// Sum of the minutes in [from_minute, to_minute].
MinuteStats SumMinuteStats(int64 from_minute, int64 to_minute);

// Tell backends which latch wakes the background worker (nullptr: none runs).
void PublishWorkerLatch(Latch* latch);

// Wake the background worker, if one runs, for a pass at once. Never errors.
void WakeWorker() noexcept;

// In the background worker: whether a pass was asked for since the last
// call (the latch is also set for other reasons, such as notifications).
bool TakePassRequest();

// A render running in this database, as job_status() estimates see it.
struct RunningRender {
  char job_type[NAMEDATALEN];
  char resource[NAMEDATALEN];  // "" for none
  TimestampTz started_at;
};

// The most renders a database's shared copy holds; with more running, every
// estimate reads them from the table.
constexpr int kMaxSharedRenders = 32;

// Copy this database's shared list of running renders into `out` (room for
// kMaxSharedRenders) and return their number, or -1 when the list is older
// than `read_after` or there is none.
int CopyRunningRenders(TimestampTz read_after, RunningRender* out);

// Share a list of the running renders read from the table at `read_at`
// (ignored when it holds more than kMaxSharedRenders, or a newer one is kept).
void PublishRunningRenders(const RunningRender* renders, int count, TimestampTz read_at);

// A claim came back short because of the limits (its worker is marking
// queue.workers.short_claim_at): any database, any worker. Never errors.
void NoteShortClaim() noexcept;

// Whether a claim may have come back short after `since`: true for short
// claims noted since, and for all of them until the server has run that long.
bool ShortClaimSince(TimestampTz since);

// Which state of queue.workers (any database) backends may keep copies of:
// bumped after every committed change (see registered_workers.hpp).
uint64 WorkersGeneration();
void BumpWorkersGeneration() noexcept;

// Drop this database's empty id blocks and ranges, and recompute where its
// queued ids start.
void CompactCounters();

}  // namespace queue
