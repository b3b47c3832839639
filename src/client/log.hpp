// One line per event on stderr: "TIME EVENT key=value ..." for people, or one
// JSON object per line for log collectors. Every line carries the logger's
// fixed fields (say, the worker id) after the event.
#pragma once

#include <cstdio>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace client {

enum class LogFormat { kText, kJson };

using LogFields = std::vector<std::pair<std::string, nlohmann::json>>;

class Logger {
 public:
  Logger(LogFormat format, LogFields fixed, std::FILE* out = stderr);

  // Write one event line; the line is written with one call, so lines of
  // concurrent writers do not interleave.
  void Event(const std::string& event, const LogFields& fields = {}) const;

 private:
  LogFormat format_;
  LogFields fixed_;
  std::FILE* out_;
};

// Render one line without its newline (what Event writes), at `timestamp`.
std::string FormatLogLine(LogFormat format, const std::string& timestamp, const std::string& event,
                          const LogFields& fields);

}  // namespace client
