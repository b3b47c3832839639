// The SQL calls of a render worker.
#include "worker/protocol.hpp"

namespace worker {

std::string TextArrayLiteral(const std::vector<std::string>& items) {
  std::string literal = "{";
  for (size_t i = 0; i < items.size(); i++) {
    if (i > 0) literal += ',';
    literal += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  return literal + "}";
}

client::QueryResult RegisterWorker(client::Connection& db, const std::string& worker_id,
                                   const std::optional<std::vector<std::string>>& resources,
                                   int capacity) {
  return db.Exec(
      "SELECT worker_id FROM queue.register_worker($1, $2::text[], $3::int)",
      {worker_id,
       resources ? std::optional<std::string>(TextArrayLiteral(*resources)) : std::nullopt,
       std::to_string(capacity)});
}

client::QueryResult Listen(client::Connection& db) {
  return db.Exec(std::string("LISTEN ") + kWakeChannel);
}

client::QueryResult DrainWorker(client::Connection& db, const std::string& worker_id) {
  return db.Exec("SELECT queue.drain_worker($1)", {worker_id});
}

client::QueryResult Claim(client::Connection& db, const std::string& worker_id, int max_jobs,
                          std::vector<ClaimedJob>* claimed) {
  // The time left is measured on the server, so the worker's clock may differ
  // from the server's without moving the deadline.
  client::QueryResult result = db.Exec(
      "SELECT id, attempts, job_type, coalesce(resource, ''), payload::text, deadline,"
      "       extract(epoch FROM deadline - now())::float8"
      "  FROM queue.dequeue($1, $2::int)",
      {worker_id, std::to_string(max_jobs)});
  for (int row = 0; row < result.rows(); row++) {
    ClaimedJob job;
    job.id = result.Int(row, 0);
    job.attempt = static_cast<int>(result.Int(row, 1));
    job.job_type = result.Text(row, 2);
    job.resource = result.Text(row, 3);
    job.payload = result.Text(row, 4);
    job.deadline = result.Text(row, 5);
    job.seconds_left = result.Float(row, 6);
    claimed->push_back(std::move(job));
  }
  return result;
}

client::QueryResult Heartbeat(client::Connection& db, const std::string& worker_id,
                              std::vector<long long>* cancel_requested) {
  client::QueryResult result = db.Exec("SELECT * FROM queue.heartbeat($1)", {worker_id});
  for (int row = 0; row < result.rows(); row++) cancel_requested->push_back(result.Int(row, 0));
  return result;
}

client::QueryResult Deliver(client::Connection& db, const std::string& worker_id,
                            const ClaimedJob& job, const Report& report, Delivery* delivery) {
  const std::string id = std::to_string(job.id);
  const std::string attempt = std::to_string(job.attempt);
  if (report.complete) {
    client::QueryResult result =
        db.Exec("SELECT queue.complete($1::bigint, $2, $3::jsonb, $4::int)",
                {id, worker_id, report.result, attempt});
    delivery->taken = result.ok() && result.Text(0, 0) == "t";
    delivery->status = delivery->taken ? "completed" : "";
    return result;
  }
  client::QueryResult result =
      db.Exec("SELECT queue.fail($1::bigint, $2, $3, $4::boolean, $5::int)",
              {id, worker_id, report.error, report.retryable ? "true" : "false", attempt});
  delivery->taken = result.ok() && !result.IsNull(0, 0);
  delivery->status = delivery->taken ? result.Text(0, 0) : "";
  return result;
}

}  // namespace worker
