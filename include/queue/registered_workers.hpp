// queue.workers rows as dequeue() reads them, kept per backend.
//
// Every claim needs its worker's registration, and reading the row costs the
// claim path a statement (executor start-up and all) for a row that changes
// every few seconds at most. A backend keeps the rows it read until
// queue.workers changes: a statement trigger on the table bumps a shared
// generation when the changing transaction commits, after the change is
// visible, so a backend that sees the new generation reads the new rows.
// A change whose commit this backend never sees (a prepared transaction
// committed elsewhere, a change made with the trigger disabled) is read
// within kMaxCachedAge all the same.
#pragma once

#include "queue/pg.hpp"

#include <string>
#include <vector>

namespace queue {

struct RegisteredWorker {
  bool registered = false;  // false: no row, every other field unset
  bool draining = false;
  bool dead = false;
  int capacity = 0;
  Oid owner = InvalidOid;    // none recorded (registered before 1.1)
  bool any_resource = true;  // resources IS NULL
  std::vector<std::string> resources;
  TimestampTz last_heartbeat = 0;
};

// The registration of `worker_id`, from this backend's copy while it is
// current. Call with SPI connected.
const RegisteredWorker& LookUpWorker(const char* worker_id);

// Refuse (42501) a worker id under which a role the caller may not act for
// runs attempts: an id used without registration still belongs to the roles
// whose jobs it runs, so nobody else may claim under it (sharing its running
// count) or register it (locking them out of it). Call with SPI connected.
void RequireNoForeignAttempts(const char* worker_id);

// From the trigger on queue.workers: this transaction changed the table.
// Until it ends, this backend reads rows afresh (it sees its own changes,
// which may yet roll back); at commit, every backend's copies go.
void WorkersChanged();

}  // namespace queue
