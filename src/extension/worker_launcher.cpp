// The queue launcher: starts the queue worker, and keeps it started.
//
// Two processes, because one cannot survive a queue.database that does not
// exist: connecting to it is a FATAL inside BackgroundWorkerInitializeConnection,
// the process exits with code 1 and the postmaster starts it again, forever.
// The launcher is registered at preload and connects to no database. It reads
// pg_database, a catalog shared by all databases, and starts the queue worker
// (background_worker.cpp) as a dynamic background worker only when
// queue.database exists. When it does not, the launcher says so once and
// exits with code 0, which tells the postmaster not to start it again. When
// the worker stops, the launcher starts it again after kRestartSeconds,
// waiting longer while it keeps stopping soon after starting. When the
// launcher stops, it stops its worker, so a restarted launcher never makes a
// second one.
#include "queue/background_worker.hpp"

#include "queue/boundary.hpp"
#include "queue/gucs.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"
}

namespace queue {

namespace {

constexpr int kRestartSeconds = 5;  // before a stopped worker is started again

// Describe a background worker of this library.
void Describe(BackgroundWorker& worker, const char* function, const char* type,
              int restart_seconds) {
  memset(&worker, 0, sizeof(worker));
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_ConsistentState;
  worker.bgw_restart_time = restart_seconds;
  strlcpy(worker.bgw_library_name, "queue", BGW_MAXLEN);
  strlcpy(worker.bgw_function_name, function, BGW_MAXLEN);
  strlcpy(worker.bgw_name, type, BGW_MAXLEN);
  strlcpy(worker.bgw_type, type, BGW_MAXLEN);
}

// The running worker, or nullptr.
BackgroundWorkerHandle* worker_handle = nullptr;

// Whether the worker may connect to the database.
enum class Database { kMissing, kClosed, kOpen };

// Look a database up in pg_database, as the autovacuum launcher does: a
// process connected to no database can read the shared catalogs.
Database FindDatabase(const char* name) {
  Database found = Database::kMissing;
  StartTransactionCommand();
  (void)GetTransactionSnapshot();
  Relation catalog = table_open(DatabaseRelationId, AccessShareLock);
  TableScanDesc scan = table_beginscan_catalog(catalog, 0, nullptr);
  for (HeapTuple tuple; (tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr;) {
    auto* database = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
    if (strcmp(NameStr(database->datname), name) != 0) continue;
    bool open = database->datallowconn;
#if PG_VERSION_NUM >= 150004
    open = open && !database_is_invalid_form(database);
#endif
    found = open ? Database::kOpen : Database::kClosed;
    break;
  }
  table_endscan(scan);
  table_close(catalog, AccessShareLock);
  CommitTransactionCommand();
  return found;
}

// Ask the postmaster to start the worker and to tell this process when it stops.
bool StartWorker() {
  BackgroundWorker worker;
  Describe(worker, "queue_worker_main", "queue worker", BGW_NEVER_RESTART);
  worker.bgw_notify_pid = MyProcPid;
  return RegisterDynamicBackgroundWorker(&worker, &worker_handle);
}

// Stop the worker with its launcher (see the top of the file).
void StopWorker(int, Datum) {
  if (worker_handle != nullptr) TerminateBackgroundWorker(worker_handle);
}

void LauncherLoop() {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
  before_shmem_exit(StopWorker, 0);

  int quick_stops = 0;  // worker stops in a row, each within kMaxBackoffMillis of its start
  TimestampTz started_at = 0;
  TimestampTz start_at = 0;  // when to start the worker next
  bool said_unavailable = false;
  bool said_no_slot = false;
  for (;;) {
    TimestampTz now = GetCurrentTimestamp();
    pid_t pid;
    if (worker_handle != nullptr && GetBackgroundWorkerPid(worker_handle, &pid) == BGWH_STOPPED) {
      pfree(worker_handle);
      worker_handle = nullptr;
      quick_stops =
          TimestampDifferenceExceeds(started_at, now, kMaxBackoffMillis) ? 1 : quick_stops + 1;
      long delay = Doubled(kRestartSeconds * 1000L, quick_stops, kMaxBackoffMillis);
      if (quick_stops > 1)
        ereport(LOG, (errmsg("queue launcher: the queue worker stopped %d times in a row soon "
                             "after starting; starting it again in %ld s",
                             quick_stops, delay / 1000)));
      start_at = TimestampTzPlusMilliseconds(now, delay);
    }

    if (worker_handle == nullptr && now >= start_at) {
      Database database = FindDatabase(queue_database);
      switch (database) {
        case Database::kMissing:
        case Database::kClosed:
          // A database created (or opened) later is found at the next check:
          // a demo or a deployment script often creates it after the server.
          if (!said_unavailable)
            ereport(LOG, (errmsg("queue launcher: database \"%s\" named by queue.database %s; "
                                 "checking again every %ld s",
                                 queue_database,
                                 database == Database::kMissing ? "does not exist"
                                                                : "does not accept connections",
                                 kIdleCheckMillis / 1000)));
          said_unavailable = true;
          start_at = TimestampTzPlusMilliseconds(now, kIdleCheckMillis);
          break;
        case Database::kOpen:
          said_unavailable = false;
          if (StartWorker()) {
            started_at = now;
            said_no_slot = false;
          } else {
            if (!said_no_slot)
              ereport(LOG, (errmsg("queue launcher: no background worker slot is free for the "
                                   "queue worker; trying again every %ld s",
                                   kIdleCheckMillis / 1000),
                            errhint("Raise max_worker_processes.")));
            said_no_slot = true;
            start_at = TimestampTzPlusMilliseconds(now, kIdleCheckMillis);
          }
          break;
      }
    }

    // The postmaster sets the latch when the worker starts or stops.
    long timeout = worker_handle != nullptr
                       ? kIdleCheckMillis
                       : TimestampDifferenceMilliseconds(GetCurrentTimestamp(), start_at);
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, timeout,
                    PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
    (void)ReloadIfAsked();
  }
}

}  // namespace

void RegisterBackgroundWorker() {
  BackgroundWorker launcher;
  Describe(launcher, "queue_launcher_main", "queue launcher", kRestartSeconds);
  ::RegisterBackgroundWorker(&launcher);
}

}  // namespace queue

extern "C" {
PGDLLEXPORT void queue_launcher_main(Datum);
void queue_launcher_main(Datum) {
  queue::Guard([] {
    queue::LauncherLoop();
    return static_cast<Datum>(0);
  });
}
}
