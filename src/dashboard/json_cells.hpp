// Turning database values into JSON, and JSON into bytes that are always
// valid UTF-8.
//
// Numbers, booleans and json/jsonb become JSON values of their own; everything
// else (text, timestamps, enums) becomes a JSON string. Text from the database
// is whatever users stored in it: a database with SQL_ASCII encoding can hold
// bytes that are not UTF-8, so DumpJson replaces invalid sequences with U+FFFD
// instead of failing the whole response.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace dashboard {

using Json = nlohmann::json;

// Type OIDs of the built-in types the dashboard reads (pg_type.h).
namespace type_oid {
constexpr unsigned kBool = 16;
constexpr unsigned kInt8 = 20;
constexpr unsigned kInt2 = 21;
constexpr unsigned kInt4 = 23;
constexpr unsigned kJson = 114;
constexpr unsigned kFloat4 = 700;
constexpr unsigned kFloat8 = 701;
constexpr unsigned kNumeric = 1700;
constexpr unsigned kJsonb = 3802;
}  // namespace type_oid

// One value in PostgreSQL's text output format as JSON; null when is_null.
Json CellToJson(unsigned type, std::string_view text, bool is_null);

// Serialize for a response: compact, invalid UTF-8 replaced.
std::string DumpJson(const Json& value);

}  // namespace dashboard
