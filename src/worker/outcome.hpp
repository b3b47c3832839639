// How a render's end becomes a report to the queue: the exit-code contract.
//
//   exit 0                        complete(result = stdout if it is JSON, else NULL)
//   exit N in --permanent-exit-codes   fail(retryable = false, error = "exit N: <stderr tail>")
//   any other exit, or a signal   fail(retryable = true, ...)
//   stopped: cancel requested     fail(retryable = false) -> the job ends cancelled
//   stopped: past its deadline    fail(retryable = true)  (the server times it out anyway)
//   stopped: worker shutting down fail(retryable = true, "worker shutting down")
//
// Every report carries the attempt, so a late one is refused by the server.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace worker {

// How the render's process ended (from waitpid).
struct ProcessEnd {
  bool exited = true;  // false: killed by `signal`
  int code = 0;
  int signal = 0;
};

// Why the worker stopped the render, if it did.
enum class StopReason { kNone, kCancelled, kDeadline, kShutdown };

struct Report {
  bool complete = false;              // complete() rather than fail()
  std::optional<std::string> result;  // complete(): JSON text, or NULL
  std::string error;                  // fail(): the message
  bool retryable = true;              // fail(): retry while attempts remain
};

// Longest stderr tail kept in an error message, in bytes.
constexpr size_t kErrorTailBytes = 2000;

Report MapOutcome(const ProcessEnd& end, StopReason stop, const std::set<int>& permanent_codes,
                  std::string_view stdout_text, std::string_view stderr_text);

// The last `max_bytes` of `text` (whole lines when it can), trimmed, valid
// UTF-8 without NUL bytes (the server would refuse either).
std::string ErrorTail(std::string_view text, size_t max_bytes = kErrorTailBytes);

// `text` with invalid UTF-8 sequences and NUL bytes replaced by '?'.
std::string SanitizeUtf8(std::string_view text);

}  // namespace worker
