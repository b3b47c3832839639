// queue.stats(), queue.is_peak_hour() and queue.effective_limit().
//
// Counts come from the shared counters and recent figures from the per-minute
// ring, so stats() costs the same with ten queued jobs or a million; only
// the age of the oldest queued job is read from the table (one index probe
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

// The head of each priority in the dispatch index, $1 the ids no queued job
// of each priority lies below (see LowestQueuedIds): a row comparison makes
// the scan start there (with "priority = p" the planner drops the constant
// from the sort and walks the primary key over every finished job), past the
// entries of claimed jobs that vacuum has not removed yet, and the bound on
// the priority ends it with the priority's entries: a priority with nothing
// queued would otherwise walk on through the next one's from its first entry.
SavedPlan oldest_queued = {
    "SELECT now() - min(first.enqueued_at)"
    " FROM unnest(enum_range(NULL::queue.priority), $1::int8[]) AS b(p, lowest),"
    " LATERAL (SELECT enqueued_at FROM queue.jobs"
    "          WHERE status = 'queued' AND (priority, id) >= (b.p, b.lowest) AND priority <= b.p"
    "          ORDER BY priority, id LIMIT 1) first",
    1,
    {INT8ARRAYOID},
    nullptr};

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
  // The bounds are read after the snapshot is taken (see LowestQueuedIds).
  Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
  int64 lowest_ids[policy::kPriorityCount];
  LowestQueuedIds(lowest_ids);
  Datum lowest = Int64ArrayDatum(lowest_ids, policy::kPriorityCount);
  SpiRunOnSnapshot(oldest_queued, &lowest, nullptr, snapshot, SPI_OK_SELECT);
  UnregisterSnapshot(snapshot);
  bool isnull = false;
  Datum oldest = SpiValue(0, 1, &isnull);
  nulls[column] = isnull;
  values[column++] = isnull ? 0 : SPI_datumTransfer(oldest, false, sizeof(Interval));
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
QUEUE_SQL_FUNCTION(queue_is_peak_hour, queue::IsPeakHour)
QUEUE_SQL_FUNCTION(queue_effective_limit, queue::EffectiveLimit)
