// queue.workers rows kept per backend (see registered_workers.hpp).
#include "queue/registered_workers.hpp"

#include "queue/ledger.hpp"
#include "queue/shared_counters.hpp"
#include "queue/spi.hpp"

#include <unordered_map>
#include <utility>

extern "C" {
#include "access/xact.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
}

namespace queue {

namespace {

// How long a kept row may be used without a generation change.
constexpr policy::Micros kMaxCachedAge = policy::kMicrosPerSecond;

// At most this many rows are kept: all are dropped when one more would
// exceed it.
constexpr size_t kMaxCachedWorkers = 1000;

SavedPlan read_worker = {
    "SELECT state::text, capacity, resources, owner, last_heartbeat"
    " FROM queue.workers WHERE worker_id = $1",
    1,
    {TEXTOID},
    nullptr};

struct CachedWorker {
  RegisteredWorker row;
  uint64 generation;    // WorkersGeneration() before the row was read
  TimestampTz read_at;  // start of the transaction that read it
};

std::unordered_map<std::string, CachedWorker> cache;
RegisteredWorker uncached;                                  // the last row read afresh
LocalTransactionId changed_in = InvalidLocalTransactionId;  // see WorkersChanged

// The row of the last read_worker run (none: not registered).
RegisteredWorker RowFromResult(uint64 rows) {
  if (rows == 0) return RegisteredWorker{};
  // Everything is read from PostgreSQL first, into palloc'd memory: an error
  // there must not skip the destructor of a C++ object.
  char* state = SpiText(0, 1);
  int32 capacity = DatumGetInt32(SpiValueNotNull(0, 2));
  bool any_resource = false;
  Datum resources = SpiValue(0, 3, &any_resource);
  char** names = nullptr;
  int count = 0;
  if (!any_resource) {
    Datum* elements;
    bool* nulls;
    int elements_count;
    deconstruct_array(DatumGetArrayTypeP(resources), TEXTOID, -1, false, TYPALIGN_INT, &elements,
                      &nulls, &elements_count);
    names = static_cast<char**>(palloc(sizeof(char*) * (elements_count + 1)));
    for (int i = 0; i < elements_count; i++)
      if (!nulls[i]) names[count++] = TextDatumGetCString(elements[i]);
  }
  bool no_owner = false;
  Datum owner = SpiValue(0, 4, &no_owner);
  TimestampTz last_heartbeat = DatumGetTimestampTz(SpiValueNotNull(0, 5));

  RegisteredWorker worker;
  worker.registered = true;
  worker.draining = strcmp(state, "draining") == 0;
  worker.dead = strcmp(state, "dead") == 0;
  worker.capacity = capacity;
  worker.owner = no_owner ? InvalidOid : DatumGetObjectId(owner);
  worker.any_resource = any_resource;
  worker.resources.assign(names, names + count);
  worker.last_heartbeat = last_heartbeat;
  return worker;
}

}  // namespace

const RegisteredWorker& LookUpWorker(const char* worker_id) {
  uint64 generation = WorkersGeneration();
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  // A REPEATABLE READ snapshot may predate the generation just read: what it
  // reads is not kept.
  bool may_keep = changed_in != MyProc->lxid && !IsolationUsesXactSnapshot();
  if (may_keep) {
    auto found = cache.find(worker_id);
    if (found != cache.end() && found->second.generation == generation &&
        now - found->second.read_at < kMaxCachedAge)
      return found->second.row;
  }
  Datum id = CStringGetTextDatum(worker_id);
  uint64 rows = SpiRun(read_worker, &id, nullptr, SPI_OK_SELECT);
  if (!may_keep) {
    uncached = RowFromResult(rows);
    return uncached;
  }
  RegisteredWorker row = RowFromResult(rows);
  if (cache.size() >= kMaxCachedWorkers) cache.clear();
  CachedWorker& kept = cache[worker_id];
  kept = CachedWorker{std::move(row), generation, now};
  return kept.row;
}

void WorkersChanged() {
  changed_in = MyProc->lxid;
  cache.clear();
  BumpWorkersGenerationAtCommit();
}

}  // namespace queue
