// Statements run through SPI: each is prepared once per backend and kept.
//
// Callers connect and finish SPI themselves and keep no C++ objects alive
// across these calls (an ereport() longjmps straight out of them).
//
// Every statement must run with search_path = pg_catalog, pg_temp, or a role
// that can create objects in a schema on the caller's path could plant an
// operator or function that our statements would call with our privileges.
// The SQL functions pin it with their SET clause; code that runs SQL from
// elsewhere (triggers, the background worker) pins it with PinSearchPath.
#pragma once

#include "queue/pg.hpp"

namespace queue {

// One statement's text, argument types and its kept plan.
struct SavedPlan {
  const char* sql;
  int nargs;
  Oid argtypes[12];
  SPIPlanPtr plan;
};

// The search_path every statement of the queue runs with.
constexpr const char* kPinnedSearchPath = "pg_catalog, pg_temp";

// Set search_path to kPinnedSearchPath until UnpinSearchPath(level) with the
// level returned; an error in between restores it with the (sub)transaction.
int PinSearchPath();
void UnpinSearchPath(int level);

// Connect to SPI or fail loudly.
void SpiConnect();

// Finish the SPI connection opened by SpiConnect.
void SpiFinish();

// Run a saved statement; errors unless SPI answers `expected` (SPI_OK_*).
uint64 SpiRun(SavedPlan& plan, const Datum* values, const char* nulls, int expected,
              long max_rows = 0);

// Run a saved statement on a given snapshot (its command id advanced, so it
// sees the transaction's own earlier changes); its triggers fire as in SpiRun.
uint64 SpiRunOnSnapshot(SavedPlan& plan, const Datum* values, const char* nulls, Snapshot snapshot,
                        int expected);

// Run a saved statement without arguments on a snapshot taken now, even in a
// REPEATABLE READ transaction: for counts that must include every commit.
uint64 SpiRunOnLatestSnapshot(SavedPlan& plan, int expected);

// Column `column` (1-based) of result row `row`; *isnull tells NULL.
Datum SpiValue(uint64 row, int column, bool* isnull);

// Same, for a column that is never NULL by construction of the statement.
Datum SpiValueNotNull(uint64 row, int column);

// Text of a column as a palloc'd C string, or nullptr for NULL.
char* SpiText(uint64 row, int column);

}  // namespace queue
