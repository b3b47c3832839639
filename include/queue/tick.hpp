// One maintenance pass over the queue, shared by queue.tick() and the
// background worker.
#pragma once

namespace queue {

// What a pass did.
struct TickResult {
  int timed_out;     // attempts past their deadline, ended
  int released;      // retrying jobs whose backoff ran out, queued again
  int dead_workers;  // workers newly marked dead
  int recovered;     // attempts of dead workers, ended
  int pruned;        // finished jobs past retention, deleted
  int alerts;        // alert thresholds crossed now
  bool events_wait;  // the monitoring pass folded a slice, and a whole slice more waits
};

// Lock the extension against DROP EXTENSION until the transaction ends;
// false when it is not installed (any more). Every pass holds it first.
bool HoldExtension();

// Run one pass in the current transaction; it folds one slice of the events
// waiting for the monitoring pass.
TickResult RunTick();

// Fold the next slice of the events waiting, and nothing else, in the current
// transaction (SPI not connected); false when no whole slice waits any more.
bool FoldNextSlice();

}  // namespace queue
