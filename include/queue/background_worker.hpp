// The queue background worker: the server's own clock for the queue.
#pragma once

namespace queue {

// Register the worker with the postmaster; only while preloading.
void RegisterBackgroundWorker();

}  // namespace queue
