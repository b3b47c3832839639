// The queue worker: runs queue.tick()'s pass every queue.tick_interval.
//
// Started by the queue launcher (worker_launcher.cpp) once queue.database
// exists, it connects to that database with search_path pinned, sleeps on its
// latch between passes (no busy loop), reloads settings on SIGHUP and exits on
// SIGTERM. While the server is a hot standby, or the extension is not
// installed yet, or queue.enabled is off, it waits and says so once in the
// log. A transaction that makes a retry due at once wakes it through its
// latch after commit. A pass that fails is rolled back and logged, and the
// next one waits twice as long, up to kMaxBackoffMillis, until one succeeds.
#include "queue/background_worker.hpp"

#include "queue/boundary.hpp"
#include "queue/gucs.hpp"
#include "queue/notify.hpp"
#include "queue/shared_counters.hpp"
#include "queue/spi.hpp"
#include "queue/tick.hpp"

extern "C" {
#include "access/xlog.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
}

namespace queue {

long Doubled(long base, int repetitions, long cap) {
  long wait = base;
  for (int i = 1; i < repetitions && wait < cap; i++) wait *= 2;
  return Min(wait, cap);
}

bool ReloadIfAsked() {
  if (!ConfigReloadPending) return false;
  ConfigReloadPending = false;
  ProcessConfigFile(PGC_SIGHUP);
  return true;
}

namespace {

// The longest wait between failing passes: kMaxBackoffMillis, or the tick
// interval when that is longer (failing never makes passes more frequent).
long BackoffCapMillis() { return Max(kMaxBackoffMillis, static_cast<long>(queue_tick_interval)); }

// What the worker is doing, logged once per change.
enum class State { kUnknown, kTicking, kFailing, kDisabled, kStandby, kNotInstalled };

// How a guarded piece of work (a pass, a relay) ended.
enum class Pass { kTicked, kNotInstalled, kFailed };

void LogStateOnce(State& logged, State now, int failures, long wait) {
  if (logged == now) return;
  State before = logged;
  logged = now;
  switch (now) {
    case State::kDisabled:
      ereport(LOG, (errmsg("queue worker: queue.enabled is off; not ticking")));
      break;
    case State::kStandby:
      ereport(LOG, (errmsg("queue worker: server is a hot standby; waiting for promotion")));
      break;
    case State::kNotInstalled:
      ereport(LOG, (errmsg("queue worker: extension \"queue\" is not installed in database "
                           "\"%s\"; waiting",
                           queue_database)));
      break;
    case State::kFailing:
      ereport(LOG, (errmsg("queue worker: the pass failed; trying again in %ld ms, waiting twice "
                           "as long after each failure up to %ld s",
                           wait, BackoffCapMillis() / 1000)));
      break;
    case State::kTicking:
      if (before == State::kFailing)
        ereport(LOG, (errmsg("queue worker: passes succeed again after %d failed passes; "
                             "ticking every %d ms",
                             failures, queue_tick_interval)));
      else
        ereport(LOG, (errmsg("queue worker: ticking every %d ms", queue_tick_interval)));
      break;
    case State::kUnknown:
      break;
  }
}

// Whether the last pass or slice left events for the monitoring pass to
// fold: the next slice is then folded at once (after the relay), and only
// that, up to kSlicesPerInterval slices an interval, the pass's included.
// Monitoring then folds 10,000 events a second at the default interval; a
// burst beyond that is folded once the load eases, not at the cost of the
// claims and enqueues that make it.
bool events_wait = false;
constexpr int kSlicesPerInterval = 20;

// Run `body` in a transaction of its own that holds the extension, unless
// the extension is missing; false then. Any C++ exception leaves as a
// PostgreSQL error (Guard), for RunGuarded to catch.
template <typename Body>
bool InPassTransaction(const char* activity, Body&& body) {
  bool installed = false;
  (void)Guard([&] {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    installed = HoldExtension();
    if (installed) {
      pgstat_report_activity(STATE_RUNNING, activity);
      body();
    }
    PopActiveSnapshot();
    CommitTransactionCommand();
    return static_cast<Datum>(0);
  });
  return installed;
}

// One pass.
bool TickInTransaction() {
  return InPassTransaction("SELECT queue.tick()", [] {
    TickResult result = RunTick();
    events_wait = result.events_wait;
    if (result.timed_out + result.recovered + result.dead_workers > 0)
      ereport(DEBUG1, (errmsg("queue worker: timed out %d, recovered %d from %d dead workers",
                              result.timed_out, result.recovered, result.dead_workers)));
  });
}

// The next slice of a backlog of events: the pass that found it did the rest.
bool FoldInTransaction() {
  return InPassTransaction("SELECT queue.monitor()", [] { events_wait = FoldNextSlice(); });
}

// Run `step` (a piece of the worker's work that needs no transaction of the
// pass's: the relay of wake-ups, the measure of the notification queue) for
// RunGuarded: any C++ exception leaves as a PostgreSQL error (Guard).
template <void (*step)()>
bool GuardedStep() {
  (void)Guard([] {
    step();
    return static_cast<Datum>(0);
  });
  return true;
}

// How often the worker looks at how full PostgreSQL's notification queue is
// (see MeasureNotifyQueue).
constexpr long kQueueMeasureMillis = 1000;

// Run `work` (a pass or a step: true when done, false when the extension is
// not installed) and survive its error. PG_CATCH is entered by longjmp, which
// must not skip a C++ destructor, so this frame holds no C++ object. After an
// error it cleans up as PostgreSQL's own background processes do: report,
// abort the transaction, forget the error, free what the work left behind.
// Passes never run inside a backoff step, so each failure is logged: a
// repeated error at most once per step.
Pass RunGuarded(MemoryContext pass_context, bool (*work)()) {
  volatile Pass outcome = Pass::kFailed;
  MemoryContextSwitchTo(pass_context);
  PG_TRY();
  { outcome = work() ? Pass::kTicked : Pass::kNotInstalled; }
  PG_CATCH();
  {
    HOLD_INTERRUPTS();
    EmitErrorReport();
    AbortCurrentTransaction();
    MemoryContextSwitchTo(pass_context);
    FlushErrorState();
    RESUME_INTERRUPTS();
  }
  PG_END_TRY();
  pgstat_report_activity(STATE_IDLE, nullptr);
  pgstat_report_stat(false);  // so the pass's deletes reach autovacuum
  MemoryContextSwitchTo(TopMemoryContext);
  MemoryContextReset(pass_context);
  return outcome;
}

// Settings the worker's session keeps whatever postgresql.conf, ALTER ROLE or
// ALTER DATABASE say.
// The worker runs as superuser. Were its search_path "$user", public (the
// default) or anything an owner sets with ALTER ROLE/DATABASE ... SET, a role
// allowed to create objects in a schema on it could plant an operator or
// function that the passes would call with superuser rights. PGC_S_OVERRIDE
// outranks postgresql.conf (read again on SIGHUP) and every per-role and
// per-database setting, for the life of the process; only a SET inside a
// statement would outrank it, and the worker runs only the queue's own.
void PinWorkerSettings() {
  SetConfigOption("search_path", kPinnedSearchPath, PGC_SUSET, PGC_S_OVERRIDE);
  // A pass's statements are short; over a large queue.jobs their estimated
  // cost would make JIT compile them, for much longer than they run.
  SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);
}

// Stop advertising the latch and relaying when the worker exits.
void ForgetLatch(int, Datum) {
  PublishWorkerLatch(nullptr);
  AttachNotifyRelay(nullptr);
}

void WorkerLoop() {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(queue_database, nullptr, 0);
  PinWorkerSettings();
  pgstat_report_appname("queue worker");
  PublishWorkerLatch(MyLatch);
  AttachNotifyRelay(MyLatch);
  before_shmem_exit(ForgetLatch, 0);
  MemoryContext pass_context =
      AllocSetContextCreate(TopMemoryContext, "queue worker pass", ALLOCSET_DEFAULT_SIZES);

  State logged = State::kUnknown;
  int failures = 0;  // passes failed in a row
  TimestampTz next_pass = 0;
  int passes_at_once = 0;  // passes and slices run at once for a backlog since the last wait
  TimestampTz next_relay_check = 0;  // when marked wake-ups are looked at again; 0: when signalled
  TimestampTz next_queue_measure = 0;
  for (;;) {
    if (GetCurrentTimestamp() >= next_pass) {
      long wait = queue_tick_interval;
      State state = State::kTicking;
      if (!queue_enabled) {
        state = State::kDisabled;
      } else if (RecoveryInProgress()) {
        state = State::kStandby;
      } else {
        bool backlog = passes_at_once > 0;
        switch (RunGuarded(pass_context, backlog ? FoldInTransaction : TickInTransaction)) {
          case Pass::kTicked:
            break;
          case Pass::kNotInstalled:
            state = State::kNotInstalled;
            break;
          case Pass::kFailed:
            state = State::kFailing;
            failures++;
            wait = Doubled(queue_tick_interval, failures, BackoffCapMillis());
            break;
        }
      }
      // A standby is checked for promotion every interval; the rest rarely change.
      if (state == State::kDisabled || state == State::kNotInstalled) wait = kIdleCheckMillis;
      passes_at_once = state == State::kTicking && events_wait ? passes_at_once + 1 : 0;
      if (passes_at_once >= kSlicesPerInterval) passes_at_once = 0;
      if (passes_at_once > 0) wait = 0;
      LogStateOnce(logged, state, failures, wait);
      if (state != State::kFailing) failures = 0;
      next_pass = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait);
    }

    TimestampTz wake_at = Min(next_pass, next_queue_measure);
    if (next_relay_check != 0) wake_at = Min(wake_at, next_relay_check);
    int events = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                           TimestampDifferenceMilliseconds(GetCurrentTimestamp(), wake_at),
                           PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
    int previous_interval = queue_tick_interval;
    bool reloaded = ReloadIfAsked();
    if (queue_tick_interval != previous_interval)
      ereport(LOG, (errmsg("queue worker: tick interval is now %d ms", queue_tick_interval)));
    // Wake-ups of render workers that no committing transaction sent (see
    // notify.hpp) go out when due, whatever the passes do. Until then the
    // worker looks at them by itself, unsignalled.
    TimestampTz now = GetCurrentTimestamp();
    if (now >= next_queue_measure) {
      (void)RunGuarded(pass_context, GuardedStep<MeasureNotifyQueue>);
      next_queue_measure = TimestampTzPlusMilliseconds(now, kQueueMeasureMillis);
    }
    next_relay_check = CheckNotifyRelay(now);
    if (next_relay_check != 0 && next_relay_check <= now) {
      (void)RunGuarded(pass_context, GuardedStep<RelayNotifications>);
      next_relay_check = CheckNotifyRelay(GetCurrentTimestamp());
    }
    // A retry made due at once, or a reload, runs the next pass at once (a
    // whole pass, even amid a backlog's slices), but never cuts a backoff
    // short, unless the worker was just turned off.
    bool pass_asked = ((events & WL_LATCH_SET) != 0 && TakePassRequest()) || reloaded;
    if (pass_asked && (failures == 0 || (reloaded && !queue_enabled))) {
      next_pass = 0;
      passes_at_once = 0;
    }
  }
}

}  // namespace

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
