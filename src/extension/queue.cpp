// The queue module: a render-farm job scheduler inside PostgreSQL.
//
// Preloading the module (shared_preload_libraries) defines its settings,
// reserves the shared counters and starts the background worker. Each concern lives in its own
// file; this one only wires them up.
#include "queue/boundary.hpp"
#include "queue/background_worker.hpp"
#include "queue/gucs.hpp"
#include "queue/ledger.hpp"
#include "queue/notify.hpp"
#include "queue/own_plans.hpp"
#include "queue/shared_counters.hpp"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void) {
  // Loaded later (LOAD, or CREATE EXTENSION without the preload), the module
  // sets nothing up: its functions then refuse to run, with a hint.
  if (!process_shared_preload_libraries_in_progress) return;
  queue::Guard([] {
    queue::DefineSettings();
    queue::RegisterLedgerCallbacks();
    queue::RequestSharedCounters();
    queue::RequestNotifyRelay();
    queue::InstallOwnPlans();
    queue::RegisterBackgroundWorker();
    return static_cast<Datum>(0);
  });
}

PG_FUNCTION_INFO_V1(queue_require_preload);
// Refuse CREATE EXTENSION unless the library was preloaded.
Datum queue_require_preload(PG_FUNCTION_ARGS) {
  return queue::Guard([] {
    queue::RequireSharedCounters();
    PG_RETURN_VOID();
  });
}
}
