// Label values and HELP text in the Prometheus text format.
#include "dashboard/exposition.hpp"

#include <gtest/gtest.h>

namespace dashboard {
namespace {

TEST(EscapeLabelValue, EscapesBackslashQuoteAndNewline) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("a\\b"), "a\\\\b");
  EXPECT_EQ(EscapeLabelValue("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(EscapeLabelValue("two\nlines"), "two\\nlines");
  EXPECT_EQ(EscapeLabelValue("<script>alert(1)</script>"), "<script>alert(1)</script>");
}

TEST(ValidUtf8, KeepsValidTextAndReplacesInvalidBytes) {
  EXPECT_EQ(ValidUtf8("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x8E\xAC"),
            "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x8E\xAC");
  EXPECT_EQ(ValidUtf8("a\xFF"
                      "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(ValidUtf8("\xC3"), "\xEF\xBF\xBD");                                  // cut short
  EXPECT_EQ(ValidUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(ValidUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(ValidUtf8("\xF4\x90\x80\x80").substr(0, 3), "\xEF\xBF\xBD");         // above U+10FFFF
}

TEST(RenderFamily, WritesHelpTypeAndSamples) {
  std::string text =
      RenderFamily("queue_dashboard_http_requests_total", "counter", "Requests,\nby route.",
                   {Sample{{{"route", "/api/jobs"}, {"code", "200"}}, 3},
                    Sample{{{"route", "bad\"route\\"}, {"code", "404"}}, 1}});
  EXPECT_EQ(text,
            "# HELP queue_dashboard_http_requests_total Requests,\\nby route.\n"
            "# TYPE queue_dashboard_http_requests_total counter\n"
            "queue_dashboard_http_requests_total{route=\"/api/jobs\",code=\"200\"} 3\n"
            "queue_dashboard_http_requests_total{route=\"bad\\\"route\\\\\",code=\"404\"} 1\n");
}

TEST(RenderFamily, SampleWithoutLabelsAndSpecialValues) {
  EXPECT_EQ(RenderFamily("up", "gauge", "h", {Sample{{}, 0.5}}),
            "# HELP up h\n# TYPE up gauge\nup 0.5\n");
  EXPECT_NE(RenderFamily("x", "gauge", "h", {Sample{{}, 1.0 / 0.0}}).find("x +Inf\n"),
            std::string::npos);
}

}  // namespace
}  // namespace dashboard
