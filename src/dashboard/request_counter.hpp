// Requests served, per route and status code, for the dashboard's /metrics.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace dashboard {

class RequestCounter {
 public:
  void Add(const std::string& route, int status);
  // queue_dashboard_http_requests_total in the exposition format.
  std::string Render();

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, int>, long long> counts_;
};

}  // namespace dashboard
