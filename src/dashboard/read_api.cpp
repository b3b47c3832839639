// Statements behind the read-only endpoints.
#include "dashboard/read_api.hpp"

#include "dashboard/result_json.hpp"

namespace dashboard {

namespace {

// Intervals travel as seconds, timestamps as ISO 8601 in UTC (set per connection).
constexpr const char* kOverviewSql =
    "SELECT s.queued, s.retrying, s.processing, s.completed, s.failed, s.cancelled,"
    " s.queued_high, s.queued_medium, s.queued_low, s.processing_by_resource,"
    " s.effective_limit, s.is_peak,"
    " extract(epoch FROM s.oldest_queued_age)::float8 AS oldest_queued_seconds,"
    " extract(epoch FROM s.avg_wait)::float8 AS avg_wait_seconds,"
    " extract(epoch FROM s.avg_run)::float8 AS avg_run_seconds,"
    " s.completed_per_minute, s.failure_rate,"
    " extract(epoch FROM s.stats_window)::float8 AS stats_window_seconds,"
    " s.refused_results, now() AS at"
    " FROM queue.stats() s";

// $1 before (id), $2 status, $3 job type, $4 user id, $5 page size + 1. Long
// values are cut for the list; the job's page shows them whole.
constexpr const char* kJobsSql =
    "SELECT id, job_type, priority, resource, status, left(user_id, 200) AS user_id,"
    " worker_id, attempts, max_attempts, enqueued_at, started_at, finished_at,"
    " cancel_requested, left(last_error, 300) AS last_error"
    " FROM queue.job_list"
    " WHERE ($1::int8 IS NULL OR id < $1::int8)"
    " AND ($2::text IS NULL OR status = $2::text::queue.job_status)"
    " AND ($3::text IS NULL OR job_type = $3::text)"
    " AND ($4::text IS NULL OR user_id = $4::text)"
    " ORDER BY id DESC LIMIT $5::int";

constexpr const char* kJobSql =
    "SELECT id, job_type, priority, resource, status, user_id, worker_id, attempts,"
    " max_attempts, enqueued_at, run_at, started_at, deadline, finished_at, cancel_requested,"
    " last_error, payload, result FROM queue.job_list WHERE id = $1::int8";

constexpr const char* kTimelineSql =
    "SELECT event_id, at, from_status, to_status, worker_id, detail"
    " FROM queue.job_timeline WHERE job_id = $1::int8 ORDER BY event_id";

constexpr const char* kWorkersSql =
    "SELECT worker_id, state, capacity, to_jsonb(resources) AS resources, running,"
    " extract(epoch FROM silent_for)::float8 AS silent_for_seconds FROM queue.worker_load";

constexpr const char* kActiveAlertsSql =
    "SELECT id, alert, subject, detail, started_at FROM queue.alert_log"
    " WHERE cleared_at IS NULL ORDER BY started_at, id";

constexpr const char* kRecentAlertsSql =
    "SELECT id, alert, subject, detail, started_at, cleared_at FROM queue.alert_log"
    " WHERE cleared_at >= now() - interval '1 day' ORDER BY cleared_at DESC, id DESC LIMIT 200";

constexpr const char* kHistorySql =
    "SELECT minute, queued, processing, enqueued, started, completed, failed, retried,"
    " timed_out, cancelled, extract(epoch FROM avg_wait)::float8 AS avg_wait_seconds"
    " FROM queue.stats_history(make_interval(mins => $1::int))";

constexpr const char* kExtensionSql =
    "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'queue'";

constexpr const char* kTickAgeSql =
    "SELECT extract(epoch FROM now() - last_pass_at)::float8 AS age FROM queue.monitor_state";

}  // namespace

Reply ReadApi::Overview() {
  client::QueryResult stats = pool_.Run(kOverviewSql);
  if (!stats.ok()) return FailureReply(stats);
  return JsonReply(FirstRowToJson(stats.get()));
}

Reply ReadApi::Jobs(const QueryParams& params) {
  ParsedJobsQuery parsed = ParseJobsQuery(params);
  if (!parsed.query) return ErrorReply(400, parsed.error);
  const JobsQuery& query = *parsed.query;
  SqlParams sql_params = {
      query.before ? std::optional<std::string>(std::to_string(*query.before)) : std::nullopt,
      query.status, query.job_type, query.user_id, std::to_string(query.limit + 1)};
  client::QueryResult jobs = pool_.Run(kJobsSql, sql_params);
  if (!jobs.ok()) return FailureReply(jobs);
  Json rows = RowsToJson(jobs.get());
  Json next_before = nullptr;
  if (static_cast<int>(rows.size()) > query.limit) {
    rows.erase(rows.end() - 1);
    next_before = rows.back()["id"];
  }
  return JsonReply(Json{{"jobs", rows}, {"next_before", next_before}});
}

Reply ReadApi::Job(std::string_view id) {
  std::optional<long long> job_id = ParseJobId(id);
  if (!job_id) return ErrorReply(400, "a job id is a positive number");
  SqlParams sql_params = {std::to_string(*job_id)};
  client::QueryResult job = pool_.Run(kJobSql, sql_params);
  if (!job.ok()) return FailureReply(job);
  if (job.rows() == 0) return ErrorReply(404, "no such job");
  client::QueryResult events = pool_.Run(kTimelineSql, sql_params);
  if (!events.ok()) return FailureReply(events);
  return JsonReply(
      Json{{"job", FirstRowToJson(job.get())}, {"events", RowsToJson(events.get())}});
}

Reply ReadApi::Workers() {
  client::QueryResult workers = pool_.Run(kWorkersSql);
  if (!workers.ok()) return FailureReply(workers);
  return JsonReply(Json{{"workers", RowsToJson(workers.get())}});
}

Reply ReadApi::Alerts() {
  client::QueryResult active = pool_.Run(kActiveAlertsSql);
  if (!active.ok()) return FailureReply(active);
  client::QueryResult recent = pool_.Run(kRecentAlertsSql);
  if (!recent.ok()) return FailureReply(recent);
  return JsonReply(Json{{"active", RowsToJson(active.get())},
                        {"recent", RowsToJson(recent.get())}});
}

Reply ReadApi::History(const QueryParams& params) {
  std::optional<int> minutes = ParseHistoryMinutes(params);
  if (!minutes) return ErrorReply(400, "minutes must be 1 to 1440");
  client::QueryResult history = pool_.Run(kHistorySql, {std::to_string(*minutes)});
  if (!history.ok()) return FailureReply(history);
  return JsonReply(Json{{"minutes", RowsToJson(history.get())}});
}

Reply ReadApi::Metrics(bool* database_up) {
  client::QueryResult metrics = pool_.Run("SELECT queue.metrics()");
  *database_up = metrics.ok();
  Reply reply;
  reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
  if (metrics.ok() && metrics.rows() == 1)
    reply.body = metrics.Text(0, 0);
  return reply;
}

Reply ReadApi::Ready() {
  client::QueryResult extension = pool_.Run(kExtensionSql);
  if (!extension.ok()) return FailureReply(extension);
  if (extension.rows() == 0)
    return ErrorReply(503, "the queue extension is not installed in this database");
  Json status = {{"database", "reachable"},
                 {"extension", extension.Text(0, 0)}};
  client::QueryResult tick = pool_.Run(kTickAgeSql);
  if (!tick.ok()) return FailureReply(tick);
  Json age = FirstRowToJson(tick.get());
  status["last_tick_age_seconds"] = age.is_object() ? age["age"] : Json(nullptr);
  bool ticking = status["last_tick_age_seconds"].is_number() &&
                 status["last_tick_age_seconds"].get<double>() <= tick_stale_seconds_;
  if (!ticking) {
    status["error"] = "no maintenance pass within " + std::to_string(tick_stale_seconds_) +
                      " s: is the queue background worker (or pg_cron's queue.tick()) running?";
  }
  return JsonReply(status, ticking ? 200 : 503);
}

}  // namespace dashboard
