// Wake-ups for render workers: NOTIFY queue_jobs when jobs become claimable.
//
// NOTIFY takes a cluster-wide lock at commit, so a transaction sends at most
// one, and queue.notify = off sends none.
#pragma once

namespace queue {

// The channel render workers LISTEN on.
constexpr const char* kNotifyChannel = "queue_jobs";

// Notify listeners at commit, unless this transaction already did; the
// payload names what became claimable (a job type, or "retry").
void NotifyClaimable(const char* payload);

}  // namespace queue
