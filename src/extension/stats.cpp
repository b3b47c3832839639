// queue.stats(), queue.is_peak_hour() and queue.effective_limit().
//
// Counts come from the shared counters and recent figures from the per-minute
// ring, so stats() costs the same with ten queued jobs or a million; only
// the age of the oldest queued job is read from the table (two index probes
// per priority).
#include "queue/arguments.hpp"
#include "queue/boundary.hpp"
#include "queue/config.hpp"
#include "queue/datums.hpp"
#include "queue/ledger.hpp"
#include "queue/shared_counters.hpp"
#include "queue/spi.hpp"

extern "C" {
#include "lib/stringinfo.h"
#include "utils/snapmgr.h"
#include "utils/json.h"
}

namespace queue {

namespace {

constexpr int kStatsColumns = 19;

// For each priority, how long its longest-waiting claimable job has waited
// (NULL: none is due). A job waits from its enqueue, or from its run_at when
// that came later (scheduled for later, or retried): a job not due yet does
// not wait, and a retry waits from the end of its backoff.
// - Of the jobs claimable from their enqueue, the first in dispatch order
//   has waited longest (ids grow with time). $1 holds, per priority, an id
//   none of them lies below (see LowestUnscheduledId): the scan starts past
//   the blocks that hold only jobs scheduled for later or retried, and past
//   the entries of claimed jobs that vacuum has not removed yet. A row
//   comparison makes it start there (with "priority = p" the planner drops
//   the constant from the sort and walks the primary key over every
//   finished job), and the bound on the priority ends it with the
//   priority's entries. It reads at most 10,000 entries: more scheduled
//   jobs before the first such job are met only where the counters cannot
//   pass over them (positions counted in the table, a standby, a run of
//   blocks spread wider than the look-ups go), and the wait of the jobs
//   behind them is then left out.
// - Of the jobs scheduled for later or retried, the one due first, through
//   the index of those jobs by run_at (jobs_scheduled_due; ordinary
//   enqueues never enter it): when it is not due, none of them is.
SavedPlan oldest_waits = {
    "SELECT b.p, now() - least("
    "  (SELECT enqueued_at FROM ("
    "     SELECT enqueued_at, run_at FROM queue.jobs"
    "      WHERE status = 'queued' AND (priority, id) >= (b.p, b.lowest) AND priority <= b.p"
    "      ORDER BY priority, id LIMIT 10000) head"
    "    WHERE run_at <= enqueued_at LIMIT 1),"
    "  (SELECT run_at FROM queue.jobs"
    "    WHERE status = 'queued' AND run_at > enqueued_at AND priority = b.p AND run_at <= now()"
    "    ORDER BY priority, run_at LIMIT 1))"
    " FROM unnest(enum_range(NULL::queue.priority), $1::int8[]) AS b(p, lowest)",
    1,
    {INT8ARRAYOID},
    nullptr};

// Run oldest_waits (SPI connected): one row per priority, in dispatch order.
uint64 ReadOldestWaits() {
  // The bounds are read after the snapshot is taken (see LowestQueuedIds).
  Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
  int64 lowest_ids[policy::kPriorityCount];
  for (int p = 0; p < policy::kPriorityCount; p++) lowest_ids[p] = LowestUnscheduledIdSeen(p);
  Datum lowest = Int64ArrayDatum(lowest_ids, policy::kPriorityCount);
  uint64 rows = SpiRunOnSnapshot(oldest_waits, &lowest, nullptr, snapshot, SPI_OK_SELECT);
  UnregisterSnapshot(snapshot);
  return rows;
}

// The longest of the waits ReadOldestWaits read, copied out of SPI's memory;
// *isnull when no job is due.
Datum LongestWait(uint64 rows, bool* isnull) {
  Datum longest = 0;
  *isnull = true;
  for (uint64 row = 0; row < rows; row++) {
    bool none = false;
    Datum wait = SpiValue(row, 2, &none);
    if (none) continue;
    if (*isnull || DatumGetInt32(DirectFunctionCall2(interval_cmp, wait, longest)) > 0)
      longest = wait;
    *isnull = false;
  }
  return *isnull ? 0 : SPI_datumTransfer(longest, false, sizeof(Interval));
}

// {"manim": {"running": 2, "limit": 4}, ...} for every configured resource.
Datum ProcessingByResource(const Config& config, TimestampTz now) {
  StringInfoData json;
  initStringInfo(&json);
  appendStringInfoChar(&json, '{');
  for (size_t i = 0; i < config.resources.size(); i++) {
    const ResourceConfig& resource = config.resources[i];
    if (i > 0) appendStringInfoString(&json, ", ");
    escape_json(&json, resource.name.c_str());
    appendStringInfo(
        &json, ": {\"running\": %lld, \"limit\": %d}",
        (long long)ReadCounter(MakeKey(CounterKind::kRunningResource, 0, 0, resource.name)),
        ResourceLimitAt(config, resource, now));
  }
  appendStringInfoChar(&json, '}');
  return DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data));
}

Datum Stats(FunctionCallInfo fcinfo) {
  const Config& config = RefreshConfig();
  TupleDesc desc = ResultRowDescriptor(fcinfo);
  EnsureCountersValid(config.jobs_relid);
  TimestampTz now = GetCurrentTransactionStartTimestamp();

  Datum values[kStatsColumns];
  bool nulls[kStatsColumns] = {};
  int column = 0;
  for (policy::JobStatus status : policy::kAllJobStatuses)
    values[column++] =
        Int64GetDatum(VisibleCount(MakeKey(CounterKind::kStatus, static_cast<int>(status))));
  for (policy::Priority priority : policy::kAllPriorities)
    values[column++] = Int64GetDatum(
        VisibleCount(MakeKey(CounterKind::kQueuedPriority, static_cast<int>(priority))));
  values[column++] = ProcessingByResource(config, now);
  values[column++] = Int32GetDatum(GlobalLimitAt(config, now));
  values[column++] = BoolGetDatum(IsPeakAt(config, now));

  SpiConnect();
  values[column] = LongestWait(ReadOldestWaits(), &nulls[column]);
  column++;
  SpiFinish();

  int64 minute_now = now / (60 * policy::kMicrosPerSecond);
  int64 window_minutes = std::max<int64>(1, config.stats_window / (60 * policy::kMicrosPerSecond));
  MinuteStats recent = SumMinuteStats(minute_now - window_minutes + 1, minute_now);
  nulls[column] = recent.started == 0;
  values[column++] = recent.started == 0 ? 0 : IntervalDatum(recent.wait_sum / recent.started);
  nulls[column] = recent.completed == 0;
  values[column++] = recent.completed == 0 ? 0 : IntervalDatum(recent.run_sum / recent.completed);
  values[column++] = Float8GetDatum(static_cast<double>(recent.completed) / window_minutes);
  int64 ended = recent.completed + recent.failed;
  values[column++] = Float8GetDatum(ended == 0 ? 0.0 : static_cast<double>(recent.failed) / ended);
  values[column++] = IntervalDatum(window_minutes * 60 * policy::kMicrosPerSecond);
  values[column++] = Int64GetDatum(ReadRefusedResults());
  Assert(column == kStatsColumns);
  return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

// queue.oldest_waits(): the waits of ReadOldestWaits, one row per priority.
Datum OldestWaits(FunctionCallInfo fcinfo) {
  const Config& config = RefreshConfig();
  InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
  Tuplestorestate* result = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo)->setResult;
  EnsureCountersValid(config.jobs_relid);
  SpiConnect();
  uint64 rows = ReadOldestWaits();
  for (uint64 i = 0; i < rows; i++) tuplestore_puttuple(result, SPI_tuptable->vals[i]);
  SpiFinish();
  return static_cast<Datum>(0);
}

// The `at` argument: given and finite.
TimestampTz RequiredMoment(FunctionCallInfo fcinfo, int index) {
  RequireArgument(fcinfo, index, "at");
  TimestampTz at = PG_GETARG_TIMESTAMPTZ(index);
  if (TIMESTAMP_NOT_FINITE(at))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("at must be a finite time")));
  return at;
}

Datum IsPeakHour(FunctionCallInfo fcinfo) {
  const Config& config = RefreshConfig();
  PG_RETURN_BOOL(IsPeakAt(config, RequiredMoment(fcinfo, 0)));
}

Datum EffectiveLimit(FunctionCallInfo fcinfo) {
  const Config& config = RefreshConfig();
  TimestampTz at = RequiredMoment(fcinfo, 1);
  if (PG_ARGISNULL(0)) PG_RETURN_INT32(GlobalLimitAt(config, at));
  char* name = TextDatumGetCString(PG_GETARG_DATUM(0));
  PG_RETURN_INT32(ResourceLimitAt(config, RequireResource(config, name), at));
}

}  // namespace

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_stats, queue::Stats)
QUEUE_SQL_FUNCTION(queue_oldest_waits, queue::OldestWaits)
QUEUE_SQL_FUNCTION(queue_is_peak_hour, queue::IsPeakHour)
QUEUE_SQL_FUNCTION(queue_effective_limit, queue::EffectiveLimit)
