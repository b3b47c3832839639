// Retries: whether a failed attempt is tried again, and after how long. Attempts are
// numbered from 1; after attempt n fails the job waits delay * backoff^(n-1), capped
// at max_delay (5, 10, 20 minutes for the defaults delay 5 min, backoff 2).
#pragma once

#include <limits>
#include <optional>
#include <string>

#include "queue/policy/pure.hpp"
#include "queue/policy/time.hpp"

namespace queue::policy {

// A cap for RetryPolicy::max_delay that never caps.
constexpr Micros kNoMaxDelay = std::numeric_limits<Micros>::max();

struct RetryPolicy {
  Micros delay;      // wait after the first failed attempt, >= 0
  double backoff;    // factor between successive waits, finite and >= 1
  Micros max_delay;  // cap on any wait, >= 0; kNoMaxDelay for none
};

// Return the delay before the next attempt after attempt `failed_attempt` (1-based)
// failed: delay * backoff^(failed_attempt-1), capped at max_delay, saturating (no
// overflow, no NaN for huge attempts). Attempts below 1 count as 1; a negative delay or
// cap counts as 0, a NaN or negative backoff as 1.
Micros RetryDelay(const RetryPolicy& policy, int failed_attempt);

// Tell whether a failed attempt is retried: retryable and attempts < max_attempts.
bool ShouldRetry(int attempts, int max_attempts, bool retryable);

// Convert a max_retries setting (retries after the first attempt) to max_attempts;
// a negative count counts as 0, saturating at INT_MAX.
int MaxAttemptsForRetries(int max_retries);

// Explain why a retry policy is invalid, or return std::nullopt if it is valid. The
// text is in errmsg style (lower case, no final period).
std::optional<std::string> ValidateRetryPolicy(const RetryPolicy& policy);

}  // namespace queue::policy
