// Names, parsing and the transition table of job priorities and statuses.
#include "queue/policy/job_state.hpp"

#include <cstddef>

namespace queue::policy {

namespace {

// SQL labels, indexed by enum value.
constexpr std::array<std::string_view, kPriorityCount> kPriorityNames = {"high", "medium", "low"};
constexpr std::array<std::string_view, kJobStatusCount> kJobStatusNames = {
    "queued", "retrying", "processing", "completed", "failed", "cancelled"};

// Return the label at an enum's index, or an empty view when out of range.
template <std::size_t N>
std::string_view NameAt(const std::array<std::string_view, N>& names, int index) {
  if (index < 0 || index >= static_cast<int>(N)) return {};
  return names[static_cast<std::size_t>(index)];
}

// Return the index of a label, or -1 when it is not one.
template <std::size_t N>
int IndexOf(const std::array<std::string_view, N>& names, std::string_view name) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

// Return the SQL label of a priority.
std::string_view PriorityName(Priority priority) {
  return NameAt(kPriorityNames, static_cast<int>(priority));
}

// Parse an SQL priority label.
std::optional<Priority> ParsePriority(std::string_view name) {
  const int index = IndexOf(kPriorityNames, name);
  if (index < 0) return std::nullopt;
  return static_cast<Priority>(index);
}

// Return the SQL label of a job status.
std::string_view JobStatusName(JobStatus status) {
  return NameAt(kJobStatusNames, static_cast<int>(status));
}

// Parse an SQL job status label.
std::optional<JobStatus> ParseJobStatus(std::string_view name) {
  const int index = IndexOf(kJobStatusNames, name);
  if (index < 0) return std::nullopt;
  return static_cast<JobStatus>(index);
}

// Tell whether a status is final.
bool IsFinished(JobStatus status) {
  return status == JobStatus::kCompleted || status == JobStatus::kFailed ||
         status == JobStatus::kCancelled;
}

// Tell whether the lifecycle allows from -> to.
bool CanTransition(JobStatus from, JobStatus to) {
  switch (from) {
    case JobStatus::kQueued:
      return to == JobStatus::kProcessing || to == JobStatus::kCancelled;
    case JobStatus::kProcessing:
      return to == JobStatus::kCompleted || to == JobStatus::kRetrying ||
             to == JobStatus::kFailed || to == JobStatus::kCancelled || to == JobStatus::kQueued;
    case JobStatus::kRetrying:
      return to == JobStatus::kQueued || to == JobStatus::kCancelled;
    case JobStatus::kCompleted:
    case JobStatus::kFailed:
    case JobStatus::kCancelled:
      return false;
  }
  return false;  // a value outside the enum
}

}  // namespace queue::policy
