// The exit-code contract: a render's end becomes complete() or fail().
#include "worker/outcome.hpp"

#include <string.h>

#include <nlohmann/json.hpp>

namespace worker {

namespace {

std::string_view Trim(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const size_t last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// "exit 3: <tail>" or "killed by signal 11 (Segmentation fault): <tail>".
std::string Describe(const ProcessEnd& end, std::string_view stderr_text) {
  std::string what = end.exited ? "exit " + std::to_string(end.code)
                                : "killed by signal " + std::to_string(end.signal) + " (" +
                                      strsignal(end.signal) + ")";
  const std::string tail = ErrorTail(stderr_text);
  return tail.empty() ? what : what + ": " + tail;
}

// Length of the valid UTF-8 sequence starting at text[i], or 0.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  unsigned int min_code = 0;
  unsigned int code = 0;
  if (lead < 0x80) return lead == 0 ? 0 : 1;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, min_code = 0x80, code = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, min_code = 0x800, code = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, min_code = 0x10000, code = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; k++) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  const bool surrogate = code >= 0xD800 && code <= 0xDFFF;
  return code < min_code || code > 0x10FFFF || surrogate ? 0 : length;
}

}  // namespace

std::string SanitizeUtf8(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      clean += '?';
      i++;
    } else {
      clean.append(text.substr(i, length));
      i += length;
    }
  }
  return clean;
}

std::string ErrorTail(std::string_view text, size_t max_bytes) {
  std::string_view tail = Trim(text);
  if (tail.size() > max_bytes) {
    tail = tail.substr(tail.size() - max_bytes);
    // Start at a line when one begins in the tail, else after a partial character.
    const size_t newline = tail.find('\n');
    if (newline != std::string_view::npos && newline + 1 < tail.size()) {
      tail = tail.substr(newline + 1);
    } else {
      while (!tail.empty() && (static_cast<unsigned char>(tail.front()) & 0xC0) == 0x80)
        tail.remove_prefix(1);
    }
  }
  return SanitizeUtf8(Trim(tail));
}

Report MapOutcome(const ProcessEnd& end, StopReason stop, const std::set<int>& permanent_codes,
                  std::string_view stdout_text, std::string_view stderr_text) {
  Report report;
  switch (stop) {
    case StopReason::kCancelled:
      report.error = "render stopped: cancellation requested";
      report.retryable = false;
      return report;
    case StopReason::kDeadline:
      report.error = "render stopped: past its deadline";
      return report;
    case StopReason::kShutdown:
      report.error = "worker shutting down";
      return report;
    case StopReason::kNone:
      break;
  }
  if (end.exited && end.code == 0) {
    report.complete = true;
    const std::string_view output = Trim(stdout_text);
    if (!output.empty() && nlohmann::json::accept(output)) report.result = std::string(output);
    return report;
  }
  report.error = Describe(end, stderr_text);
  report.retryable = !(end.exited && permanent_codes.count(end.code) > 0);
  return report;
}

}  // namespace worker
