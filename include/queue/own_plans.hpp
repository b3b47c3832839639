// Plans of the library's own statements are made as if its tables were big
// (see own_plans.cpp for why).
#pragma once

#include "queue/pg.hpp"

namespace queue {

// Install the planner hook that applies the rule (from _PG_init).
void InstallOwnPlans();

// Statements of the library running now, nested ones included (kept by
// RunOwnStatement, read by the planner hook).
extern int own_statements_running;

// Run `execute`, an SPI call of one of the library's statements: any plan
// made meanwhile, for the statement or for the SQL it calls, follows the
// rule. No C++ object may live in `execute` across the call (an error
// longjmps out of it).
template <typename Execute>
int RunOwnStatement(Execute&& execute) {
  int rc = 0;
  own_statements_running++;
  PG_TRY();
  { rc = execute(); }
  PG_FINALLY();
  { own_statements_running--; }
  PG_END_TRY();
  return rc;
}

}  // namespace queue
