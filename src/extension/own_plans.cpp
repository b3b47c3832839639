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
// So when one of the library's statements is planned, every table and index
// it reads counts as holding at least kPlannedRows rows. Each statement's
// plan for a big table is an index walk from a known key, which is also the
// right plan for a small one; the other way round it is a disaster. Two
// things a big table's costs would bring are left out: compiling the plan
// (JIT: a claim passed jit_above_cost, and compiling took 15 ms of its 16)
// and parallel workers. Only the statements themselves are planned so, not
// the SQL they call: PL/pgSQL (the monitoring pass) chooses between custom
// and generic plans by cost, and with big tables it planned its statements
// again on every call.
#include "queue/own_plans.hpp"

extern "C" {
#include "jit/jit.h"
#include "optimizer/plancat.h"
#include "optimizer/planner.h"
#include "utils/plancache.h"
}

namespace queue {

const char* own_query_string = nullptr;

const char* OwnQueryString(SPIPlanPtr plan) {
  return static_cast<CachedPlanSource*>(linitial(SPI_plan_get_plan_sources(plan)))->query_string;
}

namespace {

constexpr double kPlannedRows = 1e6;
constexpr BlockNumber kPlannedPages = 10000;  // about a hundred rows a page

get_relation_info_hook_type previous_relation_hook = nullptr;
planner_hook_type previous_planner = nullptr;
bool planning_own = false;  // the statement being planned is the library's

void PlanAsBig(PlannerInfo* root, Oid relation, bool inherited, RelOptInfo* rel) {
  if (previous_relation_hook != nullptr) previous_relation_hook(root, relation, inherited, rel);
  if (!planning_own) return;
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
  const bool own = query_string != nullptr && query_string == own_query_string;
  const int options = own ? cursor_options & ~CURSOR_OPT_PARALLEL_OK : cursor_options;
  // Planning may plan other SQL (a function folded to a constant). An error
  // leaves the flag as it was; every planning sets it first.
  bool outer = planning_own;
  planning_own = own;
  PlannedStmt* plan = previous_planner != nullptr
                          ? previous_planner(parse, query_string, options, bound_params)
                          : standard_planner(parse, query_string, options, bound_params);
  planning_own = outer;
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
