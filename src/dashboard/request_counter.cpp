// Count requests and render the counts.
#include "dashboard/request_counter.hpp"

#include <vector>

#include "dashboard/exposition.hpp"

namespace dashboard {

void RequestCounter::Add(const std::string& route, int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  counts_[{route, status}]++;
}

std::string RequestCounter::Render() {
  std::vector<Sample> samples;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [key, count] : counts_)
      samples.push_back(Sample{{{"route", key.first}, {"code", std::to_string(key.second)}},
                               static_cast<double>(count)});
  }
  return RenderFamily("queue_dashboard_http_requests_total", "counter",
                      "HTTP requests the dashboard answered, by route and status code.", samples);
}

}  // namespace dashboard
