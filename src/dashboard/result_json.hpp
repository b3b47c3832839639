// A statement's rows as JSON objects keyed by column name.
#pragma once

#include <libpq-fe.h>

#include "dashboard/json_cells.hpp"

namespace dashboard {

// Every row as an object; an empty array for no rows.
Json RowsToJson(const PGresult* result);

// The first row as an object; null when there is none.
Json FirstRowToJson(const PGresult* result);

}  // namespace dashboard
