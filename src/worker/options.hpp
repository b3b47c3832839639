// queue-worker's command line: what it parses into, and the help text.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/log.hpp"

namespace worker {

using Millis = std::chrono::milliseconds;

struct Options {
  std::string conninfo;  // "" = the PG* environment
  std::string worker_id;
  int capacity = 1;
  std::optional<std::vector<std::string>> resources;  // nullopt = every resource
  std::string exec_command;                           // run per job, or ...
  std::string simulate_profile;                       // ... simulate renders
  bool simulate = false;
  std::set<int> permanent_exit_codes;
  Millis heartbeat_interval{10000};
  Millis poll_interval{5000};
  Millis kill_grace{10000};
  Millis shutdown_grace{60000};
  Millis reconnect_cap{30000};
  client::LogFormat log_format = client::LogFormat::kText;
};

// What the command line asks for.
struct ParsedCommandLine {
  enum class Action { kRun, kHelp, kVersion, kError } action = Action::kError;
  Options options;
  std::string error;  // for kError: what was wrong, one line
};

ParsedCommandLine ParseCommandLine(const std::vector<std::string>& arguments);

// "250ms", "10s", "2m", "1h", or a bare number of seconds ("1.5").
std::optional<Millis> ParseDuration(const std::string& text);

// Text for --help (fits on one screen) and --version.
const char* HelpText();
const char* VersionText();

}  // namespace worker
