// Check API parameters.
#include "dashboard/request_params.hpp"

#include <array>

namespace dashboard {

namespace {

constexpr int kMaxPage = 200;
constexpr size_t kMaxFilterLength = 1000;

std::optional<std::string> Single(const QueryParams& params, const std::string& name) {
  auto found = params.find(name);
  if (found == params.end() || found->second.empty()) return std::nullopt;
  return found->second;
}

std::optional<long long> ParseBoundedInt(std::string_view text, long long low, long long high) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  long long value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value < low || value > high) return std::nullopt;
  return value;
}

}  // namespace

bool IsJobStatus(std::string_view status) {
  static constexpr std::array<std::string_view, 6> kStatuses = {
      "queued", "retrying", "processing", "completed", "failed", "cancelled"};
  for (std::string_view known : kStatuses)
    if (status == known) return true;
  return false;
}

std::optional<long long> ParseJobId(std::string_view text) {
  return ParseBoundedInt(text, 1, 999999999999999999LL);
}

ParsedJobsQuery ParseJobsQuery(const QueryParams& params) {
  ParsedJobsQuery parsed;
  JobsQuery query;
  query.status = Single(params, "status");
  if (query.status && !IsJobStatus(*query.status)) {
    parsed.error =
        "status must be one of queued, retrying, processing, completed, failed, cancelled";
    return parsed;
  }
  query.job_type = Single(params, "type");
  query.user_id = Single(params, "user");
  for (const std::optional<std::string>* filter : {&query.job_type, &query.user_id}) {
    if (*filter && (*filter)->size() > kMaxFilterLength) {
      parsed.error = "filters are at most 1000 bytes";
      return parsed;
    }
  }
  if (std::optional<std::string> before = Single(params, "before")) {
    query.before = ParseJobId(*before);
    if (!query.before) {
      parsed.error = "before must be a job id";
      return parsed;
    }
  }
  if (std::optional<std::string> limit = Single(params, "limit")) {
    std::optional<long long> value = ParseBoundedInt(*limit, 1, kMaxPage);
    if (!value) {
      parsed.error = "limit must be 1 to 200";
      return parsed;
    }
    query.limit = static_cast<int>(*value);
  }
  parsed.query = query;
  return parsed;
}

std::optional<int> ParseHistoryMinutes(const QueryParams& params) {
  std::optional<std::string> minutes = Single(params, "minutes");
  if (!minutes) return 60;
  std::optional<long long> value = ParseBoundedInt(*minutes, 1, 1440);
  if (!value) return std::nullopt;
  return static_cast<int>(*value);
}

}  // namespace dashboard
