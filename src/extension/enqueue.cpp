// queue.enqueue(): add a job, or find the unfinished job holding its dedupe key.
#include "queue/arguments.hpp"
#include "queue/boundary.hpp"
#include "queue/config.hpp"
#include "queue/enums.hpp"
#include "queue/notify.hpp"
#include "queue/resource_locks.hpp"
#include "queue/shared_counters.hpp"
#include "queue/spi.hpp"

namespace queue {

namespace {

enum EnqueueArg { kJobType, kPayload, kUserId, kPriority, kResource, kRunAt, kDedupeKey };

// Insert a job and its first audit row. Only a job with a dedupe key needs
// the (costlier) speculative insertion of ON CONFLICT.
#define QUEUE_INSERT_JOB(on_conflict)                                                   \
  "WITH inserted AS ("                                                                  \
  "  INSERT INTO queue.jobs (job_type, priority, resource, payload, user_id, owner,"    \
  "                          max_attempts, timeout, run_at, dedupe_key)"                \
  "  VALUES ($1, $2::queue.priority, $3, $4, $5, $6, $7, $8 * interval '1 microsecond'," \
  "          coalesce($9, now()), $10)" on_conflict                                     \
  "  RETURNING id, status),"                                                            \
  " logged AS ("                                                                        \
  "  INSERT INTO queue.job_events (job_id, from_status, to_status, detail)"             \
  "  SELECT id, NULL, status, 'enqueued' FROM inserted)"                                \
  "SELECT id FROM inserted"
#define QUEUE_INSERT_JOB_ARGS                                                            \
  10, {TEXTOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, OIDOID, INT4OID, INT8OID,          \
       TIMESTAMPTZOID, TEXTOID}

SavedPlan insert_job = {QUEUE_INSERT_JOB(""), QUEUE_INSERT_JOB_ARGS, nullptr};

SavedPlan insert_deduplicated_job = {
    QUEUE_INSERT_JOB("  ON CONFLICT (owner, dedupe_key)"
                     "    WHERE dedupe_key IS NOT NULL"
                     "      AND status IN ('queued', 'retrying', 'processing')"
                     "    DO NOTHING"),
    QUEUE_INSERT_JOB_ARGS, nullptr};

#undef QUEUE_INSERT_JOB
#undef QUEUE_INSERT_JOB_ARGS

// Dedupe keys are scoped to the enqueuing role: another role's key neither
// hides a job nor hands out another role's job id.
SavedPlan find_deduplicated = {
    "SELECT id FROM queue.jobs WHERE owner = $1 AND dedupe_key = $2"
    " AND status IN ('queued', 'retrying', 'processing')",
    2,
    {OIDOID, TEXTOID},
    nullptr};

// The job type's row, or an error listing the known types.
const JobTypeConfig& RequireJobType(const Config& config, const char* name) {
  const JobTypeConfig* type = config.FindJobType(name);
  if (type == nullptr)
    Raise(
        ERRCODE_INVALID_PARAMETER_VALUE, std::string("unknown job type \"") + name + "\"",
        "Known job types: " + config.JobTypeNames() + ". An admin adds types to queue.job_types.");
  return *type;
}

Datum Enqueue(FunctionCallInfo fcinfo) {
  const Config& config = RefreshConfig();
  char* job_type = RequiredText(fcinfo, kJobType, "job_type", NAMEDATALEN - 1);
  const JobTypeConfig& type = RequireJobType(config, job_type);

  RequireArgument(fcinfo, kPayload, "payload");
  Datum payload = PG_GETARG_DATUM(kPayload);
  RequireDocumentSize(payload, "payload", config.max_payload_bytes,
                      "Pass a reference to large data, or raise queue.settings.max_payload_bytes.");
  char* user_id = OptionalText(fcinfo, kUserId, "user_id", kMaxIdLength);
  policy::Priority priority =
      PG_ARGISNULL(kPriority) ? type.priority : PriorityFromDatum(PG_GETARG_DATUM(kPriority));

  char* resource = OptionalText(fcinfo, kResource, "resource", NAMEDATALEN - 1);
  if (resource == nullptr && !type.resource.empty()) resource = pstrdup(type.resource.c_str());
  if (resource != nullptr) RequireResource(config, resource);
  if (!PG_ARGISNULL(kRunAt) && TIMESTAMP_NOT_FINITE(PG_GETARG_TIMESTAMPTZ(kRunAt)))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("run_at must be finite"),
                    errhint("Pass NULL to run as soon as possible.")));
  char* dedupe_key = OptionalText(fcinfo, kDedupeKey, "dedupe_key", kMaxIdLength);

  int max_retries = type.max_retries >= 0 ? type.max_retries : config.max_retries;
  policy::Micros timeout = type.timeout > 0 ? type.timeout : config.job_timeout;
  std::string_view priority_name = policy::PriorityName(priority);

  Datum values[10] = {
      CStringGetTextDatum(job_type),
      CStringGetTextDatum(pnstrdup(priority_name.data(), priority_name.size())),
      resource != nullptr ? CStringGetTextDatum(resource) : 0,
      payload,
      user_id != nullptr ? CStringGetTextDatum(user_id) : 0,
      ObjectIdGetDatum(CallingRole()),
      Int32GetDatum(policy::MaxAttemptsForRetries(max_retries)),
      Int64GetDatum(timeout),
      PG_ARGISNULL(kRunAt) ? 0 : PG_GETARG_DATUM(kRunAt),
      dedupe_key != nullptr ? CStringGetTextDatum(dedupe_key) : 0,
  };
  char nulls[10] = {' ',
                    ' ',
                    resource ? ' ' : 'n',
                    ' ',
                    user_id ? ' ' : 'n',
                    ' ',
                    ' ',
                    ' ',
                    PG_ARGISNULL(kRunAt) ? 'n' : ' ',
                    dedupe_key ? ' ' : 'n'};

  // A job's resource is held against a rename or delete to the end of the
  // transaction. The configuration read after that is the one in force:
  // `config` and `type` are not used past this point.
  const Config& current = resource != nullptr ? HoldResourceForEnqueue(resource) : config;
  EnsureCountersValid(current.jobs_relid);
  SpiConnect();
  int64 job_id = 0;
  // A dedupe conflict with a job that finishes before we read it: try again.
  for (int round = 0; job_id == 0; round++) {
    if (round == 3)
      ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                      errmsg("dedupe key \"%s\" keeps changing hands", dedupe_key),
                      errhint("Retry the enqueue.")));
    SavedPlan& insert = dedupe_key != nullptr ? insert_deduplicated_job : insert_job;
    if (SpiRun(insert, values, nulls, SPI_OK_SELECT) == 1) {
      job_id = DatumGetInt64(SpiValueNotNull(0, 1));
      if (PG_ARGISNULL(kRunAt) || PG_GETARG_TIMESTAMPTZ(kRunAt) <= GetCurrentTimestamp())
        NotifyClaimable(job_type);
    } else if (Datum key[2] = {values[5], values[9]};
               SpiRun(find_deduplicated, key, nullptr, SPI_OK_SELECT) == 1) {
      job_id = DatumGetInt64(SpiValueNotNull(0, 1));
    }
  }
  SpiFinish();
  PG_RETURN_INT64(job_id);
}

}  // namespace

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_enqueue, queue::Enqueue)
