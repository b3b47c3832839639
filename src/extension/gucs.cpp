// Definitions of the queue.* server settings.
#include "queue/gucs.hpp"

#include "queue/pg.hpp"

extern "C" {
#include "utils/guc.h"
}

int queue_max_counters = 65536;
bool queue_enabled = true;
char* queue_database = nullptr;
int queue_tick_interval = 1000;
bool queue_notify = true;

namespace queue {

void DefineSettings() {
  DefineCustomIntVariable(
      "queue.max_counters", "Shared-memory slots for the queue's exact job counters.",
      "Each database using queue needs a few slots plus one per 256 ids of queued jobs "
      "still waiting (per priority), and one more for such ids among which a job is "
      "scheduled for later or retried.",
      &queue_max_counters, 65536, 1024, 16 * 1024 * 1024, PGC_POSTMASTER, 0, nullptr, nullptr,
      nullptr);
  DefineCustomBoolVariable("queue.enabled", "Runs the queue background worker's maintenance ticks.",
                           "When off, schedule SELECT queue.tick() with pg_cron instead.",
                           &queue_enabled, true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomStringVariable("queue.database", "Database whose queue the background worker serves.",
                             nullptr, &queue_database, "postgres", PGC_POSTMASTER, 0, nullptr,
                             nullptr, nullptr);
  DefineCustomIntVariable("queue.tick_interval", "Time between background maintenance ticks.",
                          nullptr, &queue_tick_interval, 1000, 10, 3600 * 1000, PGC_SIGHUP,
                          GUC_UNIT_MS, nullptr, nullptr, nullptr);
  DefineCustomBoolVariable(
      "queue.notify", "Sends NOTIFY queue_jobs when jobs become claimable.",
      "At most one notification per transaction; turn off when no render worker listens.",
      &queue_notify, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  MarkGUCPrefixReserved("queue");
}

}  // namespace queue
