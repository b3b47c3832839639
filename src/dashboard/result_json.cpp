// Rows of a PGresult as JSON.
#include "dashboard/result_json.hpp"

namespace dashboard {

namespace {

Json RowToJson(const PGresult* result, int row) {
  Json object = Json::object();
  for (int column = 0; column < PQnfields(result); column++) {
    object[PQfname(result, column)] =
        CellToJson(PQftype(result, column),
                   std::string_view(PQgetvalue(result, row, column),
                                    static_cast<size_t>(PQgetlength(result, row, column))),
                   PQgetisnull(result, row, column) != 0);
  }
  return object;
}

}  // namespace

Json RowsToJson(const PGresult* result) {
  Json rows = Json::array();
  for (int row = 0; row < PQntuples(result); row++) rows.push_back(RowToJson(result, row));
  return rows;
}

Json FirstRowToJson(const PGresult* result) {
  return PQntuples(result) > 0 ? RowToJson(result, 0) : Json(nullptr);
}

}  // namespace dashboard
