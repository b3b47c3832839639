// Wake-ups for render workers, relayed by the background worker (see notify.hpp).
//
// The relay's shared state is guarded by a spinlock: it is taken only to copy
// a few names in or out, including from the commit callback, which must not
// fail or allocate.
#include "queue/notify.hpp"

#include "queue/gucs.hpp"

extern "C" {
#include "catalog/pg_database.h"
#include "commands/async.h"
#include "replication/syncrep.h"
#include "replication/walsender.h"
#include "storage/lock.h"
#include "storage/spin.h"
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
  Oid database;        // the worker's database, while it relays
  Latch* latch;        // the worker's latch, while it relays
  bool armed;          // the worker will look at the marks by itself: no latch to set
  bool sending;        // a committing transaction sends the marks it took
  bool queue_filling;  // the notification queue is half full (the worker measures it)
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

// When the last send was, as seen from `now` (relay->mutex held, or a mere
// glance): long ago when it lies ahead (the clock stepped back), so that
// sends do not stall until the clock catches up.
TimestampTz LastSentAt(TimestampTz now) {
  return relay->last_sent_at <= now ? relay->last_sent_at : 0;
}

// Whether this transaction's commit will wait for a synchronous standby: a
// sender holds NOTIFY's lock, and the marks it took, through that wait too,
// which lasts as long as the standby does not answer.
bool CommitWaitsForStandby() {
  return SyncRepRequested() && SyncRepStandbyNames != nullptr && SyncRepStandbyNames[0] != '\0';
}

// Take the lock NOTIFY takes at commit (PreCommit_Notify), if no other
// transaction holds it: it is held until a notifying transaction's commit is
// flushed (or confirmed by a synchronous standby), and an enqueue must not
// wait for another's. Once held, PreCommit_Notify takes it again at once.
bool TryNotifyLock() {
  LOCKTAG tag;
  SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, InvalidOid, 0);
  return LockAcquire(&tag, AccessExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL;
}

// Give back the marks this transaction took to send (it cannot send them,
// or aborts).
void GiveBack() {
  if (!sending_marks) return;
  sending_marks = false;
  Latch* latch = nullptr;
  SpinLockAcquire(&relay->mutex);
  relay->sending = false;
  if (relay->latch != nullptr && relay->database == MyDatabaseId &&
      AddMarks(taken, taken_count, taken_overflow))
    latch = relay->latch;
  SpinLockRelease(&relay->mutex);
  if (latch != nullptr) SetLatch(latch);
}

// Before commit: when the last send is a gap old and no other transaction
// is sending, take the marks and send them, with this transaction's own job
// types, as NOTIFYs of this transaction: under a stream of enqueues the
// wake-ups ride on one commit a gap, and the worker does not relay them.
// (A NOTIFY holds a cluster-wide lock until its commit is flushed; one
// transaction a gap holds it, the others commit without it.) Never waits:
// while another transaction holds that lock, or a listener that has not
// read for long filled half the notification queue (a full queue fails the
// commit that notifies), or its commit will wait for a synchronous standby,
// the job types are marked for the worker instead.
void SendWithThisCommit() {
  if (pending_count == 0 && !pending_overflow) return;
  if (CommitWaitsForStandby()) return;
  const TimestampTz now = GetCurrentTimestamp();
  // Most commits of a stream come within the gap: a glance tells them so
  // without the lock. A stale or torn read only misjudges whether to try:
  // the job types are then marked for the next send, or tested under the
  // lock below.
  if (now < TimestampTzPlusMilliseconds(LastSentAt(now), kSendGapMillis)) return;
  SpinLockAcquire(&relay->mutex);
  bool take = relay->latch != nullptr && relay->database == MyDatabaseId && !relay->sending &&
              !relay->queue_filling &&
              now >= TimestampTzPlusMilliseconds(LastSentAt(now), kSendGapMillis);
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
  if (!TryNotifyLock()) {
    GiveBack();  // this transaction's own job types are marked at commit
    return;
  }
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

void TransactionCallback(XactEvent event, void*) {
  if (relay == nullptr) return;
  if (event == XACT_EVENT_PRE_COMMIT) SendWithThisCommit();
  if (event == XACT_EVENT_COMMIT) MarkAtCommit();
  if (event == XACT_EVENT_ABORT) GiveBack();
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
  relay->queue_filling = false;
  relay->last_sent_at = 0;
  relay->marked_count = 0;
  relay->overflow = false;
  SpinLockRelease(&relay->mutex);
}

TimestampTz CheckNotifyRelay(TimestampTz now) {
  SpinLockAcquire(&relay->mutex);
  TimestampTz look_again_at = 0;
  if (relay->marked_count > 0 || relay->overflow) {
    look_again_at = TimestampTzPlusMilliseconds(relay->sending ? now : LastSentAt(now),
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

void MeasureNotifyQueue() {
  // In a transaction: an error while the queue is trimmed then releases its
  // locks on abort.
  StartTransactionCommand();
  LOCAL_FCINFO(call, 0);
  InitFunctionCallInfoData(*call, nullptr, 0, InvalidOid, nullptr, nullptr);
  const bool filling = DatumGetFloat8(pg_notification_queue_usage(call)) >= 0.5;
  CommitTransactionCommand();
  SpinLockAcquire(&relay->mutex);
  relay->queue_filling = filling;
  SpinLockRelease(&relay->mutex);
}

void RelayNotifications() {
  char names[kMaxMarked][NAMEDATALEN];
  const TimestampTz now = GetCurrentTimestamp();
  SpinLockAcquire(&relay->mutex);
  int count = relay->marked_count;
  bool overflow = relay->overflow;
  memcpy(names, relay->marked, sizeof(names[0]) * count);
  relay->marked_count = 0;
  relay->overflow = false;
  relay->last_sent_at = now;
  SpinLockRelease(&relay->mutex);
  if (count == 0 && !overflow) return;

  // A transaction that only notifies writes no WAL before its commit record,
  // so PostgreSQL commits it without waiting for the flush (or a standby).
  StartTransactionCommand();
  if (!TryNotifyLock()) {
    // Another transaction's NOTIFY is committing: look again a while later
    // (CheckNotifyRelay) rather than wait, and keep passing.
    SpinLockAcquire(&relay->mutex);
    (void)AddMarks(names, count, overflow);
    SpinLockRelease(&relay->mutex);
    CommitTransactionCommand();
    return;
  }
  for (int i = 0; i < count; i++) Async_Notify(kNotifyChannel, names[i]);
  // Too many job types to name: an empty payload wakes every listener.
  if (overflow) Async_Notify(kNotifyChannel, "");
  CommitTransactionCommand();
}

}  // namespace queue
