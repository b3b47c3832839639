// The read-only endpoints: what the page and monitoring read.
//
// Each handler runs one or two statements over the pool and shapes the rows as
// JSON. Figures come from the extension's own functions and views
// (queue.stats(), queue.stats_history(), queue.metrics(), queue.worker_load,
// queue.job_list, queue.alert_log), which the queue_dashboard role may read.
#pragma once

#include <string>
#include <string_view>

#include "dashboard/connection_pool.hpp"
#include "dashboard/reply.hpp"
#include "dashboard/request_params.hpp"

namespace dashboard {

class ReadApi {
 public:
  ReadApi(ConnectionPool& pool, int tick_stale_seconds)
      : pool_(pool), tick_stale_seconds_(tick_stale_seconds) {}

  Reply Overview();
  Reply Jobs(const QueryParams& params);
  Reply Job(std::string_view id);
  Reply Workers();
  Reply Alerts();
  Reply History(const QueryParams& params);
  // queue.metrics() followed by `own_metrics` (the dashboard's figures);
  // *database_up tells whether the database answered.
  Reply Metrics(bool* database_up);
  // Database reachable, extension installed at a version, maintenance running.
  Reply Ready();

 private:
  ConnectionPool& pool_;
  int tick_stale_seconds_;
};

}  // namespace dashboard
