// Wake-ups for render workers: NOTIFY queue_jobs, '<job type>' when jobs
// become claimable.
//
// NOTIFY holds a cluster-wide lock from before a transaction's commit until
// its commit record is flushed, so notifying transactions commit one at a
// time and lose group commit. So where the background worker serves the
// database, a transaction only marks at commit, in shared memory, which job
// types got work and sets the worker's latch; the worker sends one NOTIFY
// per marked job type in a short transaction of its own (the relay), within
// about a millisecond. Elsewhere (another database, no worker running) the
// transaction sends its NOTIFY itself, at most once. queue.notify = off
// sends none.
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

// In the background worker: whether job types are marked.
bool NotifyRelayPending();

// In the background worker: whether it looks for marks by itself at the end
// of each gap between relays (true), so that committing transactions need not
// set its latch, or waits for them to (false). A mark made just before this is
// turned off is not signalled: look again after.
void PollNotifyRelay(bool polling);

// In the background worker: send one NOTIFY per marked job type in a
// transaction of its own (committed without waiting for its flush: losing a
// wake-up in a crash costs nothing, workers also poll).
void RelayNotifications();

}  // namespace queue
