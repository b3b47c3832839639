// Resource names held against a rename or delete while jobs are enqueued
// for them.
//
// queue.resource_changed() refuses to delete a resource with unfinished jobs
// and moves them along on a rename; a job enqueued for the resource by a
// transaction that had not committed yet escaped both, and waited forever
// for a resource that was gone. An enqueue now holds the name (a shared lock
// to the end of its transaction); a rename or delete takes it exclusively,
// so each waits for the other (the rename or delete at most lock_timeout,
// or 5 s when that is not set).
#pragma once

#include "queue/config.hpp"

namespace queue {

// Hold `name` for an enqueue, then read the configuration again and require
// the resource in it (an enqueue that waited for a delete finds it gone,
// 22023). Returns the configuration now in force: references taken into the
// one before are no longer valid.
const Config& HoldResourceForEnqueue(const char* name);

}  // namespace queue
