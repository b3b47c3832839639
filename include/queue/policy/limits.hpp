// Concurrency limits: how many renders may run at once, globally and per resource
// (render engine class such as manim), and how many jobs one dequeue call may claim.
// A limit "scales" when it follows the peak multiplier (resources.peak_scaling).
#pragma once

#include <cstdint>

#include "queue/policy/pure.hpp"

namespace queue::policy {

// Return the effective limit: floor(base * multiplier) when the limit scales, with a
// small relative tolerance so 10 * 1.5 == 15 and 45 * 1.4 == 63 exactly; base itself
// when it does not. Saturates at INT32_MAX and is never negative (a negative base
// counts as 0); a NaN multiplier counts as 1, a non-positive one gives 0.
int ScaledLimit(int base, double multiplier, bool scales);

// Return how many jobs a dequeue call may try to claim:
// min(requested, worker_free, limit - running), never below 0. Running counts above
// the limit (an admin lowered it) give 0; a negative running count counts as 0.
int AdmissibleCount(int requested, int worker_free, int limit, std::int64_t running);

// Return how many jobs a registered worker may hold at once: its capacity, but when
// the live workers' capacities add up to more than the limit, only its share of the
// limit in proportion to its capacity, rounded up (at least 1). So a fast-polling
// worker cannot take the slots a larger neighbour is entitled to.
int FairShare(int limit, int capacity, std::int64_t live_capacity);

// Return how many jobs a registered worker may hold now. Its fair share is a
// guarantee, not a cap: while another live worker is waiting for slots (one
// of its claims came back short because of the limits, recently), a worker
// holds at most its share, so every waiting worker gets at least its own;
// while nobody else waits, it may burst up to its capacity (the global limit
// still applies to the sum).
int WorkerAllowance(int limit, int capacity, std::int64_t live_capacity, bool others_waiting);

}  // namespace queue::policy
