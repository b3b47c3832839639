// Database values as JSON, and JSON output that stays valid UTF-8.
#include "dashboard/json_cells.hpp"

#include <gtest/gtest.h>

namespace dashboard {
namespace {

TEST(CellToJson, TypesBecomeJsonValues) {
  EXPECT_EQ(CellToJson(type_oid::kInt8, "9007199254740993", false), Json(9007199254740993LL));
  EXPECT_EQ(CellToJson(type_oid::kInt4, "-4", false), Json(-4));
  EXPECT_EQ(CellToJson(type_oid::kBool, "t", false), Json(true));
  EXPECT_EQ(CellToJson(type_oid::kBool, "f", false), Json(false));
  EXPECT_DOUBLE_EQ(CellToJson(type_oid::kFloat8, "0.25", false).get<double>(), 0.25);
  EXPECT_EQ(CellToJson(type_oid::kNumeric, "NaN", false), Json("NaN"));
  EXPECT_EQ(CellToJson(type_oid::kFloat8, "Infinity", false), Json("Infinity"));
  EXPECT_EQ(CellToJson(type_oid::kJsonb, "{\"a\": [1, 2]}", false), (Json{{"a", {1, 2}}}));
  EXPECT_EQ(CellToJson(25 /* text */, "2026-11-29 05:30:00+00", false),
            Json("2026-11-29 05:30:00+00"));
  EXPECT_TRUE(CellToJson(type_oid::kInt8, "", true).is_null());
}

TEST(CellToJson, HostileTextStaysText) {
  std::string hostile = "<script>alert('x')</script>\"; DROP TABLE jobs; --";
  EXPECT_EQ(CellToJson(25, hostile, false), Json(hostile));
  // Not JSON after all (json columns are checked by the server, but be safe).
  EXPECT_EQ(CellToJson(type_oid::kJson, "{oops", false), Json("{oops"));
}

TEST(DumpJson, EscapesForJsonAndReplacesInvalidUtf8) {
  Json value = {{"user", "a\"b\\c\n</script>"}, {"bytes", std::string("x\xFFy")}};
  std::string text = DumpJson(value);
  EXPECT_NE(text.find(R"("a\"b\\c\n</script>")"), std::string::npos);
  EXPECT_NE(text.find("x\xEF\xBF\xBDy"), std::string::npos);
  EXPECT_EQ(text.find('\xFF'), std::string::npos);
  EXPECT_FALSE(Json::parse(text, nullptr, false).is_discarded());
}

TEST(DumpJson, LongValuesSurviveWhole) {
  std::string long_value(100000, 'x');
  EXPECT_EQ(Json::parse(DumpJson(Json{{"v", long_value}}))["v"].get<std::string>().size(), 100000u);
}

}  // namespace
}  // namespace dashboard
