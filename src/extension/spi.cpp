// Saved SPI statements and result accessors (see spi.hpp).
#include "queue/spi.hpp"

#include "queue/own_plans.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "utils/snapmgr.h"
}

namespace queue {

void PinSearchPath() {
  OverrideSearchPath catalog_only{};
  catalog_only.schemas = NIL;
  catalog_only.addCatalog = true;
  catalog_only.addTemp = false;
  PushOverrideSearchPath(&catalog_only);  // copies it
}

void UnpinSearchPath() { PopOverrideSearchPath(); }

void SpiConnect() {
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "queue: SPI_connect failed");
}

void SpiFinish() {
  if (SPI_finish() != SPI_OK_FINISH) elog(ERROR, "queue: SPI_finish failed");
}

// Prepare the statement on first use and keep the plan for the backend's life.
// Plans are generic from the first call: every statement here is an index
// probe whose best plan does not depend on the values, and custom plans would
// be made again on every call (the planner never trusts a generic LIMIT $n).
static SPIPlanPtr Prepared(SavedPlan& saved) {
  if (saved.plan == nullptr) {
    SPIPlanPtr plan =
        SPI_prepare_cursor(saved.sql, saved.nargs, saved.argtypes, CURSOR_OPT_GENERIC_PLAN);
    if (plan == nullptr)
      elog(ERROR, "queue: SPI_prepare failed (%s) for: %s", SPI_result_code_string(SPI_result),
           saved.sql);
    if (SPI_keepplan(plan) != 0) elog(ERROR, "queue: SPI_keepplan failed");
    saved.plan = plan;
  }
  return saved.plan;
}

// The rows a statement processed, or an error unless SPI answered `expected`.
static uint64 Processed(const SavedPlan& saved, int rc, int expected) {
  if (rc != expected)
    elog(ERROR, "queue: statement returned %s, expected %s: %s", SPI_result_code_string(rc),
         SPI_result_code_string(expected), saved.sql);
  return SPI_processed;
}

uint64 SpiRun(SavedPlan& saved, const Datum* values, const char* nulls, int expected,
              long max_rows) {
  SPIPlanPtr plan = Prepared(saved);
  int rc = RunOwnStatement(plan, [&] {
    return SPI_execute_plan(plan, const_cast<Datum*>(values), nulls, false, max_rows);
  });
  return Processed(saved, rc, expected);
}

uint64 SpiRunOnSnapshot(SavedPlan& saved, const Datum* values, const char* nulls, Snapshot snapshot,
                        int expected) {
  SPIPlanPtr plan = Prepared(saved);
  int rc = RunOwnStatement(plan, [&] {
    return SPI_execute_snapshot(plan, const_cast<Datum*>(values), nulls, snapshot, InvalidSnapshot,
                                false, true, 0);
  });
  return Processed(saved, rc, expected);
}

uint64 SpiRunOnLatestSnapshot(SavedPlan& saved, int expected, const Datum* values,
                              const char* nulls) {
  return SpiRunOnSnapshot(saved, values, nulls, GetLatestSnapshot(), expected);
}

Datum SpiValue(uint64 row, int column, bool* isnull) {
  return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column, isnull);
}

Datum SpiValueNotNull(uint64 row, int column) {
  bool isnull = false;
  Datum value = SpiValue(row, column, &isnull);
  if (isnull) elog(ERROR, "queue: unexpected NULL in result column %d", column);
  return value;
}

char* SpiText(uint64 row, int column) {
  return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column);
}

}  // namespace queue
