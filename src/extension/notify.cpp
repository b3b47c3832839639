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

// Job types marked between two sends; more than this many distinct ones
// (rare: a send a millisecond) is noted as an overflow, and the send then
// includes one NOTIFY with an empty payload, which stands for any job type.
// A mark made while no worker relays (it restarts) is dropped: render
// workers also poll.
constexpr int kMaxMarked = 32;

// A committing transaction that finds marks no older than this since the
// last send leaves them for the next one, or for the worker: one send a gap
// at most, however many commits.
constexpr long kSendGapMillis = 1;

// Marks that no committing transaction took this long after the last send
// (the stream of commits ended) are sent by the worker.
constexpr long kWorkerSendsAfterMillis = 3;

struct RelayState {
  slock_t mutex;
  Oid database;  // the worker's database, while it relays
  Latch* latch;  // the worker's latch, while it relays
  bool armed;    // the worker will look at the marks by itself: no latch to set
  bool sending;  // a committing transaction sends the marks it took
  TimestampTz last_sent_at;
  int marked_count;
  bool overflow;
  char marked[kMaxMarked][NAMEDATALEN];
};

RelayState* relay = nullptr;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

// This transaction's job types to send or mark at commit.
constexpr int kMaxPerTransaction = 8;
char pending[kMaxPerTransaction][NAMEDATALEN];
int pending_count = 0;
bool pending_overflow = false;
LocalTransactionId pending_in = InvalidLocalTransactionId;
LocalTransactionId notified_in = InvalidLocalTransactionId;  // sent NOTIFY itself

// The marks this transaction took to send with its own commit, given back
// if it aborts instead.
bool sending_marks = false;
char taken[kMaxMarked][NAMEDATALEN];
int taken_count = 0;
bool taken_overflow = false;

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

// Add `names` to the marks (relay->mutex held); true when they are the first
// since the last send and the worker is not armed: its latch must be set.
bool AddMarks(const char names[][NAMEDATALEN], int count, bool overflow) {
  bool first_marks = relay->marked_count == 0 && !relay->overflow;
  relay->overflow = relay->overflow || overflow;
  for (int i = 0; i < count; i++) {
    if (Marked(relay->marked, relay->marked_count, names[i])) continue;
    if (relay->marked_count == kMaxMarked) {
      relay->overflow = true;
      continue;
    }
    strlcpy(relay->marked[relay->marked_count++], names[i], NAMEDATALEN);
  }
  return first_marks && !relay->armed && (relay->marked_count > 0 || relay->overflow);
}

// The fraction of PostgreSQL's notification queue in use.
double NotifyQueueUsage() {
  LOCAL_FCINFO(call, 0);
  InitFunctionCallInfoData(*call, nullptr, 0, InvalidOid, nullptr, nullptr);
  return DatumGetFloat8(pg_notification_queue_usage(call));
}

// Before commit: when the last send is a gap old and no other transaction
// is sending, take the marks and send them, with this transaction's own job
// types, as NOTIFYs of this transaction: under a stream of enqueues the
// wake-ups ride on one commit a gap, and the worker does not relay them.
// (A NOTIFY holds a cluster-wide lock until its commit is flushed; one
// transaction a gap holds it, the others commit without it.)
void SendWithThisCommit() {
  if (pending_count == 0 && !pending_overflow) return;
  const TimestampTz now = GetCurrentTimestamp();
  // Most commits of a stream come within the gap: a glance tells them so
  // without the lock (a torn read is impossible on 8 aligned bytes, and a
  // stale one only sends the decision to the locked test below).
  if (now < TimestampTzPlusMilliseconds(relay->last_sent_at, kSendGapMillis)) return;
  // A listener that has not read for long fills the notification queue, and
  // a full queue fails the commit that notifies: past half full, wake-ups
  // are left to the worker's relay, so enqueues never fail for it.
  if (NotifyQueueUsage() >= 0.5) return;
  SpinLockAcquire(&relay->mutex);
  bool take = relay->latch != nullptr && relay->database == MyDatabaseId && !relay->sending &&
              now >= TimestampTzPlusMilliseconds(relay->last_sent_at, kSendGapMillis);
  if (take) {
    relay->sending = true;
    relay->last_sent_at = now;
    taken_count = relay->marked_count;
    taken_overflow = relay->overflow;
    memcpy(taken, relay->marked, sizeof(taken[0]) * taken_count);
    relay->marked_count = 0;
    relay->overflow = false;
  }
  SpinLockRelease(&relay->mutex);
  if (!take) return;
  sending_marks = true;
  // Repeated names are sent once (Async_Notify drops duplicates).
  for (int i = 0; i < pending_count; i++) Async_Notify(kNotifyChannel, pending[i]);
  for (int i = 0; i < taken_count; i++) Async_Notify(kNotifyChannel, taken[i]);
  if (pending_overflow || taken_overflow) Async_Notify(kNotifyChannel, "");
}

// At commit: the send is done; or hand this transaction's job types to the
// relay, and wake the worker when these are the first marks since the last
// send and it is not armed (an armed worker looks at them by itself: under a
// stream of enqueues, a signal a commit would cost the committers some 4% of
// their CPU). Never fails and allocates nothing.
void MarkAtCommit() {
  // (MyProc->lxid is already cleared here; the list is emptied at every end.)
  if (!sending_marks && pending_count == 0 && !pending_overflow) return;
  Latch* latch = nullptr;
  SpinLockAcquire(&relay->mutex);
  if (sending_marks) {
    relay->sending = false;
  } else if ((pending_count > 0 || pending_overflow) && relay->latch != nullptr &&
             relay->database == MyDatabaseId) {
    if (AddMarks(pending, pending_count, pending_overflow)) latch = relay->latch;
  }
  SpinLockRelease(&relay->mutex);
  if (latch != nullptr) SetLatch(latch);
}

// At abort: give back the marks this transaction took to send.
void GiveBackAtAbort() {
  if (!sending_marks) return;
  Latch* latch = nullptr;
  SpinLockAcquire(&relay->mutex);
  relay->sending = false;
  if (relay->latch != nullptr && relay->database == MyDatabaseId &&
      AddMarks(taken, taken_count, taken_overflow))
    latch = relay->latch;
  SpinLockRelease(&relay->mutex);
  if (latch != nullptr) SetLatch(latch);
}

void TransactionCallback(XactEvent event, void*) {
  if (relay == nullptr) return;
  if (event == XACT_EVENT_PRE_COMMIT) SendWithThisCommit();
  if (event == XACT_EVENT_COMMIT) MarkAtCommit();
  if (event == XACT_EVENT_ABORT) GiveBackAtAbort();
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE) {
    pending_count = 0;
    pending_overflow = false;
    pending_in = InvalidLocalTransactionId;
    sending_marks = false;
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
  relay->armed = false;
  relay->sending = false;
  relay->last_sent_at = 0;
  relay->marked_count = 0;
  relay->overflow = false;
  SpinLockRelease(&relay->mutex);
}

TimestampTz CheckNotifyRelay(TimestampTz now) {
  SpinLockAcquire(&relay->mutex);
  TimestampTz look_again_at = 0;
  if (relay->marked_count > 0 || relay->overflow) {
    look_again_at = TimestampTzPlusMilliseconds(relay->sending ? now : relay->last_sent_at,
                                                kWorkerSendsAfterMillis);
    if (!relay->sending && now >= look_again_at) look_again_at = now;
  }
  // Armed while marks wait: committers need not set the latch meanwhile.
  // Disarmed in the same breath as no marks were seen, so the next first
  // mark is signalled.
  relay->armed = look_again_at != 0;
  SpinLockRelease(&relay->mutex);
  return look_again_at;
}

void RelayNotifications() {
  char names[kMaxMarked][NAMEDATALEN];
  SpinLockAcquire(&relay->mutex);
  int count = relay->marked_count;
  bool overflow = relay->overflow;
  memcpy(names, relay->marked, sizeof(names[0]) * count);
  relay->marked_count = 0;
  relay->overflow = false;
  relay->last_sent_at = GetCurrentTimestamp();
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
