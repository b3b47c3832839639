// Admin actions: cancel a job, drain a worker, change a concurrency limit.
//
// Only served with --allow-admin, to a signed-in user (basic auth) whose POST
// carries the page's CSRF token; the checks live in the server. Each action is
// one call of a queue.admin_* function, which writes the audit row naming the
// database login role and the signed-in user (the actor) in the same
// transaction as the action.
#pragma once

#include <string>

#include "dashboard/connection_pool.hpp"
#include "dashboard/reply.hpp"

namespace dashboard {

class AdminApi {
 public:
  explicit AdminApi(ConnectionPool& pool) : pool_(pool) {}

  // Each takes the request's JSON body and the signed-in user.
  Reply CancelJob(const std::string& body, const std::string& actor);    // {"job_id": 17}
  Reply DrainWorker(const std::string& body, const std::string& actor);  // {"worker_id": "w"}
  Reply SetLimit(const std::string& body, const std::string& actor);
  // {"resource": null | "manim", "max_concurrent": 12}

 private:
  ConnectionPool& pool_;
};

}  // namespace dashboard
