// Run admin actions through the audited queue.admin_* functions.
#include "dashboard/admin_api.hpp"

#include "dashboard/result_json.hpp"

namespace dashboard {

namespace {

// The body as a JSON object, or nullopt (with an error reply) when it is not one.
std::optional<Json> ParseObject(const std::string& body, Reply* error) {
  Json parsed = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    *error = ErrorReply(400, "the body must be a JSON object");
    return std::nullopt;
  }
  return parsed;
}

// Run one admin function and answer {"result": <its value>}.
Reply RunAction(ConnectionPool& pool, const std::string& sql, const SqlParams& params) {
  client::QueryResult outcome = pool.Run(sql, params);
  if (!outcome.ok()) return FailureReply(outcome);
  Json row = FirstRowToJson(outcome.get());
  return JsonReply(Json{{"result", row.is_object() ? row["result"] : Json(nullptr)}});
}

}  // namespace

Reply AdminApi::CancelJob(const std::string& body, const std::string& actor) {
  Reply error;
  std::optional<Json> request = ParseObject(body, &error);
  if (!request) return error;
  const Json& job_id = (*request)["job_id"];
  if (!job_id.is_number_integer() || job_id.get<long long>() <= 0)
    return ErrorReply(400, "job_id must be a positive integer");
  return RunAction(pool_, "SELECT queue.admin_cancel($1::int8, $2::text) AS result",
                   {std::to_string(job_id.get<long long>()), actor});
}

Reply AdminApi::DrainWorker(const std::string& body, const std::string& actor) {
  Reply error;
  std::optional<Json> request = ParseObject(body, &error);
  if (!request) return error;
  const Json& worker_id = (*request)["worker_id"];
  if (!worker_id.is_string() || worker_id.get<std::string>().empty())
    return ErrorReply(400, "worker_id must be a non-empty string");
  return RunAction(pool_, "SELECT queue.admin_drain_worker($1::text, $2::text) AS result",
                   {worker_id.get<std::string>(), actor});
}

Reply AdminApi::SetLimit(const std::string& body, const std::string& actor) {
  Reply error;
  std::optional<Json> request = ParseObject(body, &error);
  if (!request) return error;
  const Json& resource = (*request)["resource"];
  const Json& max_concurrent = (*request)["max_concurrent"];
  if (!resource.is_null() && !resource.is_string())
    return ErrorReply(400, "resource must be null (the global limit) or a resource name");
  if (!max_concurrent.is_number_integer())
    return ErrorReply(400, "max_concurrent must be an integer");
  long long limit = max_concurrent.get<long long>();
  if (limit < 0 || limit > 100000) return ErrorReply(400, "max_concurrent must be 0 to 100000");
  return RunAction(pool_, "SELECT queue.admin_set_limit($2::int, $1::text, $3::text) AS result",
                   {resource.is_string() ? std::optional<std::string>(resource.get<std::string>())
                                         : std::nullopt,
                    std::to_string(limit), actor});
}

}  // namespace dashboard
