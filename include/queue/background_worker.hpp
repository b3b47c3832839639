// The queue's background processes: the launcher, registered at preload
// (worker_launcher.cpp), and the worker it starts, the server's own clock for
// the queue (background_worker.cpp).
#pragma once

namespace queue {

// Register the worker's launcher with the postmaster; only while preloading.
void RegisterBackgroundWorker();

// The longest wait after failing passes or quick stops of the worker.
constexpr long kMaxBackoffMillis = 60000;

// How often what rarely changes (the extension, the database) is checked again.
constexpr long kIdleCheckMillis = 10000;

// `base` doubled for each repetition after the first, at most `cap`.
long Doubled(long base, int repetitions, long cap);

// Apply a pending SIGHUP; true when there was one.
bool ReloadIfAsked();

}  // namespace queue
