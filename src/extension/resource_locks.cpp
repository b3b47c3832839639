// Locks on resource names (see resource_locks.hpp).
#include "queue/resource_locks.hpp"

#include "queue/arguments.hpp"
#include "queue/boundary.hpp"
#include "queue/spi.hpp"

extern "C" {
#include "access/xact.h"
#include "common/hashfn.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/guc.h"
}

namespace queue {

namespace {

// How long a rename or delete waits for the transactions enqueuing for the
// resource when lock_timeout is not set: while it waits, later enqueues for
// the resource queue behind it, so one transaction left open must not hold
// them (and the admin) for longer.
constexpr const char* kChangeLockTimeout = "5s";

// An object lock of this database keyed by queue.resources and the name's
// hash: no SQL command takes such a lock, so no role can hold one to stall
// enqueues. Two names of one hash only wait for each other's changes.
void LockResourceName(Oid resources_relid, const char* name, LOCKMODE mode) {
  const uint32 key = hash_bytes(reinterpret_cast<const unsigned char*>(name),
                                static_cast<int>(strlen(name)));
  LockDatabaseObject(resources_relid, key, 0, mode);
}

SavedPlan resource_exists = {
    "SELECT 1 FROM queue.resources WHERE resource = $1", 1, {TEXTOID}, nullptr};

// queue.hold_resource_for_change(resource): for queue.resource_changed(),
// before it renames or deletes a resource: waits for the transactions that
// enqueued jobs for it (at most lock_timeout, or kChangeLockTimeout when that
// is not set: 55P03), and keeps new ones out until this one ends.
Datum HoldResourceForChange(FunctionCallInfo fcinfo) {
  const char* name = RequiredText(fcinfo, 0, "resource", NAMEDATALEN - 1);
  const Oid resources = QueueTableOid("resources");
  const int nest_level = NewGUCNestLevel();
  if (LockTimeout == 0)
    (void)set_config_option("lock_timeout", kChangeLockTimeout, PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_SAVE, true, 0, false);
  LockResourceName(resources, name, AccessExclusiveLock);
  AtEOXact_GUC(true, nest_level);
  PG_RETURN_VOID();
}

}  // namespace

const Config& HoldResourceForEnqueue(const char* name) {
  LockResourceName(RefreshConfig().resources_relid, name, AccessShareLock);
  const Config& config = RefreshConfig();
  RequireResource(config, name);
  // A REPEATABLE READ transaction read the configuration as of its start;
  // a rename or delete committed since (while this one waited, say) is
  // found in the table as it is now.
  if (IsolationUsesXactSnapshot()) {
    SpiConnect();
    Datum resource = CStringGetTextDatum(name);
    const bool exists = SpiRunOnLatestSnapshot(resource_exists, SPI_OK_SELECT, &resource) == 1;
    SpiFinish();
    if (!exists)
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                      errmsg("unknown resource \"%s\"", name),
                      errhint("An admin renamed it or removed it from queue.resources after this "
                              "transaction began.")));
  }
  return config;
}

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_hold_resource_for_change, queue::HoldResourceForChange)
