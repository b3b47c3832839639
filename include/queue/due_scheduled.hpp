// The due jobs scheduled for later or retried: queued jobs whose run_at is
// past their enqueued_at (the jobs of the index jobs_scheduled_due) and has
// come. They are claimable, and claimed as slots free, so a queue that keeps
// up holds few of them; the jobs scheduled for later and not due yet, a batch
// for tonight, may be many. Claims and positions that must pass over the
// latter read the former instead, and count the latter as the scheduled jobs
// of the counters less the due ones.
#pragma once

#include "queue/pg.hpp"

namespace queue {

// The most due scheduled jobs of a priority one look-up reads.
constexpr int64 kDueScheduledRead = 256;

// With fewer queued jobs scheduled for later or retried than this in its
// way, a claim or a position reads them for about what looking up the due
// ones would cost; with more, it looks them up.
constexpr int64 kScheduledWorthPassing = 256;

// What a look-up found of one priority's due scheduled jobs.
struct DueScheduled {
  bool all_read;   // no more are due than kDueScheduledRead: the figures are exact
  int64 first_id;  // the least id among them; PG_INT64_MAX when none is due
  int64 below;     // how many of them have an id below the one asked about
};

// The due scheduled jobs of `priority`, counting those with an id below
// `below_id`, read on `snapshot` (nullptr: the statement's own, as SpiRun
// takes it). SPI connected; clobbers the current result.
DueScheduled ReadDueScheduled(int priority, int64 below_id, Snapshot snapshot);

}  // namespace queue
