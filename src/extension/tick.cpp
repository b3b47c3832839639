// queue.tick(): one maintenance pass, run by the background worker every
// queue.tick_interval, or by pg_cron where the worker is off.
//
// Every step works on rows it locks with SKIP LOCKED, in bounded batches, so
// passes may overlap with each other and with the SQL API: a row another
// session is changing is left for the next pass.
#include "queue/tick.hpp"

#include "queue/attempts.hpp"
#include "queue/boundary.hpp"
#include "queue/config.hpp"
#include "queue/datums.hpp"
#include "queue/notify.hpp"
#include "queue/positions.hpp"
#include "queue/shared_counters.hpp"
#include "queue/spi.hpp"

#include <algorithm>
#include <utility>

extern "C" {
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "storage/lmgr.h"
}

namespace queue {

namespace {

constexpr int kBatch = 1000;
constexpr int kMaxPruneBatches = 20;

// $1 batch size. Attempts past their deadline, oldest first.
SavedPlan overdue_attempts = {
    "SELECT id, attempts, max_attempts, cancel_requested,"
    "  extract(epoch FROM timeout)::int8 FROM queue.jobs"
    " WHERE status = 'processing' AND deadline < now()"
    " ORDER BY deadline LIMIT $1 FOR UPDATE SKIP LOCKED",
    1,
    {INT4OID},
    nullptr};

// $1 worker_timeout in microseconds, $2 batch size, the longest silent
// first: the index of live workers by heartbeat gives them in that order, so
// the pass reads only the silent ones. A worker whose row is locked is being
// heard from (a heartbeat or claim in a transaction still open): left alone,
// and the pass does not wait for that transaction.
SavedPlan mark_dead_workers = {
    "UPDATE queue.workers SET state = 'dead' WHERE worker_id = ANY(ARRAY("
    "  SELECT worker_id FROM queue.workers"
    "   WHERE state <> 'dead' AND last_heartbeat < now() - $1 * interval '1 microsecond'"
    "   ORDER BY last_heartbeat LIMIT $2 FOR UPDATE SKIP LOCKED))",
    2,
    {INT8OID, INT4OID},
    nullptr};

// Attempts of dead workers, found from the (few) dead workers: a plan that
// starts from queue.jobs would walk every processing entry a long
// transaction elsewhere keeps from being removed, dead worker or not. Each
// dead worker's attempts are read from the index of processing jobs by
// worker, in no particular order: with ORDER BY id, where the statistics
// know few worker ids (a small farm), a worker id's share of the table looked
// large enough that walking every job in id order to the first few seemed
// cheaper, and each pass read the whole table while a worker stayed dead.
// Only workers heard from within $2 (microseconds; see RecoveryWindow) are
// read, through the index of dead workers by last heartbeat: the pass does
// not read every worker that ever stopped.
SavedPlan orphaned_attempts = {
    "SELECT j.id, j.attempts, j.max_attempts, j.cancel_requested, j.worker_id"
    " FROM queue.workers w,"
    "  LATERAL (SELECT id, attempts, max_attempts, cancel_requested, worker_id FROM queue.jobs"
    "           WHERE worker_id = w.worker_id AND status = 'processing'"
    "           LIMIT $1 FOR UPDATE SKIP LOCKED) j"
    " WHERE w.state = 'dead' AND w.last_heartbeat > now() - $2 * interval '1 microsecond'"
    " ORDER BY w.last_heartbeat DESC LIMIT $1",
    2,
    {INT4OID, INT8OID},
    nullptr};

// How long after its last heartbeat a dead worker may still hold an attempt
// before that attempt's deadline: its claims refresh its liveness at least
// every worker_timeout, and an attempt lasts at most the longest job timeout
// in the configuration. Past that, the timeout step ends whatever the worker
// left (an attempt whose timeout an admin raised by hand included).
policy::Micros RecoveryWindow(const Config& config) {
  policy::Micros longest = config.job_timeout;
  for (const JobTypeConfig& type : config.job_types) longest = std::max(longest, type.timeout);
  return config.worker_timeout + longest;
}

// $1 batch size, $2 the retry floor (see ReleaseRetries).
SavedPlan release_retries = {
    "WITH released AS ("
    "  UPDATE queue.jobs SET status = 'queued' WHERE id IN ("
    "    SELECT id FROM queue.jobs WHERE status = 'retrying' AND run_at >= $2 AND run_at <= now()"
    "    ORDER BY run_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
    "  RETURNING id),"
    " logged AS ("
    "  INSERT INTO queue.job_events (job_id, from_status, to_status, detail)"
    "  SELECT id, 'retrying', 'queued', 'retry due' FROM released)"
    "SELECT count(*) FROM released",
    2,
    {INT4OID, TIMESTAMPTZOID},
    nullptr};

// $1 retention in microseconds, $2 batch size, $3 the prune floor (see
// PruneFinished); returns how many it pruned and the latest finish among them.
SavedPlan prune_finished = {
    "WITH pruned AS ("
    "  DELETE FROM queue.jobs WHERE id IN ("
    "    SELECT id FROM queue.jobs"
    "    WHERE finished_at >= $3 AND finished_at < now() - $1 * interval '1 microsecond'"
    "    ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
    "  RETURNING id, finished_at),"
    " events AS (DELETE FROM queue.job_events WHERE job_id IN (SELECT id FROM pruned))"
    "SELECT count(*), max(finished_at) FROM pruned",
    3,
    {INT8OID, INT4OID, TIMESTAMPTZOID},
    nullptr};

// $1 retention in microseconds, $2 batch size. Workers dead for longer than
// the retention with no attempt running under their id leave the registry,
// as finished jobs leave the table: it holds the farm, not its history.
SavedPlan prune_dead_workers = {
    "DELETE FROM queue.workers WHERE worker_id = ANY(ARRAY("
    "  SELECT w.worker_id FROM queue.workers w"
    "   WHERE w.state = 'dead' AND w.last_heartbeat < now() - $1 * interval '1 microsecond'"
    "     AND NOT EXISTS (SELECT FROM queue.jobs j"
    "                      WHERE j.worker_id = w.worker_id AND j.status = 'processing')"
    "   ORDER BY w.last_heartbeat LIMIT $2 FOR UPDATE SKIP LOCKED))",
    2,
    {INT8OID, INT4OID},
    nullptr};

SavedPlan count_alerts = {"SELECT count(*) FROM queue.alerts", 0, {}, nullptr};

// History, Prometheus totals and alert changes (queue--1.2--1.3.sql).
SavedPlan monitor_pass = {"SELECT queue.monitor()", 0, {}, nullptr};

// The events a monitoring pass folds at most (queue.monitor() passes it to
// fold_events()): a slice holds the background worker from its wake-up
// relays for a few milliseconds.
constexpr int64 kFoldSlice = 500;

// Where the monitoring pass has folded up to, and how many events wait past
// it: two index probes.
SavedPlan fold_position = {
    "SELECT last_event_id, coalesce((SELECT max(id) FROM queue.job_events), 0) - last_event_id"
    " FROM queue.monitor_state",
    0,
    {},
    nullptr};

// How long one tick() call goes on folding slices: pg_cron calls it once a
// minute, and the minute's events should not wait for the next call.
constexpr long kCatchUpMillis = 5000;

// The folding cursor (-1 without the state row) and how many ids lie past it.
std::pair<int64, int64> FoldPosition() {
  if (SpiRun(fold_position, nullptr, nullptr, SPI_OK_SELECT) != 1) return {-1, 0};
  return {DatumGetInt64(SpiValueNotNull(0, 1)), DatumGetInt64(SpiValueNotNull(0, 2))};
}

// Run the monitoring pass (SPI connected): one slice of the events waiting.
// Returns whether it folded some and a whole slice more waits: a backlog, to
// fold at once. The few events of the last moments wait for the next pass
// (else under a steady load passes would follow one another without end), as
// do the events while another session's pass holds the monitoring state.
bool RunMonitorPass() {
  const int64 folded_before = FoldPosition().first;
  SpiRun(monitor_pass, nullptr, nullptr, SPI_OK_SELECT);
  const auto [folded_after, waiting] = FoldPosition();
  return folded_after > folded_before && waiting >= kFoldSlice;
}

int64 CountResult() { return DatumGetInt64(SpiValueNotNull(0, 1)); }

// Read locked failed attempts from the current result (id, attempts,
// max_attempts, cancel_requested, <text for the error>) and end them.
int EndFailedAttempts(const Config& config, uint64 rows, bool backoff, const char* error_format) {
  if (rows == 0) return 0;
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  auto* ends = static_cast<AttemptEnd*>(palloc(sizeof(AttemptEnd) * rows));
  for (uint64 i = 0; i < rows; i++) {
    FailedAttempt attempt{
        DatumGetInt64(SpiValueNotNull(i, 1)), DatumGetInt32(SpiValueNotNull(i, 2)),
        DatumGetInt32(SpiValueNotNull(i, 3)), DatumGetBool(SpiValueNotNull(i, 4))};
    ends[i] =
        DecideFailure(config, attempt, true, backoff, now, psprintf(error_format, SpiText(i, 5)));
  }
  return static_cast<int>(EndAttempts(ends, static_cast<int>(rows)));
}

// Where a pass's scan of an index in time order starts: this backend's
// earlier passes dealt with the rows before it. A long transaction elsewhere
// keeps the entries of those rows from being removed, and a scan from the
// oldest entry would walk all of them again on every pass. Every
// kPassesPerReset passes or kResetEvery, whichever comes first, the scan
// starts from the beginning: for the rows skipped while another session held
// them, the rows of a pass that rolled back after moving the floor, and rows
// that committed a time older than the floor (or had it moved back by hand).
class ScanFloor {
 public:
  TimestampTz ForThisPass() {
    const TimestampTz now = GetCurrentTimestamp();
    if (++passes_since_reset_ >= kPassesPerReset || now - reset_at_ >= kResetEvery) {
      passes_since_reset_ = 0;
      reset_at_ = now;
      at_ = DT_NOBEGIN;
    }
    return at_;
  }
  void MoveTo(TimestampTz at) { at_ = at; }

 private:
  static constexpr int kPassesPerReset = 60;
  static constexpr int64 kResetEvery = 60 * policy::kMicrosPerSecond;
  TimestampTz at_ = DT_NOBEGIN;
  TimestampTz reset_at_ = 0;
  int passes_since_reset_ = 0;
};

// The latest finish a pass pruned: every finished job before it was pruned.
ScanFloor prune_floor;

// Prune finished jobs past retention, in batches until the backlog is gone
// (or kMaxPruneBatches), so pruning keeps up with more than kBatch finished
// jobs a pass; returns how many.
int PruneFinished(const Config& config) {
  int total = 0;
  TimestampTz floor = prune_floor.ForThisPass();
  for (int round = 0; round < kMaxPruneBatches; round++) {
    Datum args[3] = {Int64GetDatum(config.retention), Int32GetDatum(kBatch),
                     TimestampTzGetDatum(floor)};
    SpiRun(prune_finished, args, nullptr, SPI_OK_SELECT);
    int pruned = static_cast<int>(CountResult());
    bool none = false;
    Datum latest = SpiValue(0, 2, &none);
    if (!none) prune_floor.MoveTo(floor = DatumGetTimestampTz(latest));
    total += pruned;
    if (pruned < kBatch) break;
  }
  return total;
}

// Where the release of due retries starts: a pass that released every retry
// due moves it to its own start, less kRetryFloorMargin for the failures that
// commit after the pass with an earlier run_at (a retry's run_at is never
// before the start of the transaction that failed it). A retry whose failing
// transaction ran longer, or that was locked while the pass ran, waits for
// the floor's reset: a minute at most.
ScanFloor retry_floor;
constexpr int64 kRetryFloorMargin = 10 * policy::kMicrosPerSecond;

// Queue the retries that are due again; returns how many.
int ReleaseRetries() {
  Datum args[2] = {Int32GetDatum(kBatch), TimestampTzGetDatum(retry_floor.ForThisPass())};
  SpiRun(release_retries, args, nullptr, SPI_OK_SELECT);
  const int released = static_cast<int>(CountResult());
  if (released < kBatch)
    retry_floor.MoveTo(GetCurrentTransactionStartTimestamp() - kRetryFloorMargin);
  return released;
}

}  // namespace

bool HoldExtension() {
  Oid extension = get_extension_oid("queue", true);
  if (!OidIsValid(extension)) return false;
  // DROP EXTENSION locks the extension before its members. A pass that
  // holds the extension before any table never holds one the drop waits
  // for while it waits for another the drop holds: one waits, nobody dies.
  LockDatabaseObject(ExtensionRelationId, extension, 0, AccessShareLock);
  // Not dropped (nor dropped and created again) while this waited.
  return get_extension_oid("queue", true) == extension;
}

TickResult RunTick() {
  // tick() pins it at its entry point; the background worker at connect.
  // Pinned here too, so that no caller can make a pass run SQL on its path.
  PinSearchPath();
  const Config& config = RefreshConfig();
  EnsureCountersValid(config.jobs_relid);
  TakeBackPositions(config.jobs_relid);
  TickResult result{};
  Datum batch = Int32GetDatum(kBatch);
  SpiConnect();

  uint64 rows = SpiRun(overdue_attempts, &batch, nullptr, SPI_OK_SELECT);
  result.timed_out = EndFailedAttempts(config, rows, true, "attempt timed out after %s s");

  Datum silent_args[2] = {Int64GetDatum(config.worker_timeout), batch};
  result.dead_workers =
      static_cast<int>(SpiRun(mark_dead_workers, silent_args, nullptr, SPI_OK_UPDATE));
  Datum orphan_args[2] = {batch, Int64GetDatum(RecoveryWindow(config))};
  rows = SpiRun(orphaned_attempts, orphan_args, nullptr, SPI_OK_SELECT);
  result.recovered = EndFailedAttempts(config, rows, false, "worker %s stopped sending heartbeats");

  result.released = ReleaseRetries();
  if (result.released > 0) NotifyClaimable("retry");

  result.pruned = PruneFinished(config);
  Datum prune_args[2] = {Int64GetDatum(config.retention), batch};
  SpiRun(prune_dead_workers, prune_args, nullptr, SPI_OK_DELETE);
  CompactCounters();
  ShareRunningRenders();

  result.events_wait = RunMonitorPass();
  SpiRun(count_alerts, nullptr, nullptr, SPI_OK_SELECT);
  result.alerts = static_cast<int>(CountResult());
  SpiFinish();
  UnpinSearchPath();
  return result;
}

bool FoldNextSlice() {
  PinSearchPath();
  // queue.jobs before queue.job_events, the order in which the functions
  // write them and TRUNCATE queue.jobs, queue.job_events locks them: a fold
  // alone in its transaction would otherwise hold the events and wait for the
  // jobs while such a TRUNCATE holds the jobs and waits for the events.
  LockRelationOid(RefreshConfig().jobs_relid, AccessShareLock);
  SpiConnect();
  bool more = RunMonitorPass();
  SpiFinish();
  UnpinSearchPath();
  return more;
}

static Datum Tick(FunctionCallInfo fcinfo) {
  TupleDesc desc = ResultRowDescriptor(fcinfo);
  TickResult result{};
  if (HoldExtension()) {
    result = RunTick();
    const TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), kCatchUpMillis);
    while (result.events_wait && GetCurrentTimestamp() < until) result.events_wait = FoldNextSlice();
  }
  Datum values[6] = {Int32GetDatum(result.timed_out),    Int32GetDatum(result.released),
                     Int32GetDatum(result.dead_workers), Int32GetDatum(result.recovered),
                     Int32GetDatum(result.pruned),       Int32GetDatum(result.alerts)};
  bool nulls[6] = {};
  return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_tick, queue::Tick)
