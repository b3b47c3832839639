// Database text values to JSON values.
#include "dashboard/json_cells.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace dashboard {

namespace {

Json NumberOrText(std::string_view text) {
  std::string copy(text);
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(copy.c_str(), &end);
  // NaN and the infinities have no JSON spelling: keep them as text.
  if (end == copy.c_str() || *end != '\0' || errno == ERANGE || !std::isfinite(value)) return copy;
  return value;
}

Json IntegerOrText(std::string_view text) {
  std::string copy(text);
  char* end = nullptr;
  errno = 0;
  long long value = std::strtoll(copy.c_str(), &end, 10);
  if (end == copy.c_str() || *end != '\0' || errno == ERANGE) return copy;
  return value;
}

}  // namespace

Json CellToJson(unsigned type, std::string_view text, bool is_null) {
  if (is_null) return nullptr;
  switch (type) {
    case type_oid::kBool:
      return text == "t";
    case type_oid::kInt2:
    case type_oid::kInt4:
    case type_oid::kInt8:
      return IntegerOrText(text);
    case type_oid::kFloat4:
    case type_oid::kFloat8:
    case type_oid::kNumeric:
      return NumberOrText(text);
    case type_oid::kJson:
    case type_oid::kJsonb: {
      Json parsed = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
      return parsed.is_discarded() ? Json(std::string(text)) : parsed;
    }
    default:
      return std::string(text);
  }
}

std::string DumpJson(const Json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

}  // namespace dashboard
