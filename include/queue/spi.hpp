// Statements run through SPI: each is prepared once per backend and kept.
//
// Callers connect and finish SPI themselves and keep no C++ objects alive
// across these calls (an ereport() longjmps straight out of them).
//
// Every statement must run on a pinned search path, or a role that can create
// objects in a schema on the caller's path could plant an operator or
// function that our statements would call with our privileges. Every entry
// point PostgreSQL calls pins it (QUEUE_SQL_FUNCTION, with PinSearchPath);
// the background worker sets search_path to kPinnedSearchPath when it starts.
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

// The search_path the background worker runs with.
constexpr const char* kPinnedSearchPath = "pg_catalog, pg_temp";

// Search pg_catalog alone (no temporary schema either) until the matching
// UnpinSearchPath; an error in between drops the pin with the (sub)transaction
// it aborts. An override of the search path, not a SET of the GUC: a SET
// clause on the functions cost a tenth of a claim's CPU in GUC work.
void PinSearchPath();
void UnpinSearchPath();

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

// Run a saved statement on a snapshot taken now, even in a REPEATABLE READ
// transaction: for counts and checks that must include every commit (those
// made while the caller waited for a lock, say).
uint64 SpiRunOnLatestSnapshot(SavedPlan& plan, int expected, const Datum* values = nullptr,
                              const char* nulls = nullptr);

// Column `column` (1-based) of result row `row`; *isnull tells NULL.
Datum SpiValue(uint64 row, int column, bool* isnull);

// Same, for a column that is never NULL by construction of the statement.
Datum SpiValueNotNull(uint64 row, int column);

// Text of a column as a palloc'd C string, or nullptr for NULL.
char* SpiText(uint64 row, int column);

}  // namespace queue
