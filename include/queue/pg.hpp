// The one door through which PostgreSQL's headers enter C++ code.
//
// Standard headers come first because PostgreSQL's port.h redefines printf,
// snprintf and friends as macros; everything PostgreSQL is C, so it is wrapped
// in extern "C". Policy code (queue/policy/) must never include this file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

// The pure policy headers refuse to be read after postgres.h, so they come first.
#include "queue/policy/estimate.hpp"
#include "queue/policy/job_state.hpp"
#include "queue/policy/limits.hpp"
#include "queue/policy/peak_windows.hpp"
#include "queue/policy/retry.hpp"
#include "queue/policy/time.hpp"

extern "C" {
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgtime.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
}
