// The queue's configuration tables, cached per backend.
//
// queue.settings, queue.resources, queue.job_types and queue.peak_windows are
// read once and kept until a trigger on them (queue.config_changed) sends a
// relcache invalidation at commit; then the next call reads them again. So an
// admin's UPDATE takes effect at commit, everywhere, without a restart.
#pragma once

#include "queue/pg.hpp"
#include "queue/policy/job_state.hpp"
#include "queue/policy/peak_windows.hpp"
#include "queue/policy/retry.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace queue {

struct JobTypeConfig {
  std::string name;
  policy::Priority priority;
  std::string resource;  // empty: no resource
  policy::Micros expected_duration;
  policy::Micros timeout;  // 0: settings.job_timeout
  int max_retries;         // -1: settings.max_retries
};

struct ResourceConfig {
  std::string name;
  int max_concurrent;
  bool peak_scaling;
};

struct Config {
  int max_concurrent = 0;
  policy::Micros job_timeout = 0;
  int max_retries = 0;
  policy::RetryPolicy retry{};
  pg_tz* timezone = nullptr;
  policy::Micros worker_timeout = 0;
  policy::Micros retention = 0;
  int max_payload_bytes = 0;
  policy::Micros stats_window = 0;
  int max_workers_per_role = 0;
  std::vector<JobTypeConfig> job_types;
  std::vector<ResourceConfig> resources;
  std::vector<policy::PeakWindow> peak_windows;
  Oid jobs_relid = InvalidOid;
  Oid resources_relid = InvalidOid;
  std::vector<Oid> config_relids;

  const JobTypeConfig* FindJobType(std::string_view name) const;
  const ResourceConfig* FindResource(std::string_view name) const;
  std::string JobTypeNames() const;  // "daily_ca, doubt, topic_short"
  std::string ResourceNames() const;
};

// The resource's row, or an error (22023) listing the known resources.
const ResourceConfig& RequireResource(const Config& config, const char* name);

// The table queue.`name` as the catalog has it now (InvalidOid: none, the
// extension is not installed), for callers that cannot rely on the cached
// configuration: one that is not loaded, or a table dropped since.
Oid QueueTableOid(const char* name);

// The configuration in force, read again if an admin changed it. Call it once
// at the start of a SQL function: reading again invalidates earlier references.
const Config& RefreshConfig();

// Local time of day, in settings.timezone, at a moment.
policy::Micros LocalTimeOfDay(const Config& config, TimestampTz at);

// Whether a moment falls inside a peak window.
bool IsPeakAt(const Config& config, TimestampTz at);

// Concurrent renders allowed in all at a moment (the global limit scales at peak).
int GlobalLimitAt(const Config& config, TimestampTz at);

// Concurrent renders allowed for one resource at a moment.
int ResourceLimitAt(const Config& config, const ResourceConfig& resource, TimestampTz at);

}  // namespace queue
