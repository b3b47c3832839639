// Per-backend cache of the configuration tables (see config.hpp).
#include "queue/config.hpp"

#include "queue/boundary.hpp"
#include "queue/policy/limits.hpp"
#include "queue/spi.hpp"

#include <algorithm>

extern "C" {
#include "catalog/namespace.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
}

namespace queue {

namespace {

Config cached;
bool cache_valid = false;
bool callback_registered = false;

// Interval columns are read as microseconds; time-of-day columns likewise.
#define QUEUE_MICROS(column) "(extract(epoch FROM " column ") * 1000000)::int8"

SavedPlan read_settings = {
    "SELECT max_concurrent, " QUEUE_MICROS("job_timeout") ", max_retries, "
    QUEUE_MICROS("retry_delay") ", retry_backoff, " QUEUE_MICROS("max_retry_delay") ", timezone, "
    QUEUE_MICROS("worker_timeout") ", " QUEUE_MICROS("retention") ", max_payload_bytes, "
    QUEUE_MICROS("stats_window") ", "
    "'queue.jobs'::regclass::oid, 'queue.settings'::regclass::oid, "
    "'queue.resources'::regclass::oid, 'queue.job_types'::regclass::oid, "
    "'queue.peak_windows'::regclass::oid, max_workers_per_role "
    "FROM queue.settings",
    0, {}, nullptr};
SavedPlan read_version = {
    "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'queue'", 0, {}, nullptr};

// The SQL objects this library was written for. After the library is
// upgraded, its functions wait for ALTER EXTENSION queue UPDATE rather than
// run statements against tables of another version.
constexpr const char* kSqlVersion = "1.13";

SavedPlan read_resources = {
    "SELECT resource, max_concurrent, peak_scaling FROM queue.resources ORDER BY resource",
    0,
    {},
    nullptr};
SavedPlan read_job_types = {
    "SELECT job_type, priority::text, resource, " QUEUE_MICROS("expected_duration") ", "
    "coalesce(" QUEUE_MICROS("timeout") ", 0), coalesce(max_retries, -1) "
    "FROM queue.job_types ORDER BY job_type",
    0, {}, nullptr};
SavedPlan read_peak_windows = {
    "SELECT " QUEUE_MICROS("starts") ", " QUEUE_MICROS("ends") ", multiplier "
    "FROM queue.peak_windows ORDER BY starts",
    0, {}, nullptr};

#undef QUEUE_MICROS

int64 Int64At(uint64 row, int column) { return DatumGetInt64(SpiValueNotNull(row, column)); }
int32 Int32At(uint64 row, int column) { return DatumGetInt32(SpiValueNotNull(row, column)); }

// Read the four tables into `config`; runs inside PgCall (C++ objects alive).
// Triggers call this too, with the search_path of whoever changed a table.
void LoadConfig(Config& config) {
  PinSearchPath();
  SpiConnect();
  const char* version =
      SpiRun(read_version, nullptr, nullptr, SPI_OK_SELECT) == 1 ? SpiText(0, 1) : nullptr;
  if (version == nullptr || strcmp(version, kSqlVersion) != 0)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("queue's SQL objects are at version %s, its library at %s",
                           version != nullptr ? version : "(none)", kSqlVersion),
                    errhint("Run ALTER EXTENSION queue UPDATE.")));
  if (SpiRun(read_settings, nullptr, nullptr, SPI_OK_SELECT) != 1)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("queue.settings must hold exactly one row"),
                    errhint("Restore it with INSERT INTO queue.settings DEFAULT VALUES.")));
  config.max_concurrent = Int32At(0, 1);
  config.job_timeout = Int64At(0, 2);
  config.max_retries = Int32At(0, 3);
  config.retry =
      policy::RetryPolicy{Int64At(0, 4), DatumGetFloat8(SpiValueNotNull(0, 5)), Int64At(0, 6)};
  const char* zone_name = SpiText(0, 7);
  config.timezone = pg_tzset(zone_name);
  if (config.timezone == nullptr)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("invalid time zone \"%s\" in queue.settings", zone_name)));
  config.worker_timeout = Int64At(0, 8);
  config.retention = Int64At(0, 9);
  config.max_payload_bytes = Int32At(0, 10);
  config.stats_window = Int64At(0, 11);
  config.jobs_relid = DatumGetObjectId(SpiValueNotNull(0, 12));
  config.config_relids.clear();
  for (int column = 13; column <= 16; column++)
    config.config_relids.push_back(DatumGetObjectId(SpiValueNotNull(0, column)));
  config.max_workers_per_role = Int32At(0, 17);
  config.resources_relid = config.config_relids[1];  // the order of read_settings

  config.resources.clear();
  uint64 n = SpiRun(read_resources, nullptr, nullptr, SPI_OK_SELECT);
  for (uint64 i = 0; i < n; i++)
    config.resources.push_back(
        ResourceConfig{SpiText(i, 1), Int32At(i, 2), DatumGetBool(SpiValueNotNull(i, 3))});

  config.job_types.clear();
  n = SpiRun(read_job_types, nullptr, nullptr, SPI_OK_SELECT);
  for (uint64 i = 0; i < n; i++) {
    const char* resource = SpiText(i, 3);
    config.job_types.push_back(JobTypeConfig{SpiText(i, 1), *policy::ParsePriority(SpiText(i, 2)),
                                             resource != nullptr ? resource : "", Int64At(i, 4),
                                             Int64At(i, 5), Int32At(i, 6)});
  }

  config.peak_windows.clear();
  n = SpiRun(read_peak_windows, nullptr, nullptr, SPI_OK_SELECT);
  for (uint64 i = 0; i < n; i++) {
    config.peak_windows.push_back(
        policy::PeakWindow{Int64At(i, 1), Int64At(i, 2), DatumGetFloat8(SpiValueNotNull(i, 3))});
  }
  SpiFinish();
  UnpinSearchPath();

  // The tables' constraints refuse these already; this catches rows written
  // with the constraints disabled, before they skew every limit.
  for (const policy::PeakWindow& window : config.peak_windows)
    if (std::optional<std::string> why = policy::ValidateWindow(window))
      Raise(ERRCODE_INVALID_PARAMETER_VALUE, "invalid row in queue.peak_windows: " + *why);
  if (std::optional<std::string> why = policy::ValidateRetryPolicy(config.retry))
    Raise(ERRCODE_INVALID_PARAMETER_VALUE, "invalid retry settings in queue.settings: " + *why);
}

// Any change to a configuration table (or an unknown one) empties the cache.
void OnRelcacheInvalidation(Datum, Oid relid) {
  if (relid == InvalidOid || relid == cached.jobs_relid ||
      std::find(cached.config_relids.begin(), cached.config_relids.end(), relid) !=
          cached.config_relids.end())
    cache_valid = false;
}

template <typename Item>
std::string JoinNames(const std::vector<Item>& items) {
  std::string names;
  for (const Item& item : items) {
    if (!names.empty()) names += ", ";
    names += item.name;
  }
  return names.empty() ? "(none)" : names;
}

}  // namespace

const JobTypeConfig* Config::FindJobType(std::string_view name) const {
  for (const JobTypeConfig& type : job_types)
    if (type.name == name) return &type;
  return nullptr;
}

const ResourceConfig* Config::FindResource(std::string_view name) const {
  for (const ResourceConfig& resource : resources)
    if (resource.name == name) return &resource;
  return nullptr;
}

const ResourceConfig& RequireResource(const Config& config, const char* name) {
  const ResourceConfig* resource = config.FindResource(name);
  if (resource == nullptr)
    Raise(ERRCODE_INVALID_PARAMETER_VALUE, std::string("unknown resource \"") + name + "\"",
          "Known resources: " + config.ResourceNames() +
              ". An admin adds resources to queue.resources.");
  return *resource;
}

Oid QueueTableOid(const char* name) {
  const Oid schema = get_namespace_oid("queue", true);
  return OidIsValid(schema) ? get_relname_relid(name, schema) : InvalidOid;
}

std::string Config::JobTypeNames() const { return JoinNames(job_types); }
std::string Config::ResourceNames() const { return JoinNames(resources); }

const Config& RefreshConfig() {
  if (!callback_registered) {
    CacheRegisterRelcacheCallback(OnRelcacheInvalidation, 0);
    callback_registered = true;
  }
  if (!cache_valid) {
    // Mark valid first: an invalidation arriving while we read wins.
    cache_valid = true;
    try {
      PgCall([] { LoadConfig(cached); });
    } catch (...) {
      cache_valid = false;
      throw;
    }
  }
  return cached;
}

policy::Micros LocalTimeOfDay(const Config& config, TimestampTz at) {
  struct pg_tm tm;
  fsec_t fsec;
  int offset;
  if (timestamp2tm(at, &offset, &tm, &fsec, nullptr, config.timezone) != 0)
    Raise(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, "timestamp out of range");
  return ((tm.tm_hour * 60LL + tm.tm_min) * 60 + tm.tm_sec) * policy::kMicrosPerSecond + fsec;
}

bool IsPeakAt(const Config& config, TimestampTz at) {
  return policy::IsPeak(config.peak_windows, LocalTimeOfDay(config, at));
}

int GlobalLimitAt(const Config& config, TimestampTz at) {
  double multiplier = policy::PeakMultiplier(config.peak_windows, LocalTimeOfDay(config, at));
  return policy::ScaledLimit(config.max_concurrent, multiplier, true);
}

int ResourceLimitAt(const Config& config, const ResourceConfig& resource, TimestampTz at) {
  double multiplier = policy::PeakMultiplier(config.peak_windows, LocalTimeOfDay(config, at));
  return policy::ScaledLimit(resource.max_concurrent, multiplier, resource.peak_scaling);
}

}  // namespace queue
