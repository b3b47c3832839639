// queue.fold_events(): the monitoring pass's fold of queue.job_events into
// the per-minute history, the job type totals and the workers' failure
// streaks, each event once (see policy/event_fold.hpp for the rules).
//
// One statement reads a slice of events with what they need of their jobs;
// the slice is added up in C++ and written back with a statement per table
// (one per job type for the totals). Adding it up in PL/pgSQL, with
// aggregates and window functions, cost more than reading it.
#include "queue/policy/event_fold.hpp"

#include "queue/arguments.hpp"
#include "queue/boundary.hpp"
#include "queue/config.hpp"
#include "queue/datums.hpp"
#include "queue/enums.hpp"
#include "queue/spi.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

extern "C" {
#include "access/transam.h"
}

namespace queue {

namespace {

// The cursor, locked: folds take turns (monitor() holds the lock already),
// or two would fold the same events.
SavedPlan fold_cursor = {
    "SELECT last_event_id FROM queue.monitor_state FOR UPDATE", 0, {}, nullptr};

// Up to $2 events in id order: those that turned up in ranges an earlier
// pass skipped (ids taken by transactions that had not committed yet), each
// with its range, then those past the cursor $1.
// - Two index range scans: an OR of both would walk the whole table from
//   its first id; a range scan a range, none to read in the range of a
//   rolled-back transaction.
// - Each event's job through the primary key (OFFSET 0 keeps it a look-up:
//   a join costed by the slice's size could hash the whole jobs table).
// - A claim waited from the job's run_at (the enqueue, or a retry's backoff);
//   when the job has moved on to a later attempt (or is gone), from the event
//   that queued it last, found through the index of events by job: "+ 0"
//   keeps the primary key from serving the order, which without statistics
//   was planned as a walk back from the claim over every earlier event.
SavedPlan read_events = {
    "SELECT e.id, e.range_first, e.range_last, e.range_noted_at, e.range_noted_before, e.at,"
    "  date_trunc('minute', e.at), e.worker_id, j.job_type, e.from_status, e.to_status,"
    "  coalesce(e.detail LIKE 'attempt timed out after %', false),"
    "  CASE WHEN e.from_status = 'queued' AND e.to_status = 'processing' THEN"
    "    extract(epoch FROM e.at - CASE WHEN j.run_at <= e.at THEN j.run_at ELSE"
    "      (SELECT p.at FROM queue.job_events p"
    "        WHERE p.job_id = e.job_id AND p.id + 0 < e.id AND p.to_status = 'queued'"
    "        ORDER BY p.id + 0 DESC LIMIT 1) END)::float8 END,"
    "  CASE WHEN e.to_status = 'completed' AND j.started_at <= e.at"
    "    THEN extract(epoch FROM e.at - j.started_at)::float8 END"
    " FROM ("
    "   (SELECT id, job_id, at, from_status, to_status, worker_id, detail, NULL::int8 AS range_first,"
    "           NULL::int8 AS range_last, NULL::timestamptz AS range_noted_at,"
    "           NULL::int8 AS range_noted_before"
    "      FROM queue.job_events WHERE id > $1 ORDER BY id LIMIT $2)"
    "   UNION ALL"
    "   SELECT late.*, g.first_id, g.last_id, g.noted_at, g.noted_before_xid"
    "     FROM queue.rollup_gaps g"
    "    CROSS JOIN LATERAL (SELECT id, job_id, at, from_status, to_status, worker_id, detail"
    "                          FROM queue.job_events"
    "                         WHERE id BETWEEN g.first_id AND g.last_id OFFSET 0) late"
    " ) e"
    " LEFT JOIN LATERAL (SELECT job_type, run_at, started_at FROM queue.jobs"
    "                     WHERE id = e.job_id OFFSET 0) j ON true"
    " ORDER BY e.id LIMIT $2",
    2,
    {INT8OID, INT4OID},
    nullptr};

enum ReadColumn {
  kId,
  kRangeFirst,
  kRangeLast,
  kRangeNotedAt,
  kRangeNotedBefore,
  kAt,
  kMinute,
  kWorkerId,
  kJobType,
  kFromStatus,
  kToStatus,
  kTimedOutDetail,
  kWaitSeconds,
  kRunSeconds,
  kReadColumns
};

SavedPlan add_minutes = {
    "INSERT INTO queue.stats_minutes AS m (minute, enqueued, started, completed, failed, retried,"
    "                                      timed_out, cancelled, wait_seconds_sum, wait_count)"
    " SELECT * FROM unnest($1::timestamptz[], $2::int8[], $3::int8[], $4::int8[], $5::int8[],"
    "                      $6::int8[], $7::int8[], $8::int8[], $9::float8[], $10::int8[])"
    " ON CONFLICT (minute) DO UPDATE SET"
    "   enqueued = m.enqueued + excluded.enqueued, started = m.started + excluded.started,"
    "   completed = m.completed + excluded.completed, failed = m.failed + excluded.failed,"
    "   retried = m.retried + excluded.retried, timed_out = m.timed_out + excluded.timed_out,"
    "   cancelled = m.cancelled + excluded.cancelled,"
    "   wait_seconds_sum = m.wait_seconds_sum + excluded.wait_seconds_sum,"
    "   wait_count = m.wait_count + excluded.wait_count",
    10,
    {TIMESTAMPTZARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
     INT8ARRAYOID, INT8ARRAYOID, FLOAT8ARRAYOID, INT8ARRAYOID},
    nullptr};

// One job type's transitions, and its waits ($9) and run times ($11) into
// its histograms.
SavedPlan add_job_type = {
    "INSERT INTO queue.job_type_totals AS t (job_type, enqueued, started, completed, failed,"
    "                                        retried, timed_out, cancelled, wait_buckets,"
    "                                        wait_sum, run_buckets, run_sum)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, queue.cumulative_buckets($9, queue.wait_bounds()),"
    "         $10, queue.cumulative_buckets($11, queue.run_bounds()), $12)"
    " ON CONFLICT (job_type) DO UPDATE SET"
    "   enqueued = t.enqueued + excluded.enqueued, started = t.started + excluded.started,"
    "   completed = t.completed + excluded.completed, failed = t.failed + excluded.failed,"
    "   retried = t.retried + excluded.retried, timed_out = t.timed_out + excluded.timed_out,"
    "   cancelled = t.cancelled + excluded.cancelled,"
    "   wait_buckets = queue.add_counts(t.wait_buckets, excluded.wait_buckets),"
    "   wait_sum = t.wait_sum + excluded.wait_sum,"
    "   run_buckets = queue.add_counts(t.run_buckets, excluded.run_buckets),"
    "   run_sum = t.run_sum + excluded.run_sum",
    12,
    {TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, FLOAT8ARRAYOID,
     FLOAT8OID, FLOAT8ARRAYOID, FLOAT8OID},
    nullptr};

// A slice with a completed attempt restarts the worker's streak from its
// errors after it; otherwise its errors extend the streak.
SavedPlan add_streaks = {
    "INSERT INTO queue.worker_failure_streaks AS s (worker_id, failures, last_failure_at,"
    "                                               last_success_at)"
    " SELECT * FROM unnest($1::text[], $2::int8[], $3::timestamptz[], $4::timestamptz[])"
    " ON CONFLICT (worker_id) DO UPDATE SET"
    "   failures = CASE WHEN excluded.last_success_at IS NOT NULL THEN excluded.failures"
    "                   ELSE s.failures + excluded.failures END,"
    "   last_failure_at = coalesce(excluded.last_failure_at, s.last_failure_at),"
    "   last_success_at = coalesce(excluded.last_success_at, s.last_success_at)",
    4,
    {TEXTARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID},
    nullptr};

SavedPlan drop_ranges = {
    "DELETE FROM queue.rollup_gaps WHERE first_id = ANY($1)", 1, {INT8ARRAYOID}, nullptr};

// Ranges to look at again; a new one is noted now ($3 NULL).
SavedPlan note_ranges = {
    "INSERT INTO queue.rollup_gaps (first_id, last_id, noted_at, noted_before_xid)"
    " SELECT first_id, last_id, coalesce(noted_at, now()), noted_before_xid"
    "   FROM unnest($1::int8[], $2::int8[], $3::timestamptz[], $4::int8[])"
    "     AS r(first_id, last_id, noted_at, noted_before_xid)",
    4,
    {INT8ARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, INT8ARRAYOID},
    nullptr};

// Every other transaction below this id has ended (the oldest other one
// still running, or the next to come): the snapshot of a statement after
// this one sees what all of them committed. This transaction is left out: it
// sees its own events, so it never holds a range open, and a tick() that
// folds slice after slice would otherwise keep every range it noted.
SavedPlan ended_below_xid = {
    "SELECT coalesce((SELECT min(x::text::int8) FROM pg_catalog.pg_snapshot_xip(s) AS x),"
    "                pg_catalog.pg_snapshot_xmax(s)::text::int8)"
    "  FROM pg_catalog.pg_current_snapshot() AS s",
    0,
    {},
    nullptr};

// Ranges noted before every transaction below $1 ended, read since in full
// (up to id $2, the last one the slice read): whatever of them is still
// missing was rolled back, and never comes. (An hour's wait did the same
// before; it is still what gives up on a range a transaction open that long
// may yet fill.)
SavedPlan drop_settled_ranges = {
    "DELETE FROM queue.rollup_gaps WHERE noted_before_xid <= $1 AND last_id <= $2",
    2,
    {INT8OID, INT8OID},
    nullptr};

SavedPlan advance_cursor = {
    "UPDATE queue.monitor_state SET last_event_id = greatest(last_event_id, $1)",
    1,
    {INT8OID},
    nullptr};

// A rolled-back transaction's ids never come: a range is given up an hour
// after it was noted, if no drop of settled ranges took it before.
SavedPlan expire_ranges = {
    "DELETE FROM queue.rollup_gaps WHERE noted_at < now() - interval '1 hour'", 0, {}, nullptr};

std::string TextValue(Datum value) {
  text* t = DatumGetTextPP(value);
  return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

// The events of the slice read (SPI connected); may raise PostgreSQL errors.
void ReadSlice(uint64 rows, std::vector<policy::FoldEvent>& events) {
  events.resize(rows);
  Datum values[kReadColumns];
  bool nulls[kReadColumns];
  for (uint64 row = 0; row < rows; row++) {
    heap_deform_tuple(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, values, nulls);
    policy::FoldEvent& event = events[row];
    event.id = DatumGetInt64(values[kId]);
    if (!nulls[kRangeFirst])
      event.found_in = policy::PendingRange{
          {DatumGetInt64(values[kRangeFirst]), DatumGetInt64(values[kRangeLast])},
          DatumGetTimestampTz(values[kRangeNotedAt]),
          nulls[kRangeNotedBefore] ? 0 : DatumGetInt64(values[kRangeNotedBefore])};
    event.at = DatumGetTimestampTz(values[kAt]);
    event.minute = DatumGetTimestampTz(values[kMinute]);
    if (!nulls[kWorkerId]) event.worker_id = TextValue(values[kWorkerId]);
    if (!nulls[kJobType]) event.job_type = TextValue(values[kJobType]);
    if (!nulls[kFromStatus]) event.from = StatusFromDatum(values[kFromStatus]);
    event.to = StatusFromDatum(values[kToStatus]);
    event.timed_out_detail = DatumGetBool(values[kTimedOutDetail]);
    if (!nulls[kWaitSeconds]) event.wait_seconds = DatumGetFloat8(values[kWaitSeconds]);
    if (!nulls[kRunSeconds]) event.run_seconds = DatumGetFloat8(values[kRunSeconds]);
  }
}

// The writers below build their arguments in palloc'd memory and create no
// C++ object: an error in their statements longjmps out of them (PgCall
// turns it into an exception for the caller's objects).

template <typename Field>
Datum Int64Column(const std::vector<policy::MinuteFold>& minutes, Field field) {
  auto* values = static_cast<int64*>(palloc(sizeof(int64) * minutes.size()));
  for (size_t i = 0; i < minutes.size(); i++) values[i] = field(minutes[i]);
  return Int64ArrayDatum(values, static_cast<int>(minutes.size()));
}

void AddMinutes(const std::vector<policy::MinuteFold>& minutes) {
  if (minutes.empty()) return;
  const int count = static_cast<int>(minutes.size());
  auto* starts = static_cast<TimestampTz*>(palloc(sizeof(TimestampTz) * count));
  auto* wait_sums = static_cast<double*>(palloc(sizeof(double) * count));
  for (int i = 0; i < count; i++) {
    starts[i] = minutes[i].minute;
    wait_sums[i] = minutes[i].wait_seconds_sum;
  }
  using M = policy::MinuteFold;
  Datum args[10] = {
      TimestampArrayDatum(starts, count),
      Int64Column(minutes, [](const M& m) { return m.counts.enqueued; }),
      Int64Column(minutes, [](const M& m) { return m.counts.started; }),
      Int64Column(minutes, [](const M& m) { return m.counts.completed; }),
      Int64Column(minutes, [](const M& m) { return m.counts.failed; }),
      Int64Column(minutes, [](const M& m) { return m.counts.retried; }),
      Int64Column(minutes, [](const M& m) { return m.counts.timed_out; }),
      Int64Column(minutes, [](const M& m) { return m.counts.cancelled; }),
      Float8ArrayDatum(wait_sums, count),
      Int64Column(minutes, [](const M& m) { return m.wait_count; })};
  SpiRun(add_minutes, args, nullptr, SPI_OK_INSERT);
}

void AddJobType(const policy::JobTypeFold& type) {
  const policy::TransitionCounts& c = type.counts;
  Datum args[12] = {CStringGetTextDatum(type.job_type.c_str()),
                    Int64GetDatum(c.enqueued),
                    Int64GetDatum(c.started),
                    Int64GetDatum(c.completed),
                    Int64GetDatum(c.failed),
                    Int64GetDatum(c.retried),
                    Int64GetDatum(c.timed_out),
                    Int64GetDatum(c.cancelled),
                    Float8ArrayDatum(type.waits.data(), static_cast<int>(type.waits.size())),
                    Float8GetDatum(type.wait_sum),
                    Float8ArrayDatum(type.runs.data(), static_cast<int>(type.runs.size())),
                    Float8GetDatum(type.run_sum)};
  SpiRun(add_job_type, args, nullptr, SPI_OK_INSERT);
}

void AddStreaks(const std::vector<policy::StreakFold>& streaks) {
  if (streaks.empty()) return;
  const int count = static_cast<int>(streaks.size());
  auto* workers = static_cast<char**>(palloc(sizeof(char*) * count));
  auto* failures = static_cast<int64*>(palloc(sizeof(int64) * count));
  auto* failed_at = static_cast<TimestampTz*>(palloc0(sizeof(TimestampTz) * count));
  auto* succeeded_at = static_cast<TimestampTz*>(palloc0(sizeof(TimestampTz) * count));
  auto* no_failure = static_cast<bool*>(palloc(sizeof(bool) * count));
  auto* no_success = static_cast<bool*>(palloc(sizeof(bool) * count));
  for (int i = 0; i < count; i++) {
    const policy::StreakFold& streak = streaks[i];
    workers[i] = const_cast<char*>(streak.worker_id.c_str());
    failures[i] = streak.failures;
    no_failure[i] = !streak.last_failure_at;
    if (streak.last_failure_at) failed_at[i] = *streak.last_failure_at;
    no_success[i] = !streak.last_success_at;
    if (streak.last_success_at) succeeded_at[i] = *streak.last_success_at;
  }
  Datum args[4] = {TextArrayDatum(workers, count), Int64ArrayDatum(failures, count),
                   TimestampArrayDatum(failed_at, count, no_failure),
                   TimestampArrayDatum(succeeded_at, count, no_success)};
  SpiRun(add_streaks, args, nullptr, SPI_OK_INSERT);
}

// The skipped ranges events turned up in give way to what of them is still
// missing; the ids the slice passed over join them.
void NoteRanges(const policy::EventFold& fold) {
  if (!fold.ranges_seen.empty()) {
    Datum seen = Int64ArrayDatum(fold.ranges_seen.data(), static_cast<int>(fold.ranges_seen.size()));
    SpiRun(drop_ranges, &seen, nullptr, SPI_OK_DELETE);
  }
  const int count = static_cast<int>(fold.still_missing.size() + fold.new_gaps.size());
  if (count == 0) return;
  auto* firsts = static_cast<int64*>(palloc(sizeof(int64) * count));
  auto* lasts = static_cast<int64*>(palloc(sizeof(int64) * count));
  auto* noted_at = static_cast<TimestampTz*>(palloc0(sizeof(TimestampTz) * count));
  auto* noted_now = static_cast<bool*>(palloc(sizeof(bool) * count));
  auto* noted_before = static_cast<int64*>(palloc(sizeof(int64) * count));
  // Every transaction that took an id of a range the slice found missing
  // took it before the slice was read, so it has an id below this one (or
  // takes one at once: the functions write the job before its event). A
  // range noted before 1.13 is given this one too: later than its own, so
  // it is dropped no sooner than it should be.
  const int64 next_xid = static_cast<int64>(U64FromFullTransactionId(ReadNextFullTransactionId()));
  int i = 0;
  for (const policy::PendingRange& range : fold.still_missing) {
    firsts[i] = range.ids.first;
    lasts[i] = range.ids.last;
    noted_at[i] = range.noted_at;
    noted_before[i] = range.noted_before_xid != 0 ? range.noted_before_xid : next_xid;
    noted_now[i++] = false;
  }
  for (const policy::IdRange& gap : fold.new_gaps) {
    firsts[i] = gap.first;
    lasts[i] = gap.last;
    noted_before[i] = next_xid;
    noted_now[i++] = true;
  }
  Datum args[4] = {Int64ArrayDatum(firsts, count), Int64ArrayDatum(lasts, count),
                   TimestampArrayDatum(noted_at, count, noted_now),
                   Int64ArrayDatum(noted_before, count)};
  SpiRun(note_ranges, args, nullptr, SPI_OK_INSERT);
}

void WriteFold(const policy::EventFold& fold) {
  AddMinutes(fold.minutes);
  for (const policy::JobTypeFold& type : fold.job_types) AddJobType(type);
  AddStreaks(fold.streaks);
  NoteRanges(fold);
  Datum last_id = Int64GetDatum(*fold.last_id);
  SpiRun(advance_cursor, &last_id, nullptr, SPI_OK_UPDATE);
}

// Fold the slice read (SPI connected) and write what it adds up to; returns
// how many events it folded and moves `cursor` past them, as WriteFold moved
// the table's. `last_read` is the last event id of the slice (if any).
int64 FoldSlice(uint64 rows, int64& cursor, int64& last_read) {
  std::vector<policy::FoldEvent> events;
  PgCall([&] { ReadSlice(rows, events); });
  if (!events.empty()) last_read = events.back().id;
  const policy::EventFold fold = policy::FoldEvents(events, cursor);
  if (fold.folded > 0) PgCall([&] { WriteFold(fold); });
  cursor = std::max(cursor, fold.last_id.value_or(cursor));
  return fold.folded;
}

// A call folds at most this many events at a time, however many it is asked
// for: each slice is held in memory while it is added up.
constexpr int32 kMaxSliceEvents = 5000;

// fold_events(batch_limit): fold up to batch_limit events not folded yet, a
// slice at a time; returns how many it folded.
Datum FoldEvents(FunctionCallInfo fcinfo) {
  RequireArgument(fcinfo, 0, "batch_limit");
  const int32 batch_limit = PG_GETARG_INT32(0);
  if (batch_limit < 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("batch_limit must not be negative")));
  (void)RefreshConfig();  // refuses SQL objects of another version
  SpiConnect();
  int64 folded = 0;
  if (SpiRun(fold_cursor, nullptr, nullptr, SPI_OK_SELECT) == 1) {
    int64 cursor = DatumGetInt64(SpiValueNotNull(0, 1));
    for (;;) {
      const int32 slice = std::min(batch_limit - static_cast<int32>(folded), kMaxSliceEvents);
      if (slice == 0) break;
      SpiRun(ended_below_xid, nullptr, nullptr, SPI_OK_SELECT);
      const Datum ended_below = SpiValueNotNull(0, 1);
      Datum args[2] = {Int64GetDatum(cursor), Int32GetDatum(slice)};
      const uint64 rows = SpiRun(read_events, args, nullptr, SPI_OK_SELECT);
      int64 last_read = PG_INT64_MAX;
      const int64 in_slice = FoldSlice(rows, cursor, last_read);
      // A full slice may have left events of later ranges unread.
      Datum settled[2] = {ended_below, Int64GetDatum(rows < static_cast<uint64>(slice)
                                                         ? PG_INT64_MAX
                                                         : last_read)};
      SpiRun(drop_settled_ranges, settled, nullptr, SPI_OK_DELETE);
      folded += in_slice;
      if (in_slice < slice) break;
    }
    SpiRun(expire_ranges, nullptr, nullptr, SPI_OK_DELETE);
  }
  SpiFinish();
  PG_RETURN_INT32(static_cast<int32>(folded));
}

}  // namespace

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_fold_events, queue::FoldEvents)
