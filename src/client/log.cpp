// One-line event logging, as text or JSON lines.
#include "client/log.hpp"

#include <chrono>
#include <ctime>

namespace client {

namespace {

// Now in UTC, ISO 8601 with milliseconds.
std::string UtcTimestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &utc);
  char text[48];
  std::snprintf(text, sizeof text, "%s.%03dZ", date, static_cast<int>(millis));
  return text;
}

// A value for a text line: strings bare unless they hold spaces, quotes or
// '=', then JSON-quoted so the line still splits unambiguously.
std::string TextValue(const nlohmann::json& value) {
  if (!value.is_string()) return value.dump();
  const std::string& text = value.get_ref<const std::string&>();
  const bool plain = !text.empty() && text.find_first_of(" \t\n\"=") == std::string::npos;
  return plain ? text : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Logger::Logger(LogFormat format, LogFields fixed, std::FILE* out)
    : format_(format), fixed_(std::move(fixed)), out_(out) {}

void Logger::Event(const std::string& event, const LogFields& fields) const {
  LogFields all = fixed_;
  all.insert(all.end(), fields.begin(), fields.end());
  std::string line = FormatLogLine(format_, UtcTimestamp(), event, all) + "\n";
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

std::string FormatLogLine(LogFormat format, const std::string& timestamp, const std::string& event,
                          const LogFields& fields) {
  if (format == LogFormat::kJson) {
    nlohmann::ordered_json line;
    line["ts"] = timestamp;
    line["event"] = event;
    for (const auto& [key, value] : fields) line[key] = value;
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string line = timestamp + " " + event;
  for (const auto& [key, value] : fields) line += " " + key + "=" + TextValue(value);
  return line;
}

}  // namespace client
