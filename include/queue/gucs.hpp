// Server settings (GUCs) under the queue.* prefix.
#pragma once

extern "C" {
extern int queue_max_counters;   // shared counter slots (postmaster)
extern bool queue_enabled;       // run the background worker's ticks
extern char* queue_database;     // database the background worker serves
extern int queue_tick_interval;  // milliseconds between background ticks
extern bool queue_notify;        // NOTIFY render workers when jobs become claimable
}

namespace queue {

// Define every queue.* setting and reserve the prefix.
void DefineSettings();

}  // namespace queue
