// The transaction ledger: when each counter change reaches shared memory.
//
// A job entering `processing` counts against its limits at once, so that no
// concurrent claim can overshoot; if the transaction aborts, the count is
// given back. Every other change (a job leaving `processing`, queued and
// per-status counts, minute statistics) is applied at commit only, so the
// counters never run ahead of what other sessions can see as free. Savepoints
// are honoured: a rolled-back subtransaction takes its changes with it.
//
// A claim first *reserves* slots (Reserve); the trigger that sees the row
// enter `processing` then consumes the reservation instead of counting again.
#pragma once

#include "queue/pg.hpp"
#include "queue/policy/job_state.hpp"
#include "queue/shared_counters.hpp"

namespace queue {

// The counted part of a queue.jobs row.
struct JobCountState {
  int64 id;
  policy::JobStatus status;
  policy::Priority priority;
  const char* resource;   // nullptr: none
  const char* worker_id;  // nullptr: none
  bool scheduled;         // run_at is past enqueued_at (scheduled, or retried)
};

// Register the transaction callbacks; once per backend.
void RegisterLedgerCallbacks();

// Count a row change of queue.jobs (`jobs_relid`): old_row nullptr for
// INSERT, new_row nullptr for DELETE. The counters must have been validated
// in this transaction before the statement began.
void RecordJobChange(Oid jobs_relid, const JobCountState* old_row, const JobCountState* new_row);

// Reserve up to `wanted` running slots under `limit`, counting the slots this
// transaction released as free; returns how many. The caller holds
// RowExclusiveLock on queue.jobs (see shared_counters.cpp's locking rules).
int Reserve(const CounterKey& key, int wanted, int limit);

// Give back the reservations no claimed row consumed.
void ReleaseReservations();

// Figures of finished or started attempts, added to the minute stats at commit.
void RecordMinuteStats(const MinuteStats& stats);

// A completed attempt's run time, folded into its job type's average at commit.
void RecordRunTime(const char* job_type, policy::Micros run_time);

// A counter as this transaction sees the table: the shared value plus this
// transaction's changes still waiting for commit.
int64 VisibleCount(const CounterKey& key);

// Queued jobs of a priority that `counters` count, in id blocks before
// `block`, as this transaction sees them.
int64 VisibleBlocksBefore(BlockCounters counters, int priority, int64 block);

// LowestUnscheduledId, lowered to the blocks where this transaction changed
// queued jobs (its changes reach the counters at commit).
int64 LowestUnscheduledIdSeen(int priority);

// Wake the background worker at commit: a retry became due at once.
void WakeWorkerAtCommit();

// Bump WorkersGeneration() at commit: the transaction changed queue.workers.
void BumpWorkersGenerationAtCommit();

// Forget the counters at commit (TRUNCATE of queue.jobs).
void InvalidateCountersAtCommit();

// Whether this transaction holds counters it changes or will change at its
// end: it changed queue.jobs or reserved running slots.
bool LedgerHoldsCounterChanges();

}  // namespace queue
