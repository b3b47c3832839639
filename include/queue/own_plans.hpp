// The library's own statements are planned as if its tables were big (see
// own_plans.cpp for why).
#pragma once

#include "queue/pg.hpp"

namespace queue {

// Install the planner hooks that apply the rule (from _PG_init).
void InstallOwnPlans();

// The text of the library's statement being run now, as its plan source
// holds it: the planner hook knows the statement by that pointer. Kept by
// RunOwnStatement.
extern const char* own_query_string;

// The text `plan` (one of the library's saved statements) is planned from.
const char* OwnQueryString(SPIPlanPtr plan);

// Run `execute`, an SPI call of the saved statement `plan`: if the statement
// is planned meanwhile, its plan follows the rule. SQL the statement calls
// (a PL/pgSQL function, a trigger) is planned as usual. No C++ object may
// live in `execute` across the call (an error longjmps out of it).
template <typename Execute>
int RunOwnStatement(SPIPlanPtr plan, Execute&& execute) {
  const char* outer = own_query_string;
  own_query_string = OwnQueryString(plan);
  int rc = 0;
  PG_TRY();
  { rc = execute(); }
  PG_FINALLY();
  { own_query_string = outer; }
  PG_END_TRY();
  return rc;
}

}  // namespace queue
