// queue-dashboard's command line: what it parses into, and the help text.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace dashboard {

struct Options {
  std::string conninfo;  // "" = the PG* environment
  std::string listen_host = "127.0.0.1";
  int listen_port = 8080;
  std::string auth_file;     // "" = no authentication
  bool allow_admin = false;  // admin actions (needs auth_file and a queue_admin role)
  int statement_timeout_ms = 5000;
  int pool_size = 4;
  int tick_stale_seconds = 60;  // readyz: the last monitoring pass may be this old
};

// What the command line asks for.
struct ParsedCommandLine {
  enum class Action { kRun, kHelp, kError } action = Action::kError;
  Options options;
  std::string error;  // for kError: what was wrong, one line
};

ParsedCommandLine ParseCommandLine(const std::vector<std::string>& arguments);

// "host:port", ":port" (default host) or "port".
bool ParseListen(const std::string& text, std::string* host, int* port);

const char* HelpText();

}  // namespace dashboard
