// --simulate PROFILE: renders that only sleep, for demos and load tests.
//
// A profile is a comma-separated list:
//   TYPE=MIN-MAX    seconds a render of that job type takes (uniform); default=MIN-MAX
//                   for the others (1-3 unless given)
//   @RESOURCE=+S    S more seconds for jobs of that resource (Manim is slower)
//   fail=F          share of renders that fail retryably (exit 1)
//   permanent=F     share that fail for good (exit 65: pass --permanent-exit-codes 65)
//   hang=F          share that hang until stopped (the deadline or a cancel stops them)
// A simulated render is still a real child process (/bin/sh running sleep), so
// cancellation, deadlines and shutdown treat it exactly like a real one.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace worker {

struct SecondsRange {
  double min = 1;
  double max = 3;
};

struct SimulateProfile {
  std::map<std::string, SecondsRange> per_type;
  SecondsRange fallback;
  std::map<std::string, double> extra_by_resource;
  double fail = 0;
  double permanent = 0;
  double hang = 0;
};

// Exit code of a simulated permanent failure (EX_DATAERR).
constexpr int kSimulatedPermanentExit = 65;

// Parse a profile; std::nullopt with `error` set when it is malformed.
std::optional<SimulateProfile> ParseSimulateProfile(const std::string& text, std::string* error);

// What one simulated render does, decided by two draws in [0, 1): `duration_draw`
// picks the time within the type's range, `outcome_draw` the outcome (fail first,
// then permanent, then hang, else success).
struct SimulatedRender {
  double seconds = 0;
  int exit_code = 0;
  bool hangs = false;
};
SimulatedRender DrawRender(const SimulateProfile& profile, const std::string& job_type,
                           const std::string& resource, double duration_draw, double outcome_draw);

// The /bin/sh command that performs a simulated render.
std::string SimulateCommand(const SimulatedRender& render);

}  // namespace worker
