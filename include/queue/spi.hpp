// Statements run through SPI: each is prepared once per backend and kept.
//
// Callers connect and finish SPI themselves and keep no C++ objects alive
// across these calls (an ereport() longjmps straight out of them).
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

// Connect to SPI or fail loudly.
void SpiConnect();

// Finish the SPI connection opened by SpiConnect.
void SpiFinish();

// Run a saved statement; errors unless SPI answers `expected` (SPI_OK_*).
uint64 SpiRun(SavedPlan& plan, const Datum* values, const char* nulls, int expected,
              long max_rows = 0);

// Column `column` (1-based) of result row `row`; *isnull tells NULL.
Datum SpiValue(uint64 row, int column, bool* isnull);

// Same, for a column that is never NULL by construction of the statement.
Datum SpiValueNotNull(uint64 row, int column);

// Text of a column as a palloc'd C string, or nullptr for NULL.
char* SpiText(uint64 row, int column);

}  // namespace queue
