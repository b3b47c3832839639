// Simulated renders: profile parsing, the draw, and the shell command.
#include "worker/simulate.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace worker {

namespace {

// A non-negative finite number making up all of `text`.
std::optional<double> ParseNumber(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(value) || value < 0)
    return std::nullopt;
  return value;
}

std::optional<SecondsRange> ParseRange(const std::string& text) {
  const size_t dash = text.find('-');
  if (dash == std::string::npos) {
    const std::optional<double> seconds = ParseNumber(text);
    if (!seconds) return std::nullopt;
    return SecondsRange{*seconds, *seconds};
  }
  const std::optional<double> min = ParseNumber(text.substr(0, dash));
  const std::optional<double> max = ParseNumber(text.substr(dash + 1));
  if (!min || !max || *min > *max) return std::nullopt;
  return SecondsRange{*min, *max};
}

}  // namespace

std::optional<SimulateProfile> ParseSimulateProfile(const std::string& text, std::string* error) {
  SimulateProfile profile;
  std::stringstream stream(text);
  std::string entry;
  while (std::getline(stream, entry, ',')) {
    if (entry.empty()) continue;
    const size_t equals = entry.find('=');
    const std::string key = entry.substr(0, equals);
    const std::string value = equals == std::string::npos ? "" : entry.substr(equals + 1);
    bool good = !key.empty() && equals != std::string::npos;
    if (good && (key == "fail" || key == "permanent" || key == "hang")) {
      const std::optional<double> share = ParseNumber(value);
      good = share && *share <= 1;
      if (good)
        (key == "fail"        ? profile.fail
         : key == "permanent" ? profile.permanent
                              : profile.hang) = *share;
    } else if (good && key[0] == '@') {
      const std::optional<double> extra =
          value.rfind('+', 0) == 0 ? ParseNumber(value.substr(1)) : std::nullopt;
      good = extra.has_value() && key.size() > 1;
      if (good) profile.extra_by_resource[key.substr(1)] = *extra;
    } else if (good) {
      const std::optional<SecondsRange> range = ParseRange(value);
      good = range.has_value();
      if (good) (key == "default" ? profile.fallback : profile.per_type[key]) = *range;
    }
    if (!good) {
      *error = "--simulate: cannot read \"" + entry +
               "\" (expected TYPE=MIN-MAX, default=MIN-MAX, @RESOURCE=+S, fail=F, permanent=F, "
               "hang=F)";
      return std::nullopt;
    }
  }
  if (profile.fail + profile.permanent + profile.hang > 1) {
    *error = "--simulate: fail + permanent + hang must not exceed 1";
    return std::nullopt;
  }
  return profile;
}

SimulatedRender DrawRender(const SimulateProfile& profile, const std::string& job_type,
                           const std::string& resource, double duration_draw, double outcome_draw) {
  const auto type = profile.per_type.find(job_type);
  const SecondsRange range = type != profile.per_type.end() ? type->second : profile.fallback;
  SimulatedRender render;
  render.seconds = range.min + (range.max - range.min) * duration_draw;
  const auto extra = profile.extra_by_resource.find(resource);
  if (extra != profile.extra_by_resource.end()) render.seconds += extra->second;
  if (outcome_draw < profile.fail) {
    render.exit_code = 1;
  } else if (outcome_draw < profile.fail + profile.permanent) {
    render.exit_code = kSimulatedPermanentExit;
  } else if (outcome_draw < profile.fail + profile.permanent + profile.hang) {
    render.hangs = true;
  }
  return render;
}

std::string SimulateCommand(const SimulatedRender& render) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", render.seconds);
  // A hung renderer never ends by itself; an hour bounds an orphan's life
  // should its worker be killed with SIGKILL.
  if (render.hangs) return "exec sleep 3600";
  const std::string sleep = std::string("sleep ") + seconds + "; ";
  if (render.exit_code == 1)
    return sleep + "echo 'ffmpeg exited with status 1 (transient)' >&2; exit 1";
  if (render.exit_code == kSimulatedPermanentExit)
    return sleep + "echo 'invalid LaTeX in payload' >&2; exit 65";
  return sleep + "printf '{\"url\": \"https://cdn.example/v/%s.mp4\", \"seconds\": " + seconds +
         "}' \"$QUEUE_JOB_ID\"";
}

}  // namespace worker
