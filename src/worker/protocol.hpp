// The worker protocol at the SQL level, one function per call: register,
// LISTEN, claim up to the free slots, heartbeat, complete/fail with the
// attempt, drain. See docs/workers.md for the same in plain SQL.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "client/connection.hpp"
#include "worker/outcome.hpp"

namespace worker {

// The channel the extension notifies when jobs become claimable.
constexpr const char* kWakeChannel = "queue_jobs";

struct ClaimedJob {
  long long id = 0;
  int attempt = 0;
  std::string job_type;
  std::string resource;     // "" when the job has none
  std::string payload;      // JSON text
  std::string deadline;     // as the server prints it, for QUEUE_DEADLINE
  double seconds_left = 0;  // deadline - now() on the server at the claim
};

client::QueryResult RegisterWorker(client::Connection& db, const std::string& worker_id,
                                   const std::optional<std::vector<std::string>>& resources,
                                   int capacity);
client::QueryResult Listen(client::Connection& db);
client::QueryResult DrainWorker(client::Connection& db, const std::string& worker_id);

// Claim up to `max_jobs`; the jobs go to `claimed`.
client::QueryResult Claim(client::Connection& db, const std::string& worker_id, int max_jobs,
                          std::vector<ClaimedJob>* claimed);

// Beat; the ids whose cancellation was requested go to `cancel_requested`.
client::QueryResult Heartbeat(client::Connection& db, const std::string& worker_id,
                              std::vector<long long>* cancel_requested);

// Send a render's report with its attempt. `taken` is whether the server took
// it (false: the attempt is no longer this worker's: late or stale);
// `status` what the job became.
struct Delivery {
  bool taken = false;
  std::string status;
};
client::QueryResult Deliver(client::Connection& db, const std::string& worker_id,
                            const ClaimedJob& job, const Report& report, Delivery* delivery);

// A text[] literal: {"a","b"}.
std::string TextArrayLiteral(const std::vector<std::string>& items);

}  // namespace worker
