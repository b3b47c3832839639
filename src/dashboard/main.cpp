// queue-dashboard: the render queue's web page, JSON API and Prometheus metrics.
#include <signal.h>

#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "dashboard/basic_auth.hpp"
#include "dashboard/connection_pool.hpp"
#include "dashboard/options.hpp"
#include "dashboard/server.hpp"

int main(int argc, char** argv) {
  using dashboard::ParsedCommandLine;
  ParsedCommandLine parsed =
      dashboard::ParseCommandLine(std::vector<std::string>(argv + 1, argv + argc));
  if (parsed.action == ParsedCommandLine::Action::kHelp) {
    std::fputs(dashboard::HelpText(), stdout);
    return 0;
  }
  if (parsed.action == ParsedCommandLine::Action::kError) {
    std::fprintf(stderr, "queue-dashboard: %s\n", parsed.error.c_str());
    return 2;
  }
  const dashboard::Options& options = parsed.options;

  std::optional<dashboard::BasicAuth> auth;
  if (!options.auth_file.empty()) {
    std::string error;
    auth = dashboard::BasicAuth::Load(options.auth_file, &error);
    if (!auth) {
      std::fprintf(stderr, "queue-dashboard: %s\n", error.c_str());
      return 2;
    }
  }

  // Block the stop signals before any thread starts, so that only the
  // server's waiting thread receives them; a closed client socket must not
  // kill the process either.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  dashboard::ConnectionPool pool(
      {options.conninfo, options.pool_size, options.statement_timeout_ms, !options.allow_admin});
  try {
    return dashboard::Serve(options, auth ? &*auth : nullptr, pool);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "queue-dashboard: %s\n", error.what());
    return 1;
  }
}
