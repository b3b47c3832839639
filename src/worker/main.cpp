// queue-worker: a render worker for the queue extension. Parses the command
// line and runs the loop; see render_worker.hpp and docs/workers.md.
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "worker/options.hpp"
#include "worker/render_worker.hpp"
#include "worker/simulate.hpp"

int main(int argc, char** argv) {
  const worker::ParsedCommandLine parsed =
      worker::ParseCommandLine(std::vector<std::string>(argv + 1, argv + argc));
  using Action = worker::ParsedCommandLine::Action;
  switch (parsed.action) {
    case Action::kHelp:
      std::fputs(worker::HelpText(), stdout);
      return 0;
    case Action::kVersion:
      std::fputs(worker::VersionText(), stdout);
      return 0;
    case Action::kError:
      std::fprintf(stderr, "queue-worker: %s\nTry queue-worker --help.\n", parsed.error.c_str());
      return 2;
    case Action::kRun:
      break;
  }
  std::optional<worker::SimulateProfile> profile;
  if (parsed.options.simulate) {
    std::string error;
    profile = worker::ParseSimulateProfile(parsed.options.simulate_profile, &error);
    if (!profile) {
      std::fprintf(stderr, "queue-worker: %s\n", error.c_str());
      return 2;
    }
  }
  // A write to a closed socket or pipe is an error to handle, not a reason to die.
  signal(SIGPIPE, SIG_IGN);
  worker::RenderWorker render_worker(parsed.options, std::move(profile));
  return render_worker.Run();
}
