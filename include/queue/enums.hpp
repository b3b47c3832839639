// queue.priority and queue.job_status values as PostgreSQL stores them
// (pg_enum OIDs), translated to the policy's enums.
#pragma once

#include "queue/pg.hpp"

namespace queue {

// The policy value of a queue.priority datum.
policy::Priority PriorityFromDatum(Datum value);

// The policy value of a queue.job_status datum.
policy::JobStatus StatusFromDatum(Datum value);

}  // namespace queue
