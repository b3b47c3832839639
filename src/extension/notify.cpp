// Wake-ups for render workers, relayed by the background worker (see notify.hpp).
//
// The relay's shared state is guarded by a spinlock: it is taken only to copy
// a few names in or out, including from the commit callback, which must not
// fail or allocate.
#include "queue/notify.hpp"

#include "queue/gucs.hpp"

extern "C" {
#include "commands/async.h"
#include "storage/spin.h"
#include "utils/guc.h"
}

namespace queue {

namespace {

// Job types marked between two relays; more than this many distinct ones
// (rare: one relay a millisecond) is noted as an overflow, and the relay then
// sends one NOTIFY with an empty payload, which stands for any job type. A
// mark made while no worker relays (it restarts) is dropped: render workers
// also poll.
constexpr int kMaxMarked = 32;

struct RelayState {
  slock_t mutex;
  Oid database;  // the worker's database, while it relays
  Latch* latch;  // the worker's latch, while it relays
  bool polling;  // the worker looks for marks by itself: no latch to set
  int marked_count;
  bool overflow;
  char marked[kMaxMarked][NAMEDATALEN];
};

RelayState* relay = nullptr;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

// This transaction's job types to mark at commit, when the relay takes them.
constexpr int kMaxPerTransaction = 8;
char pending[kMaxPerTransaction][NAMEDATALEN];
int pending_count = 0;
bool pending_overflow = false;
LocalTransactionId pending_in = InvalidLocalTransactionId;
LocalTransactionId notified_in = InvalidLocalTransactionId;  // sent NOTIFY itself

void RequestRelayShmem() {
  if (previous_request_hook != nullptr) previous_request_hook();
  RequestAddinShmemSpace(MAXALIGN(sizeof(RelayState)));
}

void StartupRelayShmem() {
  if (previous_startup_hook != nullptr) previous_startup_hook();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  relay = static_cast<RelayState*>(ShmemInitStruct("queue notify relay", sizeof(RelayState), &found));
  if (!found) {
    memset(relay, 0, sizeof(RelayState));
    SpinLockInit(&relay->mutex);
  }
  LWLockRelease(AddinShmemInitLock);
}

// Whether a background worker other than this process relays for this database.
bool RelayServesThisDatabase() {
  if (relay == nullptr) return false;
  SpinLockAcquire(&relay->mutex);
  bool serves = relay->latch != nullptr && relay->latch != MyLatch && relay->database == MyDatabaseId;
  SpinLockRelease(&relay->mutex);
  return serves;
}

bool Marked(const char names[][NAMEDATALEN], int count, const char* name) {
  for (int i = 0; i < count; i++)
    if (strncmp(names[i], name, NAMEDATALEN) == 0) return true;
  return false;
}

// At commit: hand this transaction's job types to the relay, and wake it when
// these are the first marks since its last relay and it is not polling (later
// ones find it woken already; a polling worker looks at the end of its gap
// between relays by itself: under a stream of enqueues, a signal a commit
// would cost the committers some 4% of their CPU). Never fails and allocates
// nothing.
void MarkAtCommit() {
  // (MyProc->lxid is already cleared here; the list is emptied at every end.)
  if (pending_count == 0 && !pending_overflow) return;
  Latch* latch = nullptr;
  SpinLockAcquire(&relay->mutex);
  if (relay->latch != nullptr && relay->database == MyDatabaseId) {
    bool first_marks = relay->marked_count == 0 && !relay->overflow;
    relay->overflow = relay->overflow || pending_overflow;
    for (int i = 0; i < pending_count; i++) {
      if (Marked(relay->marked, relay->marked_count, pending[i])) continue;
      if (relay->marked_count == kMaxMarked) {
        relay->overflow = true;
        continue;
      }
      strlcpy(relay->marked[relay->marked_count++], pending[i], NAMEDATALEN);
    }
    if (first_marks && !relay->polling) latch = relay->latch;
  }
  SpinLockRelease(&relay->mutex);
  if (latch != nullptr) SetLatch(latch);
}

void TransactionCallback(XactEvent event, void*) {
  if (event == XACT_EVENT_COMMIT) MarkAtCommit();
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE) {
    pending_count = 0;
    pending_overflow = false;
    pending_in = InvalidLocalTransactionId;
  }
}

}  // namespace

void RequestNotifyRelay() {
  previous_request_hook = shmem_request_hook;
  shmem_request_hook = RequestRelayShmem;
  previous_startup_hook = shmem_startup_hook;
  shmem_startup_hook = StartupRelayShmem;
  RegisterXactCallback(TransactionCallback, nullptr);
}

void NotifyClaimable(const char* payload) {
  if (!queue_notify) return;
  if (!RelayServesThisDatabase()) {
    if (notified_in == MyProc->lxid) return;
    Async_Notify(kNotifyChannel, payload);
    notified_in = MyProc->lxid;
    return;
  }
  if (pending_in != MyProc->lxid) {
    pending_count = 0;
    pending_overflow = false;
    pending_in = MyProc->lxid;
  }
  if (Marked(pending, pending_count, payload)) return;
  if (pending_count == kMaxPerTransaction) {
    pending_overflow = true;
    return;
  }
  strlcpy(pending[pending_count++], payload, NAMEDATALEN);
}

void AttachNotifyRelay(Latch* latch) {
  SpinLockAcquire(&relay->mutex);
  relay->latch = latch;
  relay->database = latch != nullptr ? MyDatabaseId : InvalidOid;
  relay->polling = false;
  relay->marked_count = 0;
  relay->overflow = false;
  SpinLockRelease(&relay->mutex);
}

void PollNotifyRelay(bool polling) {
  SpinLockAcquire(&relay->mutex);
  relay->polling = polling;
  SpinLockRelease(&relay->mutex);
}

bool NotifyRelayPending() {
  SpinLockAcquire(&relay->mutex);
  bool pending_now = relay->marked_count > 0 || relay->overflow;
  SpinLockRelease(&relay->mutex);
  return pending_now;
}

void RelayNotifications() {
  char names[kMaxMarked][NAMEDATALEN];
  SpinLockAcquire(&relay->mutex);
  int count = relay->marked_count;
  bool overflow = relay->overflow;
  memcpy(names, relay->marked, sizeof(names[0]) * count);
  relay->marked_count = 0;
  relay->overflow = false;
  SpinLockRelease(&relay->mutex);
  if (count == 0 && !overflow) return;

  StartTransactionCommand();
  // The notifications are delivered at commit whether or not its record is
  // flushed; waiting for the flush would only delay the render workers.
  (void)set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
                          GUC_ACTION_LOCAL, true, 0, false);
  for (int i = 0; i < count; i++) Async_Notify(kNotifyChannel, names[i]);
  // Too many job types to name: an empty payload wakes every listener.
  if (overflow) Async_Notify(kNotifyChannel, "");
  CommitTransactionCommand();
}

}  // namespace queue
