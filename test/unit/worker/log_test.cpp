// One-line logs (src/client), text and JSON.
#include "client/log.hpp"

#include <gtest/gtest.h>

namespace client {
namespace {

TEST(Log, TextLinesQuoteOnlyWhatWouldSplitTheLine) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, "T", "claimed",
                          {{"job", 17}, {"type", "doubt"}, {"error", "exit 1: no such file"}}),
            "T claimed job=17 type=doubt error=\"exit 1: no such file\"");
}

TEST(Log, JsonLinesAreOneObjectInOrder) {
  EXPECT_EQ(FormatLogLine(LogFormat::kJson, "T", "failed", {{"job", 3}, {"error", "a\nb"}}),
            R"({"ts":"T","event":"failed","job":3,"error":"a\nb"})");
}

TEST(Log, InvalidUtf8DoesNotBreakALine) {
  EXPECT_EQ(FormatLogLine(LogFormat::kJson, "T", "e", {{"x", "\xFF"}}),
            "{\"ts\":\"T\",\"event\":\"e\",\"x\":\"\xEF\xBF\xBD\"}");
}

}  // namespace
}  // namespace client
