// Reconnect backoff: capped exponential delays with jitter, as a pure function,
// so every client waits the same way and a test can pin the random draw.
#pragma once

#include <chrono>

namespace client {

struct Backoff {
  std::chrono::milliseconds first{250};  // delay before the first retry, before jitter
  std::chrono::milliseconds cap{30000};  // no delay is longer than this
};

// The delay before retry number `retry` (1 for the first): first * 2^(retry-1),
// capped, then scaled into [half, all] of itself by `unit_random` in [0, 1], so
// clients that lost the same server do not come back in lockstep. Values out of
// range are clamped (retry below 1 counts as 1).
std::chrono::milliseconds BackoffDelay(const Backoff& backoff, int retry, double unit_random);

}  // namespace client
