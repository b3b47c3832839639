// Parsing queue-worker's command line.
#include "worker/options.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>

namespace worker {

namespace {

constexpr int kMaxCapacity = 10000;  // the extension's limit on register_worker()

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

std::optional<long> ParseInteger(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return value;
}

// Parse a list of process exit codes (1-255; 0 is success).
bool ParseExitCodes(const std::string& text, std::set<int>* codes, std::string* error) {
  for (const std::string& item : SplitList(text)) {
    const std::optional<long> code = ParseInteger(item);
    if (!code || *code < 1 || *code > 255) {
      *error = "--permanent-exit-codes: \"" + item + "\" is not an exit code between 1 and 255";
      return false;
    }
    codes->insert(static_cast<int>(*code));
  }
  return true;
}

}  // namespace

std::optional<Millis> ParseDuration(const std::string& text) {
  static const std::map<std::string, double> kUnits = {
      {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
  char* end = nullptr;
  errno = 0;
  const double number = std::strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || errno != 0 || !std::isfinite(number) || number < 0)
    return std::nullopt;
  const auto unit = kUnits.find(end);
  if (unit == kUnits.end()) return std::nullopt;
  const double millis = number * unit->second;
  if (millis > 7.0 * 24 * 3600 * 1000) return std::nullopt;  // a week is plenty for any of them
  return Millis(std::llround(millis));
}

ParsedCommandLine ParseCommandLine(const std::vector<std::string>& arguments) {
  ParsedCommandLine parsed;
  Options& options = parsed.options;
  auto fail = [&parsed](std::string error) {
    parsed.action = ParsedCommandLine::Action::kError;
    parsed.error = std::move(error);
    return parsed;
  };
  auto duration = [](Millis* target) {
    return [target](const std::string& value) {
      const std::optional<Millis> parsed_value = ParseDuration(value);
      if (parsed_value) *target = *parsed_value;
      return parsed_value.has_value() ? std::string() : "\"" + value + "\" is not a duration";
    };
  };
  std::string capacity_text = "1";
  std::string log_format = "text";
  std::string exit_codes;
  bool exec_given = false;
  std::string resources_text;
  bool resources_given = false;
  // A text option: kept in *target; *given (if any) says it was on the line.
  auto text = [](std::string* target, bool* given) {
    return [target, given](const std::string& value) {
      *target = value;
      if (given != nullptr) *given = true;
      return std::string();
    };
  };
  // Options that take a value: each sets its field, or says what was wrong.
  const std::map<std::string, std::function<std::string(const std::string&)>> with_value = {
      {"--dsn", text(&options.conninfo, nullptr)},
      {"--worker-id", text(&options.worker_id, nullptr)},
      {"--capacity", text(&capacity_text, nullptr)},
      {"--resources", text(&resources_text, &resources_given)},
      {"--exec", text(&options.exec_command, &exec_given)},
      {"--simulate", text(&options.simulate_profile, &options.simulate)},
      {"--permanent-exit-codes", text(&exit_codes, nullptr)},
      {"--heartbeat-interval", duration(&options.heartbeat_interval)},
      {"--poll-interval", duration(&options.poll_interval)},
      {"--kill-grace", duration(&options.kill_grace)},
      {"--shutdown-grace", duration(&options.shutdown_grace)},
      {"--reconnect-max", duration(&options.reconnect_cap)},
      {"--log-format", text(&log_format, nullptr)},
  };
  for (size_t i = 0; i < arguments.size(); i++) {
    std::string name = arguments[i];
    if (name == "--help" || name == "-h") {
      parsed.action = ParsedCommandLine::Action::kHelp;
      return parsed;
    }
    if (name == "--version") {
      parsed.action = ParsedCommandLine::Action::kVersion;
      return parsed;
    }
    std::string value;
    bool has_value = false;
    if (const size_t equals = name.find('=');
        name.rfind("--", 0) == 0 && equals != std::string::npos) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
      has_value = true;
    }
    const auto option = with_value.find(name);
    if (option == with_value.end()) return fail("unknown argument \"" + name + "\"");
    if (!has_value) {
      if (i + 1 >= arguments.size()) return fail(name + " needs a value");
      value = arguments[++i];
    }
    if (std::string error = option->second(value); !error.empty()) return fail(name + ": " + error);
  }

  if (options.worker_id.empty()) return fail("--worker-id is required");
  const std::optional<long> capacity = ParseInteger(capacity_text);
  if (!capacity || *capacity < 1 || *capacity > kMaxCapacity)
    return fail("--capacity must be a whole number from 1 to " + std::to_string(kMaxCapacity));
  options.capacity = static_cast<int>(*capacity);
  if (exec_given == options.simulate)
    return fail("give exactly one of --exec CMD and --simulate PROFILE");
  if (exec_given && options.exec_command.empty()) return fail("--exec needs a command");
  if (resources_given)
    options.resources =
        resources_text == "none" ? std::vector<std::string>{} : SplitList(resources_text);
  if (!ParseExitCodes(exit_codes, &options.permanent_exit_codes, &parsed.error)) {
    parsed.action = ParsedCommandLine::Action::kError;
    return parsed;
  }
  if (log_format == "json") {
    options.log_format = client::LogFormat::kJson;
  } else if (log_format != "text") {
    return fail("--log-format must be text or json");
  }
  if (options.heartbeat_interval.count() < 100 || options.poll_interval.count() < 10)
    return fail("--heartbeat-interval must be at least 100ms and --poll-interval at least 10ms");
  if (options.reconnect_cap.count() < 100) return fail("--reconnect-max must be at least 100ms");
  parsed.action = ParsedCommandLine::Action::kRun;
  return parsed;
}

const char* HelpText() {
  return R"(queue-worker: a render worker for the queue extension.
Usage: queue-worker --worker-id ID [--capacity N] [--resources LIST] --exec 'CMD' [options]
       queue-worker --worker-id ID [--capacity N] --simulate PROFILE [options]

Claims up to N jobs at a time and runs CMD (with /bin/sh -c) once per job: the payload on
stdin; QUEUE_JOB_ID, QUEUE_JOB_TYPE, QUEUE_ATTEMPT, QUEUE_DEADLINE, QUEUE_RESOURCE and
QUEUE_WORKER_ID in the environment. Exit 0 completes the job (stdout, if JSON, is the
result); another exit fails it with the tail of stderr, retryable unless the code is listed.

  --dsn CONNINFO               connection string or URI (default: PG* environment)
  --resources a,b | none       resources it renders (default: all)
  --permanent-exit-codes 2,65  exit codes that fail a job without retry
  --heartbeat-interval 10s     keep well inside settings.worker_timeout
  --poll-interval 5s           claim without a wake-up this often
  --kill-grace 10s             SIGTERM to SIGKILL of a cancelled or overdue render
  --shutdown-grace 60s         on SIGTERM/SIGINT: wait for renders this long, then stop them
  --reconnect-max 30s          longest wait between reconnect attempts
  --log-format text|json       one line per event on stderr
  --simulate PROFILE           sleep instead of rendering, e.g.
                               'doubt=1-3,default=2-6,@manim=+2,fail=0.1,permanent=0.02,hang=0.05'
  --help, --version

Exits 0 after a clean shutdown, 2 on a bad command line, 1 when the server refuses the
worker (unknown resource, worker id owned by another role). See docs/workers.md.
)";
}

const char* VersionText() { return "queue-worker " QUEUE_VERSION "\n"; }

}  // namespace worker
