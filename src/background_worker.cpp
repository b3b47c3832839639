// The background worker: runs queue.tick()'s pass every queue.tick_interval.
//
// It connects to queue.database, sleeps on its latch between passes (no busy
// loop), reloads settings on SIGHUP and exits on SIGTERM. While the server is
// a hot standby, or the extension is not installed yet, or queue.enabled is
// off, it waits and says so once in the log. A transaction that makes a retry
// due at once wakes it through its latch after commit. An error ends the process and
// the postmaster starts it again after kRestartSeconds.
#include "queue/background_worker.hpp"

#include "queue/boundary.hpp"
#include "queue/gucs.hpp"
#include "queue/shared_counters.hpp"
#include "queue/tick.hpp"

extern "C" {
#include "access/xlog.h"
#include "commands/extension.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
}

namespace queue {

namespace {

constexpr int kRestartSeconds = 5;
constexpr long kIdleCheckMillis = 10000;  // re-check for the extension being installed

// Why the worker is not ticking, logged once per change.
enum class Idle { kUnknown, kNone, kDisabled, kStandby, kNotInstalled };

void LogIdleOnce(Idle& logged, Idle now) {
  if (logged == now) return;
  logged = now;
  switch (now) {
    case Idle::kDisabled:
      ereport(LOG, (errmsg("queue worker: queue.enabled is off; not ticking")));
      break;
    case Idle::kStandby:
      ereport(LOG, (errmsg("queue worker: server is a hot standby; waiting for promotion")));
      break;
    case Idle::kNotInstalled:
      ereport(LOG, (errmsg("queue worker: extension \"queue\" is not installed in database "
                           "\"%s\"; waiting",
                           queue_database)));
      break;
    case Idle::kNone:
      ereport(LOG, (errmsg("queue worker: ticking every %d ms", queue_tick_interval)));
      break;
    case Idle::kUnknown:
      break;
  }
}

// Run one pass in its own transaction, unless the extension is missing.
bool TickOnce() {
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  PushActiveSnapshot(GetTransactionSnapshot());
  bool installed = OidIsValid(get_extension_oid("queue", true));
  if (installed) {
    pgstat_report_activity(STATE_RUNNING, "SELECT queue.tick()");
    TickResult result = RunTick();
    if (result.timed_out + result.recovered + result.dead_workers > 0)
      ereport(DEBUG1, (errmsg("queue worker: timed out %d, recovered %d from %d dead workers",
                              result.timed_out, result.recovered, result.dead_workers)));
  }
  PopActiveSnapshot();
  CommitTransactionCommand();
  pgstat_report_activity(STATE_IDLE, nullptr);
  return installed;
}

// Stop advertising the latch when the worker exits.
void ForgetLatch(int, Datum) { PublishWorkerLatch(nullptr); }

void WorkerLoop() {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(queue_database, nullptr, 0);
  pgstat_report_appname("queue worker");
  PublishWorkerLatch(MyLatch);
  before_shmem_exit(ForgetLatch, 0);

  Idle logged = Idle::kUnknown;
  for (;;) {
    long wait = queue_tick_interval;
    Idle idle = Idle::kNone;
    if (!queue_enabled)
      idle = Idle::kDisabled;
    else if (RecoveryInProgress())
      idle = Idle::kStandby;
    else if (!TickOnce())
      idle = Idle::kNotInstalled;
    // A standby is checked for promotion every interval; the rest rarely change.
    if (idle == Idle::kDisabled || idle == Idle::kNotInstalled) wait = kIdleCheckMillis;
    LogIdleOnce(logged, idle);

    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait,
                    PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      int previous_interval = queue_tick_interval;
      ProcessConfigFile(PGC_SIGHUP);
      if (queue_tick_interval != previous_interval)
        ereport(LOG, (errmsg("queue worker: tick interval is now %d ms", queue_tick_interval)));
    }
  }
}

}  // namespace

void RegisterBackgroundWorker() {
  BackgroundWorker worker;
  memset(&worker, 0, sizeof(worker));
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_ConsistentState;
  worker.bgw_restart_time = kRestartSeconds;
  strlcpy(worker.bgw_library_name, "queue", BGW_MAXLEN);
  strlcpy(worker.bgw_function_name, "queue_worker_main", BGW_MAXLEN);
  strlcpy(worker.bgw_name, "queue worker", BGW_MAXLEN);
  strlcpy(worker.bgw_type, "queue worker", BGW_MAXLEN);
  RegisterBackgroundWorker(&worker);
}

}  // namespace queue

extern "C" {
PGDLLEXPORT void queue_worker_main(Datum);
void queue_worker_main(Datum) {
  queue::Guard([] {
    queue::WorkerLoop();
    return static_cast<Datum>(0);
  });
}
}
