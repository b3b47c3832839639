// Plans of the library's own statements: made as if every table were big.
//
// The statements are prepared once per backend and their generic plans kept
// until the table's statistics change. A plan made while a table is small (a
// quiet hour, or just emptied) suits the small table: a sequential scan, a
// bitmap scan and a sort, a whole-index aggregate for max(). When a burst
// then fills the table (the morning batch, a backlog after an outage), that
// plan reads every row on every call until autovacuum analyzes the table and
// the plans are made again: 48 ms a claim with 300,000 jobs queued, 180 ms a
// stats() call, every monitoring pass walking the whole event index. The
// same happens when statistics say a big table is empty (analyzed while a
// bulk enqueue was still uncommitted).
//
// So while one of the library's statements is planned, every table and index
// it reads counts as holding at least kPlannedRows rows. Each statement's
// plan for a big table is an index walk from a known key, which is also the
// right plan for a small one; the other way round it is a disaster. Two
// things a big table's costs would bring are left out: compiling the plan
// (JIT: a claim passed jit_above_cost, and compiling took 15 ms of its 16)
// and parallel workers (started for a scan of the few render workers).
#include "queue/own_plans.hpp"

extern "C" {
#include "jit/jit.h"
#include "optimizer/plancat.h"
#include "optimizer/planner.h"
}

namespace queue {

int own_statements_running = 0;

namespace {

constexpr double kPlannedRows = 1e6;
constexpr BlockNumber kPlannedPages = 10000;  // about a hundred rows a page

get_relation_info_hook_type previous_relation_hook = nullptr;
planner_hook_type previous_planner = nullptr;

void PlanAsBig(PlannerInfo* root, Oid relation, bool inherited, RelOptInfo* rel) {
  if (previous_relation_hook != nullptr) previous_relation_hook(root, relation, inherited, rel);
  if (own_statements_running == 0) return;
  rel->tuples = Max(rel->tuples, kPlannedRows);
  rel->pages = Max(rel->pages, kPlannedPages);
  ListCell* cell;
  foreach (cell, rel->indexlist) {
    IndexOptInfo* index = static_cast<IndexOptInfo*>(lfirst(cell));
    index->tuples = Max(index->tuples, kPlannedRows);
  }
}

PlannedStmt* PlanOwnStatement(Query* parse, const char* query_string, int cursor_options,
                              ParamListInfo bound_params) {
  bool own = own_statements_running > 0;
  if (own) cursor_options &= ~CURSOR_OPT_PARALLEL_OK;
  PlannedStmt* plan = previous_planner != nullptr
                          ? previous_planner(parse, query_string, cursor_options, bound_params)
                          : standard_planner(parse, query_string, cursor_options, bound_params);
  if (own) plan->jitFlags = PGJIT_NONE;
  return plan;
}

}  // namespace

void InstallOwnPlans() {
  previous_relation_hook = get_relation_info_hook;
  get_relation_info_hook = PlanAsBig;
  previous_planner = planner_hook;
  planner_hook = PlanOwnStatement;
}

}  // namespace queue
