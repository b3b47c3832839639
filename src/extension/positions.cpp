// queue.position() and queue.job_status(): a student's place in line.
//
// A job's position is 1 + the queued jobs dispatched before it: every queued
// job of a higher priority, plus the queued jobs of its own priority with a
// smaller id. Both come from the shared counters (per priority, and per block
// of 256 ids), so only the jobs of the job's own block are counted in the
// table: the cost does not grow with the queue. Jobs not due yet (scheduled
// for later, or waiting out a retry's backoff) are left out: while few are
// queued ahead, counted through the index of scheduled jobs; while many are
// (a batch for tonight), as the scheduled jobs of the counters less the due
// ones, or the jobs not due themselves, whichever side is small (see
// scheduled_jobs.hpp). Counts include the calling transaction's own
// uncommitted changes, as the table count does.
//
// A queued job's expected start comes from the renders running in the slots
// it waits for (policy::ExpectedTimeLeft from its type's mean run time) and the
// jobs ahead of it (policy::EstimateWait). The running renders are read through the
// index of processing jobs (at most the limits in force, whatever the queue)
// by a maintenance pass every few seconds, and shared with the estimates of
// the database; an estimate reads them itself only when no pass shared them
// lately, or more run than the shared list holds.
#include "queue/positions.hpp"

#include "queue/arguments.hpp"
#include "queue/boundary.hpp"
#include "queue/config.hpp"
#include "queue/datums.hpp"
#include "queue/enums.hpp"
#include "queue/ledger.hpp"
#include "queue/scheduled_jobs.hpp"
#include "queue/shared_counters.hpp"
#include "queue/spi.hpp"

#include <iterator>
#include <optional>

namespace queue {

namespace {

enum JobColumn {
  kStatus = 1,
  kPriority,
  kOwner,
  kJobType,
  kResource,
  kAttempts,
  kMaxAttempts,
  kLastError,
  kEnqueuedAt,
  kStartedAt,
  kFinishedAt,
  kRunAt,
};

SavedPlan read_job = {
    "SELECT status, priority, owner, job_type, resource, attempts, max_attempts, last_error,"
    " enqueued_at, started_at, finished_at, run_at FROM queue.jobs WHERE id = $1",
    1,
    {INT8OID},
    nullptr};

// Queued jobs of one priority not due yet, from `bound` (an id no queued job
// of it lies below) up to ($1 priority, $2 id): an arm of count_not_due_ahead.
#define QUEUE_NOT_DUE_OF(priority, bound)                                \
  "(SELECT count(*) FROM queue.jobs"                                     \
  " WHERE status = 'queued' AND run_at > enqueued_at AND run_at > now()" \
  "   AND" QUEUE_PRIORITY_FROM(priority,                                 \
                               bound) "   AND (priority, id) < ($1::queue.priority, $2))"

// Queued jobs dispatched before ($1 priority, $2 id) that are not due yet;
// each priority's scan starts where its queued jobs begin ($3, $4, $5), past
// the entries of retried jobs claimed since vacuum last ran. One statement
// per priority of the job, with arms for that priority and the ones before
// it only: each arm costs a scan to start, and a later priority's count is
// always 0.
#define QUEUE_NOT_DUE_PLAN(arms) \
  { "SELECT " arms, 5, {TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID}, nullptr }
SavedPlan count_not_due_ahead[] = {
    QUEUE_NOT_DUE_PLAN(QUEUE_NOT_DUE_OF("high", "$3")),
    QUEUE_NOT_DUE_PLAN(QUEUE_NOT_DUE_OF("high", "$3") " + " QUEUE_NOT_DUE_OF("medium", "$4")),
    QUEUE_NOT_DUE_PLAN(QUEUE_NOT_DUE_OF("high", "$3") " + " QUEUE_NOT_DUE_OF("medium", "$4") " + "
                           QUEUE_NOT_DUE_OF("low", "$5"))};
static_assert(std::size(count_not_due_ahead) == policy::kPriorityCount,
              "one count of jobs not due per priority");
#undef QUEUE_NOT_DUE_PLAN
#undef QUEUE_NOT_DUE_OF

// The renders running in the database: up to $1 of them (NULL: all).
SavedPlan running_renders = {
    "SELECT job_type, coalesce(resource, ''), started_at FROM queue.jobs"
    " WHERE status = 'processing' LIMIT $1",
    1,
    {INT8OID},
    nullptr};

// Queued jobs (that meet `condition`) of priority $1 with ids from $2 up to,
// not including, $3: the part of the job's block before it, or after it,
// whichever is shorter (or all of its priority ahead of it, while positions
// are counted in the table). The count reads an index of queued jobs, and
// the table for each entry on a page vacuum has not marked all-visible yet:
// in a live queue, most of those of recent jobs.
#define QUEUE_COUNT_BETWEEN(condition)                                  \
  {                                                                     \
    "SELECT count(*) FROM queue.jobs WHERE status = 'queued'" condition \
    "   AND priority = $1::queue.priority AND id >= $2 AND id < $3",    \
        3, {TEXTOID, INT8OID, INT8OID}, nullptr                         \
  }
SavedPlan count_queued_between = QUEUE_COUNT_BETWEEN("");
// The same, of the jobs scheduled for later or retried (the index of them).
SavedPlan count_scheduled_between = QUEUE_COUNT_BETWEEN(" AND run_at > enqueued_at");
#undef QUEUE_COUNT_BETWEEN

// Queued jobs that `count` counts (count_queued_between or
// count_scheduled_between) of the priority named `priority_name` with ids
// from `from` up to, not including, `to` (SPI connected; clobbers the
// current result).
int64 CountBetween(SavedPlan& count, Datum priority_name, int64 from, int64 to) {
  if (from >= to) return 0;
  Datum args[3] = {priority_name, Int64GetDatum(from), Int64GetDatum(to)};
  SpiRun(count, args, nullptr, SPI_OK_SELECT);
  return DatumGetInt64(SpiValueNotNull(0, 1));
}

// Queued jobs of `priority` ahead of a queued job of it, from the position
// counters (SPI connected; clobbers the current result).
int64 CountedAheadInPriority(int64 job_id, policy::Priority priority, Datum priority_name) {
  int64 block = job_id >> kIdBlockShift;
  int64 ahead = VisibleBlocksBefore(kQueuedBlocks, static_cast<int>(priority), block);
  // Within its block: the jobs before it, or the block's count less the job
  // and the jobs after it, whichever part of the block is shorter.
  const int64 block_start = block << kIdBlockShift;
  const int64 block_end = (block + 1) << kIdBlockShift;
  if (job_id - block_start <= block_end - (job_id + 1))
    return ahead + CountBetween(count_queued_between, priority_name, block_start, job_id);
  return ahead +
         VisibleCount(MakeKey(CounterKind::kQueuedBlock, static_cast<int>(priority), block)) - 1 -
         CountBetween(count_queued_between, priority_name, job_id + 1, block_end);
}

// Queued jobs of `priority` ahead of a queued job of it: from the counters,
// or from the table while this database's positions are counted there (also
// when that began while the counters were read, which drops them).
int64 AheadInPriority(int64 job_id, policy::Priority priority, Datum priority_name) {
  if (!PositionsCountedInTable()) {
    int64 ahead = CountedAheadInPriority(job_id, priority, priority_name);
    if (!PositionsCountedInTable()) return ahead;
  }
  return CountBetween(count_queued_between, priority_name, 0, job_id);
}

// Queued jobs scheduled for later or retried of `priority` ahead of a queued
// job of it, from the position counters (SPI connected; clobbers the
// current result).
int64 ScheduledAheadInPriority(int64 job_id, policy::Priority priority, Datum priority_name) {
  const int64 block = job_id >> kIdBlockShift;
  const int64 ahead = VisibleBlocksBefore(kScheduledBlocks, static_cast<int>(priority), block);
  if (VisibleCount(
          MakeKey(CounterKind::kQueuedScheduledBlock, static_cast<int>(priority), block)) == 0)
    return ahead;  // none in its own block
  return ahead +
         CountBetween(count_scheduled_between, priority_name, block << kIdBlockShift, job_id);
}

// The queued jobs scheduled for later or retried of each priority, as this
// transaction sees them.
using ScheduledCounts = int64[policy::kPriorityCount];

// Queued jobs of `earlier` (`priority` or a priority dispatched before it)
// ahead of a queued job of `priority` that are not due yet, from the
// counters: those scheduled for later or retried ahead of it less the due
// ones, when few are due (a queue that keeps up); else those not due, when
// few are (a batch that fell due in a backlog); nullopt when both sides hold
// more than a look-up reads (SPI connected; clobbers the current result).
std::optional<int64> CountedNotDueIn(policy::Priority earlier, const ScheduledCounts& scheduled_in,
                                     int64 job_id, policy::Priority priority, Datum priority_name) {
  if (scheduled_in[static_cast<int>(earlier)] == 0) return 0;
  const bool own = earlier == priority;
  const int64 scheduled = own ? ScheduledAheadInPriority(job_id, priority, priority_name)
                              : scheduled_in[static_cast<int>(earlier)];
  if (scheduled == 0) return 0;
  const int64 below = own ? job_id : PG_INT64_MAX;
  const ScheduledRead due =
      ReadScheduled(static_cast<int>(earlier), ScheduledSide::kDue, below, nullptr);
  // The look-up's snapshot may see a commit the counters did not yet.
  if (due.all_read) return std::max<int64>(scheduled - due.below, 0);
  const ScheduledRead not_due =
      ReadScheduled(static_cast<int>(earlier), ScheduledSide::kNotDue, below, nullptr);
  if (not_due.all_read) return not_due.below;
  return std::nullopt;
}

// The same, over `priority` and every priority dispatched before it.
std::optional<int64> CountedNotDueAhead(const ScheduledCounts& scheduled_in, int64 job_id,
                                        policy::Priority priority, Datum priority_name) {
  int64 not_due = 0;
  for (policy::Priority earlier : policy::kAllPriorities) {
    if (policy::DispatchedBefore(priority, earlier)) continue;
    const std::optional<int64> in_earlier =
        CountedNotDueIn(earlier, scheduled_in, job_id, priority, priority_name);
    if (!in_earlier) return std::nullopt;
    not_due += *in_earlier;
  }
  return not_due;
}

// Queued jobs dispatched before a queued job of `priority` that are not due
// yet. Only jobs scheduled for later or retried can be; most of the time
// there are none, and while there are few, they are counted in the table
// (SPI connected; clobbers the current result).
int64 NotDueAhead(int64 job_id, policy::Priority priority, Datum priority_name) {
  ScheduledCounts scheduled_in{};
  int64 scheduled = 0;
  for (policy::Priority earlier : policy::kAllPriorities) {
    if (policy::DispatchedBefore(priority, earlier)) continue;
    const int slot = static_cast<int>(earlier);
    scheduled_in[slot] = VisibleCount(MakeKey(CounterKind::kQueuedScheduled, slot));
    scheduled += scheduled_in[slot];
  }
  if (scheduled == 0) return 0;
  // Not in a REPEATABLE READ transaction: its look-ups read its snapshot,
  // older than the counters, and the difference of the two would follow
  // neither (the table count below follows the counters, as the jobs ahead do).
  if (scheduled >= kScheduledWorthPassing && !IsolationUsesXactSnapshot() &&
      !PositionsCountedInTable()) {
    const std::optional<int64> counted =
        CountedNotDueAhead(scheduled_in, job_id, priority, priority_name);
    if (counted && !PositionsCountedInTable()) return *counted;
  }
  int64 lowest_ids[policy::kPriorityCount];
  LowestQueuedIds(lowest_ids);
  static_assert(policy::kPriorityCount == 3, "count_not_due_ahead has one arm per priority");
  Datum args[5] = {priority_name, Int64GetDatum(job_id), Int64GetDatum(lowest_ids[0]),
                   Int64GetDatum(lowest_ids[1]), Int64GetDatum(lowest_ids[2])};
  SpiRun(count_not_due_ahead[static_cast<int>(priority)], args, nullptr, SPI_OK_SELECT);
  return DatumGetInt64(SpiValueNotNull(0, 1));
}

// Read the job (SPI connected), checking the caller may see it.
void ReadVisibleJob(int64 job_id) {
  Datum id = Int64GetDatum(job_id);
  if (SpiRun(read_job, &id, nullptr, SPI_OK_SELECT) == 0) RaiseUnknownJob(job_id);
  CheckJobAccess(job_id, DatumGetObjectId(SpiValueNotNull(0, kOwner)));
}

// 1-based dispatch position of a queued job (SPI connected; clobbers the
// current result).
int64 QueuePosition(int64 job_id, policy::Priority priority) {
  int64 ahead = 0;
  for (policy::Priority higher : policy::kAllPriorities)
    if (policy::DispatchedBefore(higher, priority))
      ahead += VisibleCount(MakeKey(CounterKind::kQueuedPriority, static_cast<int>(higher)));
  std::string_view name = policy::PriorityName(priority);
  Datum priority_name = PointerGetDatum(cstring_to_text_with_len(name.data(), name.size()));
  ahead += AheadInPriority(job_id, priority, priority_name);
  return ahead - NotDueAhead(job_id, priority, priority_name) + 1;
}

int32 ClampToInt32(int64 value) { return static_cast<int32>(std::min<int64>(value, PG_INT32_MAX)); }

Datum Position(FunctionCallInfo fcinfo) {
  const Config& config = RefreshConfig();
  int64 job_id = RequiredJobId(fcinfo, 0);
  EnsureCountersValid(config.jobs_relid);
  SpiConnect();
  ReadVisibleJob(job_id);
  bool queued = StatusFromDatum(SpiValueNotNull(0, kStatus)) == policy::JobStatus::kQueued;
  int64 position =
      queued ? QueuePosition(job_id, PriorityFromDatum(SpiValueNotNull(0, kPriority))) : 0;
  SpiFinish();
  if (!queued) PG_RETURN_NULL();
  PG_RETURN_INT32(ClampToInt32(position));
}

// Expected run time of one job of the type: its recent average, else the
// admin's expected_duration, else two minutes.
policy::Micros MeanDuration(const Config& config, const char* job_type) {
  SharedCounter average = ReadRunTime(job_type);
  if (average.samples > 0) return average.value;
  const JobTypeConfig* type = config.FindJobType(job_type);
  return type != nullptr ? type->expected_duration : 120 * policy::kMicrosPerSecond;
}

// The slots a job waits for, and the renders running in them, as plain data
// (left: palloc'd, one expected time left per running render).
struct SlotPool {
  int slots;
  int64 running;
  policy::Micros* left;
  uint64 left_count;
};

// How far back in line (in multiples of the slots) a job's estimate still
// reads the running renders: behind that, the jobs ahead dominate its wait,
// and each running render counts as a whole mean run time.
constexpr int64 kRunningRendersReachInSlots = 2;

// How often the background worker's passes read the running renders into
// the database's shared list, and how old that list may be for an estimate
// (two refreshes). Reading them walks the index of processing jobs, whose
// dead entries a long transaction elsewhere keeps: passes read them, not a
// student's poll, and not every pass (the walk grows with the length of the
// transaction: 80 ms a read after two minutes of 1,000 claims a second).
// Renders that started or ended since the read move an estimate by seconds
// against run times of minutes.
constexpr policy::Micros kSharedRendersRefresh = 5 * policy::kMicrosPerSecond;
constexpr policy::Micros kSharedRendersMaxAge = 2 * kSharedRendersRefresh;

// The running renders (palloc'd), read once per estimate.
struct Renders {
  bool read = false;
  RunningRender* items = nullptr;
  int count = 0;
};

// Read up to `limit` running renders (0: all) from the table into `renders`,
// and share them when they all fit (SPI connected; clobbers the current result).
void SelectRunningRenders(Renders* renders, int64 limit) {
  const TimestampTz now = GetCurrentTimestamp();
  const Datum limit_arg = Int64GetDatum(limit);
  const uint64 rows = SpiRun(running_renders, &limit_arg, limit > 0 ? " " : "n", SPI_OK_SELECT);
  renders->read = true;
  renders->items = static_cast<RunningRender*>(
      palloc(sizeof(RunningRender) * std::max<uint64>(rows, kMaxSharedRenders)));
  for (uint64 i = 0; i < rows; i++) {
    RunningRender& render = renders->items[i];
    strlcpy(render.job_type, SpiText(i, 1), sizeof(render.job_type));
    strlcpy(render.resource, SpiText(i, 2), sizeof(render.resource));
    render.started_at = DatumGetTimestampTz(SpiValueNotNull(i, 3));
  }
  renders->count = static_cast<int>(rows);
  PublishRunningRenders(renders->items, renders->count, now);
}

// The shared list while it is fresh; else read from the table, and shared
// (SPI connected; clobbers the current result).
void ReadRunningRenders(Renders* renders) {
  auto* shared = static_cast<RunningRender*>(palloc(sizeof(RunningRender) * kMaxSharedRenders));
  const int count = CopyRunningRenders(GetCurrentTimestamp() - kSharedRendersMaxAge, shared);
  if (count < 0) return SelectRunningRenders(renders, 0);
  *renders = Renders{true, shared, count};
}

// The global slots (resource nullptr) or one resource's, with the renders
// running there when the job at `position` is near enough the front to care
// (SPI connected; clobbers the current result).
SlotPool ReadPool(const Config& config, const ResourceConfig* resource, int64 position,
                  TimestampTz now, Renders* renders) {
  const int slots =
      resource != nullptr ? ResourceLimitAt(config, *resource, now) : GlobalLimitAt(config, now);
  const int64 running =
      resource != nullptr
          ? ReadCounter(MakeKey(CounterKind::kRunningResource, 0, 0, resource->name.c_str()))
          : ReadCounter(MakeKey(CounterKind::kRunningTotal));
  SlotPool pool{slots, std::max<int64>(running, 0), nullptr, 0};
  if (position > kRunningRendersReachInSlots * slots) return pool;
  if (!renders->read) ReadRunningRenders(renders);
  pool.left = static_cast<policy::Micros*>(palloc(sizeof(policy::Micros) * (renders->count + 1)));
  for (int i = 0; i < renders->count; i++) {
    const RunningRender& render = renders->items[i];
    if (resource != nullptr && resource->name != render.resource) continue;
    pool.left[pool.left_count++] =
        policy::ExpectedTimeLeft(MeanDuration(config, render.job_type), now - render.started_at);
  }
  return pool;
}

// The wait of the job at `position` behind the renders of `pool`.
std::optional<policy::Micros> WaitIn(const SlotPool& pool, int64 position,
                                     policy::Micros mean_duration) {
  const policy::WaitInput input{
      position, pool.slots, pool.running, mean_duration,
      std::vector<policy::Micros>(pool.left, pool.left + pool.left_count)};
  return policy::EstimateWait(input);
}

constexpr policy::Micros kLongestEstimate = 365LL * 24 * 3600 * policy::kMicrosPerSecond;

// What the estimate needs of a job's row, read before QueuePosition replaces
// the current SPI result.
struct EstimateFacts {
  policy::JobStatus status;
  policy::Priority priority;
  char* job_type;
  char* resource;
  TimestampTz run_at;
  std::optional<TimestampTz> started_at;
};

EstimateFacts ReadEstimateFacts(Datum status) {
  bool isnull = false;
  Datum started = SpiValue(0, kStartedAt, &isnull);
  return EstimateFacts{StatusFromDatum(status),
                       PriorityFromDatum(SpiValueNotNull(0, kPriority)),
                       SpiText(0, kJobType),
                       SpiText(0, kResource),
                       DatumGetTimestampTz(SpiValueNotNull(0, kRunAt)),
                       isnull ? std::nullopt : std::optional(DatumGetTimestampTz(started))};
}

// When a job is expected to start, as of `now`; nullopt when there is no estimate.
std::optional<TimestampTz> ExpectedStart(const Config& config, const EstimateFacts& job,
                                         int64 position, TimestampTz now) {
  switch (job.status) {
    case policy::JobStatus::kQueued: {
      // A job of a limited resource needs a slot of both: it waits for the later.
      // The jobs ahead of it are counted in both, whatever their resource.
      const policy::Micros mean_duration = MeanDuration(config, job.job_type);
      const ResourceConfig* resource =
          job.resource != nullptr ? config.FindResource(job.resource) : nullptr;
      Renders renders;
      const SlotPool global = ReadPool(config, nullptr, position, now, &renders);
      std::optional<policy::Micros> wait = WaitIn(global, position, mean_duration);
      if (resource != nullptr && wait) {
        const SlotPool own = ReadPool(config, resource, position, now, &renders);
        const std::optional<policy::Micros> own_wait = WaitIn(own, position, mean_duration);
        wait = own_wait ? std::max(*wait, *own_wait) : own_wait;
      }
      // A wait past any horizon a student cares about is no estimate (and
      // adding it to now could overflow a timestamp).
      if (!wait || *wait > kLongestEstimate) return std::nullopt;
      return std::max(now + *wait, job.run_at);
    }
    case policy::JobStatus::kRetrying:
      return std::max(job.run_at, now);
    case policy::JobStatus::kProcessing:
      return job.started_at;
    default:
      return std::nullopt;
  }
}

Datum JobStatus(FunctionCallInfo fcinfo) {
  const Config& config = RefreshConfig();
  int64 job_id = RequiredJobId(fcinfo, 0);
  TupleDesc desc = ResultRowDescriptor(fcinfo);
  EnsureCountersValid(config.jobs_relid);
  TimestampTz now = GetCurrentTransactionStartTimestamp();

  SpiConnect();
  ReadVisibleJob(job_id);
  Datum values[11];
  bool nulls[11];
  std::fill(std::begin(nulls), std::end(nulls), true);
  values[0] = Int64GetDatum(job_id);
  nulls[0] = false;
  values[1] = SpiValueNotNull(0, kStatus);  // an enum: passed by value
  nulls[1] = false;
  int columns_from_row[6][2] = {{5, kAttempts},   {6, kMaxAttempts}, {7, kLastError},
                                {8, kEnqueuedAt}, {9, kStartedAt},   {10, kFinishedAt}};
  for (auto [out, in] : columns_from_row) {
    bool isnull = false;
    Datum value = SpiValue(0, in, &isnull);
    bool by_value = in != kLastError;  // integers and timestamps are passed by value
    // Text is copied out of SPI's memory, which SpiFinish frees.
    if (!isnull) values[out] = by_value ? value : SPI_datumTransfer(value, false, -1);
    nulls[out] = isnull;
  }
  EstimateFacts job = ReadEstimateFacts(values[1]);
  bool queued = job.status == policy::JobStatus::kQueued;
  int64 position = queued ? QueuePosition(job_id, job.priority) : 0;
  std::optional<TimestampTz> start = ExpectedStart(config, job, position, now);
  SpiFinish();

  // Built after SpiFinish, in the caller's memory, so the row outlives SPI.
  if (queued) {
    values[2] = Int32GetDatum(ClampToInt32(position));
    nulls[2] = false;
  }
  if (start) {
    values[3] = IntervalDatum(std::max<int64>(0, *start - now));
    values[4] = TimestampTzGetDatum(*start);
    nulls[3] = nulls[4] = false;
  }
  return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

}  // namespace

void ShareRunningRenders() {
  RunningRender shared[kMaxSharedRenders];
  if (CopyRunningRenders(GetCurrentTimestamp() - kSharedRendersRefresh, shared) >= 0) return;
  Renders renders;
  SelectRunningRenders(&renders, kMaxSharedRenders + 1);
}

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_position, queue::Position)
QUEUE_SQL_FUNCTION(queue_job_status, queue::JobStatus)
