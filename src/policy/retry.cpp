// Retry decisions and the exponential backoff schedule between attempts.
#include "queue/policy/retry.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace queue::policy {

// Return the wait before the next attempt after attempt `failed_attempt` failed.
Micros RetryDelay(const RetryPolicy& policy, int failed_attempt) {
  const Micros cap = std::max<Micros>(policy.max_delay, 0);
  const Micros delay = std::max<Micros>(policy.delay, 0);
  if (delay == 0 || cap == 0) return 0;
  const double backoff = std::isnan(policy.backoff) || policy.backoff < 0.0 ? 1.0 : policy.backoff;
  const int exponent = std::max(failed_attempt, 1) - 1;
  // pow saturates to +inf (or underflows to 0) instead of overflowing; the cap then wins.
  const double wait = static_cast<double>(delay) * std::pow(backoff, exponent);
  if (!(wait < static_cast<double>(cap))) return cap;
  return std::min(RoundToMicros(wait), cap);
}

// Tell whether a failed attempt is retried.
bool ShouldRetry(int attempts, int max_attempts, bool retryable) {
  return retryable && attempts < max_attempts;
}

// Convert a max_retries setting to max_attempts.
int MaxAttemptsForRetries(int max_retries) {
  if (max_retries < 0) return 1;
  if (max_retries == std::numeric_limits<int>::max()) return max_retries;
  return max_retries + 1;
}

// Explain why a retry policy is invalid, or return std::nullopt.
std::optional<std::string> ValidateRetryPolicy(const RetryPolicy& policy) {
  if (policy.delay < 0) return "retry delay must not be negative";
  if (!std::isfinite(policy.backoff) || policy.backoff < 1.0) {
    return "retry backoff must be a finite number of at least 1";
  }
  if (policy.max_delay < 0) return "maximum retry delay must not be negative";
  return std::nullopt;
}

}  // namespace queue::policy
