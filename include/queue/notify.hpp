// Wake-ups for render workers: NOTIFY queue_jobs, '<job type>' when jobs
// become claimable.
//
// NOTIFY holds a cluster-wide lock from before a transaction's commit until
// its commit record is flushed, so notifying transactions commit one at a
// time and lose group commit. So where the background worker serves the
// database, the wake-ups of many transactions ride on one commit a
// millisecond at most:
// - a committing transaction whose job types need a wake-up sends them, with
//   the job types other transactions marked since the last send, as NOTIFYs
//   of its own, when the last send is a millisecond old and no other
//   transaction is sending; otherwise it marks its job types in shared
//   memory at commit, for the next one;
// - marks no committing transaction took (the stream of enqueues ended) are
//   sent by the background worker a few milliseconds after the last send, in
//   a short transaction of its own (the relay). The first marks since a send
//   set its latch, unless it is already waiting to look at them.
// Elsewhere (another database, no worker running) the transaction sends its
// NOTIFY itself, at most once. queue.notify = off sends none.
#pragma once

#include "queue/pg.hpp"

namespace queue {

// The channel render workers LISTEN on.
constexpr const char* kNotifyChannel = "queue_jobs";

// Reserve the relay's shared memory and register the commit callback; only
// from _PG_init while preloading.
void RequestNotifyRelay();

// Notify listeners once this transaction commits; the payload names what
// became claimable (a job type, or "retry"). A rolled-back subtransaction
// may still cause a wake-up that finds nothing: workers then claim nothing.
void NotifyClaimable(const char* payload);

// In the background worker: relay the marked job types of this database from
// now on (latch set when some arrive), or no longer (nullptr).
void AttachNotifyRelay(Latch* latch);

// In the background worker: when to look at the marks again (and relay
// them when that time has come): 0 when none are marked (committers then set
// the latch for the next ones), `now` when they are due for the relay,
// otherwise the time they will be, when no committing transaction took them.
TimestampTz CheckNotifyRelay(TimestampTz now);

// In the background worker: note whether PostgreSQL's notification queue is
// half full (a listener has not read for long); committing transactions then
// leave their wake-ups to the relay, whose NOTIFY fails when it is full,
// rather than fail themselves. Reads, and may trim, the queue.
void MeasureNotifyQueue();

// In the background worker: send one NOTIFY per marked job type in a
// transaction of its own (committed without waiting for its flush: losing a
// wake-up in a crash costs nothing, workers also poll).
void RelayNotifications();

}  // namespace queue
