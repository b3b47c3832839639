// Queued jobs scheduled for later or retried: those whose run_at is past
// their enqueued_at (the jobs of the indexes jobs_scheduled and
// jobs_scheduled_due). Once due they are claimable, and claimed as slots
// free, so a queue that keeps up holds few due ones; those not due yet, a
// batch for tonight, may be many, and a batch that fell due in a backlog
// leaves many due and few not. Claims and positions that must pass over
// them read one side or the other through jobs_scheduled_due, by run_at, a
// bounded number of entries, and take the rest from the counters.
#pragma once

#include "queue/pg.hpp"

namespace queue {

// The most scheduled jobs of a priority one look-up reads.
constexpr int64 kScheduledRead = 256;

// With fewer queued jobs scheduled for later or retried than this in its
// way, a claim or a position reads them for about what looking up one side
// of them would cost; with more, it looks them up.
constexpr int64 kScheduledWorthPassing = 256;

// Which of a priority's scheduled jobs a look-up reads: those whose run_at
// has come, or those still waiting for it.
enum class ScheduledSide { kDue, kNotDue };

// What a look-up found of one side of a priority's scheduled jobs.
struct ScheduledRead {
  bool all_read;   // that side holds no more than kScheduledRead: the figures are exact
  int64 first_id;  // the least id among them; PG_INT64_MAX when there are none
  int64 below;     // how many of them have an id below the one asked about
};

// The scheduled jobs of `priority` on `side`, counting those with an id
// below `below_id`, read on `snapshot` (nullptr: the statement's own, as
// SpiRun takes it). SPI connected; clobbers the current result.
ScheduledRead ReadScheduled(int priority, ScheduledSide side, int64 below_id, Snapshot snapshot);

}  // namespace queue
