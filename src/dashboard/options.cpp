// Parse queue-dashboard's command line.
#include "dashboard/options.hpp"

#include <cstdlib>
#include <optional>

namespace dashboard {

namespace {

// A whole decimal number within [low, high].
std::optional<int> ParseInt(const std::string& text, int low, int high) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  for (char c : text)
    if (c < '0' || c > '9') return std::nullopt;
  int value = std::atoi(text.c_str());
  if (value < low || value > high) return std::nullopt;
  return value;
}

}  // namespace

bool ParseListen(const std::string& text, std::string* host, int* port) {
  std::string::size_type colon = text.rfind(':');
  std::string port_text = colon == std::string::npos ? text : text.substr(colon + 1);
  std::optional<int> parsed = ParseInt(port_text, 1, 65535);
  if (!parsed) return false;
  if (colon != std::string::npos && colon > 0) {
    std::string name = text.substr(0, colon);
    // [::1]:8080
    if (name.size() >= 2 && name.front() == '[' && name.back() == ']')
      name = name.substr(1, name.size() - 2);
    *host = name;
  }
  *port = *parsed;
  return true;
}

ParsedCommandLine ParseCommandLine(const std::vector<std::string>& arguments) {
  ParsedCommandLine parsed;
  Options& options = parsed.options;
  auto fail = [&parsed](const std::string& why) {
    parsed.action = ParsedCommandLine::Action::kError;
    parsed.error = why;
    return parsed;
  };
  for (size_t i = 0; i < arguments.size(); i++) {
    const std::string& argument = arguments[i];
    if (argument == "--help" || argument == "-h") {
      parsed.action = ParsedCommandLine::Action::kHelp;
      return parsed;
    }
    if (argument == "--allow-admin") {
      options.allow_admin = true;
      continue;
    }
    std::string name = argument;
    std::string value;
    std::string::size_type equals = argument.find('=');
    if (argument.rfind("--", 0) == 0 && equals != std::string::npos) {
      name = argument.substr(0, equals);
      value = argument.substr(equals + 1);
    } else if (i + 1 < arguments.size()) {
      value = arguments[++i];
    } else {
      return fail(argument + " needs a value (see --help)");
    }
    if (name == "--db" || name == "-d") {
      options.conninfo = value;
    } else if (name == "--listen") {
      if (!ParseListen(value, &options.listen_host, &options.listen_port))
        return fail("--listen takes host:port or a port, not \"" + value + "\"");
    } else if (name == "--auth-file") {
      options.auth_file = value;
    } else if (name == "--statement-timeout-ms") {
      std::optional<int> ms = ParseInt(value, 100, 600000);
      if (!ms) return fail("--statement-timeout-ms takes 100 to 600000");
      options.statement_timeout_ms = *ms;
    } else if (name == "--pool-size") {
      std::optional<int> size = ParseInt(value, 1, 64);
      if (!size) return fail("--pool-size takes 1 to 64");
      options.pool_size = *size;
    } else if (name == "--tick-stale-seconds") {
      std::optional<int> seconds = ParseInt(value, 5, 86400);
      if (!seconds) return fail("--tick-stale-seconds takes 5 to 86400");
      options.tick_stale_seconds = *seconds;
    } else {
      return fail("unknown option " + name + " (see --help)");
    }
  }
  if (options.allow_admin && options.auth_file.empty())
    return fail("--allow-admin needs --auth-file: every admin action names the person who took it");
  parsed.action = ParsedCommandLine::Action::kRun;
  return parsed;
}

const char* HelpText() {
  return "queue-dashboard: the render queue's web dashboard, JSON API and Prometheus metrics\n"
         "\n"
         "usage: queue-dashboard [options]\n"
         "  --db CONNINFO              database (connection string or URI; default: PG* env)\n"
         "                             as a login role holding queue_dashboard\n"
         "  --listen HOST:PORT         where to serve (default 127.0.0.1:8080)\n"
         "  --auth-file FILE           basic auth: one user:password per line; the file\n"
         "                             must not be readable by group or others\n"
         "  --allow-admin              cancel jobs, drain workers, change limits (the role\n"
         "                             must hold queue_admin; needs --auth-file)\n"
         "  --statement-timeout-ms N   per statement (default 5000)\n"
         "  --pool-size N              database connections (default 4)\n"
         "  --tick-stale-seconds N     /readyz fails when the last maintenance pass is older\n"
         "                             (default 60)\n"
         "  --help                     this text\n"
         "\n"
         "Endpoints: / (the page), /api/{overview,jobs,jobs/ID,workers,alerts,history},\n"
         "/metrics, /healthz, /readyz.\n";
}

}  // namespace dashboard
