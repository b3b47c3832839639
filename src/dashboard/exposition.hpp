// The Prometheus text exposition format, for the dashboard's own figures.
//
// queue.metrics() renders the queue's figures inside the database; the
// dashboard appends a few about itself (is the database reachable, requests
// served). Label values are escaped as the format requires (backslash, double
// quote, line feed) and made valid UTF-8.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dashboard {

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  Labels labels;
  double value = 0;
};

// A label value between its double quotes.
std::string EscapeLabelValue(std::string_view value);

// Text with invalid UTF-8 sequences replaced by U+FFFD.
std::string ValidUtf8(std::string_view text);

// HELP, TYPE and one line per sample; type is "gauge", "counter", ...
std::string RenderFamily(std::string_view name, std::string_view type, std::string_view help,
                         const std::vector<Sample>& samples);

}  // namespace dashboard
