// Query-string and body parameters of the API, checked before any SQL runs.
//
// Every value a request sends reaches the database only as a statement
// parameter; these checks give a 400 with a message instead of a database
// error, and keep unbounded values (page sizes, history spans) bounded.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace dashboard {

using QueryParams = std::multimap<std::string, std::string>;

// GET /api/jobs: filters and a keyset page (jobs with id < before, newest first).
struct JobsQuery {
  std::optional<std::string> status;
  std::optional<std::string> job_type;
  std::optional<std::string> user_id;
  std::optional<long long> before;
  int limit = 50;
};

// The query, or an error message for a 400.
struct ParsedJobsQuery {
  std::optional<JobsQuery> query;
  std::string error;
};

ParsedJobsQuery ParseJobsQuery(const QueryParams& params);

// GET /api/history?minutes=N: 1 to 1440, default 60; nullopt when invalid.
std::optional<int> ParseHistoryMinutes(const QueryParams& params);

// A positive job id in decimal; nullopt otherwise.
std::optional<long long> ParseJobId(std::string_view text);

// Whether a job status name is one of queue.job_status's labels.
bool IsJobStatus(std::string_view status);

}  // namespace dashboard
