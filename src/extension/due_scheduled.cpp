// The due jobs scheduled for later or retried (see due_scheduled.hpp).
#include "queue/due_scheduled.hpp"

#include "queue/spi.hpp"

#include <iterator>

namespace queue {

namespace {

// The due scheduled jobs of one priority, the first kDueScheduledRead + 1 by
// run_at (LIMIT 257: more than kDueScheduledRead read means not all were):
// the least id among them, how many were read, and how many have an id
// below $1. The priority is a literal, so the plan walks the index of
// scheduled jobs from the priority's first run_at.
#define QUEUE_DUE_SCHEDULED(priority)                           \
  {                                                             \
    "SELECT min(id), count(*), count(*) FILTER (WHERE id < $1)" \
    " FROM (SELECT id FROM queue.jobs"                          \
    " WHERE status = 'queued' AND run_at > enqueued_at"         \
    "   AND priority = '" priority                              \
    "' AND run_at <= now()"                                     \
    " ORDER BY priority, run_at LIMIT 257) due",                \
        1, {INT8OID}, nullptr                                   \
  }
SavedPlan due_scheduled[] = {QUEUE_DUE_SCHEDULED("high"), QUEUE_DUE_SCHEDULED("medium"),
                             QUEUE_DUE_SCHEDULED("low")};
static_assert(std::size(due_scheduled) == policy::kPriorityCount,
              "one look-up of due scheduled jobs per priority");
#undef QUEUE_DUE_SCHEDULED

}  // namespace

DueScheduled ReadDueScheduled(int priority, int64 below_id, Snapshot snapshot) {
  const Datum below = Int64GetDatum(below_id);
  SavedPlan& look_up = due_scheduled[priority];
  if (snapshot != nullptr)
    SpiRunOnSnapshot(look_up, &below, nullptr, snapshot, SPI_OK_SELECT);
  else
    SpiRun(look_up, &below, nullptr, SPI_OK_SELECT);
  bool none_due = false;
  const Datum first = SpiValue(0, 1, &none_due);
  return DueScheduled{DatumGetInt64(SpiValueNotNull(0, 2)) <= kDueScheduledRead,
                      none_due ? PG_INT64_MAX : DatumGetInt64(first),
                      DatumGetInt64(SpiValueNotNull(0, 3))};
}

}  // namespace queue
