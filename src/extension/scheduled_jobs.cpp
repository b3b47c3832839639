// Look-ups of queued jobs scheduled for later or retried (see scheduled_jobs.hpp).
#include "queue/scheduled_jobs.hpp"

#include "queue/spi.hpp"

#include <iterator>

namespace queue {

namespace {

// One side (`come`: "<=" due, ">" not due yet) of one priority's scheduled
// jobs, the first kScheduledRead + 1 by run_at (LIMIT 257: more than
// kScheduledRead read means not all were): the least id among them, how
// many were read, and how many have an id below $1. The priority is a
// literal, so the plan walks jobs_scheduled_due from the priority's first
// run_at, or from now().
#define QUEUE_SCHEDULED_SIDE(priority, come)                    \
  {                                                             \
    "SELECT min(id), count(*), count(*) FILTER (WHERE id < $1)" \
    " FROM (SELECT id FROM queue.jobs"                          \
    " WHERE status = 'queued' AND run_at > enqueued_at"         \
    "   AND priority = '" priority "' AND run_at " come         \
    " now()"                                                    \
    " ORDER BY priority, run_at LIMIT 257) side",               \
        1, {INT8OID}, nullptr                                   \
  }
#define QUEUE_SCHEDULED_SIDES(come)                                           \
  {                                                                           \
    QUEUE_SCHEDULED_SIDE("high", come), QUEUE_SCHEDULED_SIDE("medium", come), \
        QUEUE_SCHEDULED_SIDE("low", come)                                     \
  }
SavedPlan due_scheduled[] = QUEUE_SCHEDULED_SIDES("<=");
SavedPlan not_due_scheduled[] = QUEUE_SCHEDULED_SIDES(">");
static_assert(std::size(due_scheduled) == policy::kPriorityCount &&
                  std::size(not_due_scheduled) == policy::kPriorityCount,
              "one look-up of each side of the scheduled jobs per priority");
#undef QUEUE_SCHEDULED_SIDES
#undef QUEUE_SCHEDULED_SIDE

}  // namespace

ScheduledRead ReadScheduled(int priority, ScheduledSide side, int64 below_id, Snapshot snapshot) {
  const Datum below = Int64GetDatum(below_id);
  SavedPlan& look_up =
      side == ScheduledSide::kDue ? due_scheduled[priority] : not_due_scheduled[priority];
  if (snapshot != nullptr)
    SpiRunOnSnapshot(look_up, &below, nullptr, snapshot, SPI_OK_SELECT);
  else
    SpiRun(look_up, &below, nullptr, SPI_OK_SELECT);
  bool none = false;
  const Datum first = SpiValue(0, 1, &none);
  return ScheduledRead{DatumGetInt64(SpiValueNotNull(0, 2)) <= kScheduledRead,
                       none ? PG_INT64_MAX : DatumGetInt64(first),
                       DatumGetInt64(SpiValueNotNull(0, 3))};
}

}  // namespace queue
