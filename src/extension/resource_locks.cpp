// Locks on resource names (see resource_locks.hpp).
#include "queue/resource_locks.hpp"

#include "queue/arguments.hpp"
#include "queue/boundary.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "common/hashfn.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
}

namespace queue {

namespace {

// An object lock of this database keyed by queue.resources and the name's
// hash: no SQL command takes such a lock, so no role can hold one to stall
// enqueues. Two names of one hash only wait for each other's changes.
void LockResourceName(Oid resources_relid, const char* name, LOCKMODE mode) {
  const uint32 key = hash_bytes(reinterpret_cast<const unsigned char*>(name),
                                static_cast<int>(strlen(name)));
  LockDatabaseObject(resources_relid, key, 0, mode);
}

// queue.hold_resource_for_change(resource): for queue.resource_changed(),
// before it renames or deletes a resource: waits for the transactions that
// enqueued jobs for it, and keeps new ones out until this one ends.
Datum HoldResourceForChange(FunctionCallInfo fcinfo) {
  const char* name = RequiredText(fcinfo, 0, "resource", NAMEDATALEN - 1);
  const Oid resources = get_relname_relid("resources", get_namespace_oid("queue", false));
  LockResourceName(resources, name, AccessExclusiveLock);
  PG_RETURN_VOID();
}

}  // namespace

const Config& HoldResourceForEnqueue(const char* name) {
  LockResourceName(RefreshConfig().resources_relid, name, AccessShareLock);
  const Config& config = RefreshConfig();
  RequireResource(config, name);
  return config;
}

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_hold_resource_for_change, queue::HoldResourceForChange)
