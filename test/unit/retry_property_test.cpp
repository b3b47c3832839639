// Property tests of queue/policy/retry.hpp over random and extreme inputs: the backoff
// never shrinks from one attempt to the next, never passes its cap, never overflows, and
// follows delay * backoff^(attempt-1) while below the cap.
//
// The seed is fixed so a run is reproducible; set QUEUE_PROPERTY_SEED to explore others.
#include "queue/policy/retry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>

namespace queue::policy {
namespace {

constexpr int kIterations = 200000;
constexpr int kIntMax = std::numeric_limits<int>::max();
constexpr Micros kMicrosMax = std::numeric_limits<Micros>::max();
constexpr Micros kMicrosMin = std::numeric_limits<Micros>::min();

std::uint64_t Seed() {
  const char* text = std::getenv("QUEUE_PROPERTY_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 20261129;
}

std::string Describe(const RetryPolicy& policy) {
  return "{delay " + std::to_string(policy.delay) + ", backoff " + std::to_string(policy.backoff) +
         ", max_delay " + std::to_string(policy.max_delay) + "}";
}

Micros RandomMicros(std::mt19937_64& rng) {
  static const Micros kEdges[] = {kMicrosMin,
                                  -1,
                                  0,
                                  1,
                                  5 * kMicrosPerMinute,
                                  30 * kMicrosPerDay,
                                  365 * kMicrosPerDay,
                                  kMicrosMax - 1,
                                  kMicrosMax};
  switch (rng() % 4) {
    case 0:
      return kEdges[rng() % (sizeof kEdges / sizeof kEdges[0])];
    case 1:
      return static_cast<Micros>(rng() % static_cast<std::uint64_t>(365 * kMicrosPerDay));
    default:
      return static_cast<Micros>(rng());
  }
}

double RandomBackoff(std::mt19937_64& rng) {
  static const double kEdges[] = {1.0,
                                  2.0,
                                  100.0,
                                  1.0000001,
                                  1e300,
                                  std::numeric_limits<double>::max(),
                                  std::numeric_limits<double>::infinity()};
  switch (rng() % 3) {
    case 0:
      return kEdges[rng() % (sizeof kEdges / sizeof kEdges[0])];
    default:
      return std::uniform_real_distribution<double>(1.0, 100.0)(rng);
  }
}

int RandomAttempt(std::mt19937_64& rng) {
  static const int kEdges[] = {
      std::numeric_limits<int>::min(), -1, 0, 1, 2, 64, 1023, 1024, kIntMax - 1, kIntMax};
  switch (rng() % 3) {
    case 0:
      return kEdges[rng() % (sizeof kEdges / sizeof kEdges[0])];
    case 1:
      return static_cast<int>(rng() % 200);
    default:
      return static_cast<int>(static_cast<std::uint32_t>(rng()) >> 1);
  }
}

TEST(RetryDelayPropertyTest, NeverShrinksNeverPassesTheCapNeverNegative) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    const RetryPolicy policy{RandomMicros(rng), RandomBackoff(rng), RandomMicros(rng)};
    int first = RandomAttempt(rng);
    int second = RandomAttempt(rng);
    if (first > second) std::swap(first, second);
    const Micros earlier = RetryDelay(policy, first);
    const Micros later = RetryDelay(policy, second);
    const Micros cap = std::max<Micros>(policy.max_delay, 0);
    ASSERT_GE(earlier, 0) << Describe(policy) << " attempt " << first;
    ASSERT_LE(later, cap) << Describe(policy) << " attempt " << second;
    ASSERT_LE(earlier, later) << Describe(policy) << " attempts " << first << " <= " << second;
    // The first wait is the delay itself (capped); attempts below 1 count as 1. Exact
    // while the delay fits a double's mantissa (2^53 us, 285 years).
    const Micros first_wait = std::min(std::max<Micros>(policy.delay, 0), cap);
    if (first_wait < (Micros{1} << 53)) {
      ASSERT_EQ(RetryDelay(policy, std::min(first, 1)), first_wait) << Describe(policy);
    }
  }
}

TEST(RetryDelayPropertyTest, FollowsTheExponentialBelowTheCap) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  // Within the bounds queue.settings allows: delay <= 30 days, backoff 1..100,
  // max_retry_delay <= 365 days, and at most 101 attempts.
  for (int i = 0; i < kIterations; i++) {
    const RetryPolicy policy{
        static_cast<Micros>(rng() % static_cast<std::uint64_t>(30 * kMicrosPerDay + 1)),
        std::uniform_real_distribution<double>(1.0, 100.0)(rng),
        static_cast<Micros>(rng() % static_cast<std::uint64_t>(365 * kMicrosPerDay + 1))};
    const int attempt = static_cast<int>(1 + rng() % 101);
    const long double exact =
        static_cast<long double>(policy.delay) *
        std::pow(static_cast<long double>(policy.backoff), static_cast<long double>(attempt - 1));
    const Micros got = RetryDelay(policy, attempt);
    if (policy.delay == 0 || policy.max_delay == 0) {
      ASSERT_EQ(got, 0) << Describe(policy);
    } else if (exact >= static_cast<long double>(policy.max_delay)) {
      ASSERT_EQ(got, policy.max_delay) << Describe(policy) << " attempt " << attempt;
    } else {
      // double rounding: within a microsecond and a relative 1e-12 of the exact value.
      ASSERT_LE(std::fabs(static_cast<long double>(got) - exact), 1 + exact * 1e-12L)
          << Describe(policy) << " attempt " << attempt << " exact " << static_cast<double>(exact);
    }
  }
}

TEST(RetryDelayPropertyTest, OddBackoffsAreTreatedAsDocumented) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations / 10; i++) {
    const Micros delay = RandomMicros(rng);
    const Micros cap = RandomMicros(rng);
    const int attempt = RandomAttempt(rng);
    const double odd = rng() % 2 ? std::numeric_limits<double>::quiet_NaN()
                                 : -std::uniform_real_distribution<double>(1e-9, 1e9)(rng);
    // A NaN or negative backoff counts as 1: the delay, capped, whatever the attempt.
    ASSERT_EQ(RetryDelay({delay, odd, cap}, attempt), RetryDelay({delay, 1.0, cap}, 1))
        << "delay " << delay << " backoff " << odd << " cap " << cap << " attempt " << attempt;
  }
}

TEST(RetryPropertyTest, AttemptsAndRetriesAgree) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    const int retries = RandomAttempt(rng);
    const int attempts = RandomAttempt(rng);
    const int max_attempts = MaxAttemptsForRetries(retries);
    ASSERT_GE(max_attempts, 1) << retries;
    ASSERT_EQ(max_attempts, static_cast<int>(std::min<std::int64_t>(
                                std::max(retries, 0) + std::int64_t{1}, kIntMax)))
        << retries;
    // A job with r retries runs at most r + 1 attempts: the attempt numbered a is retried
    // iff a <= r.
    ASSERT_EQ(ShouldRetry(attempts, max_attempts, true), attempts < max_attempts)
        << attempts << " of " << max_attempts;
    ASSERT_FALSE(ShouldRetry(attempts, max_attempts, false));
  }
}

TEST(RetryPropertyTest, ValidationFollowsTheRules) {
  const std::uint64_t seed = Seed();
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    const double backoff = rng() % 4 == 0   ? std::uniform_real_distribution<double>(-2, 1)(rng)
                           : rng() % 8 == 0 ? std::numeric_limits<double>::quiet_NaN()
                                            : RandomBackoff(rng);
    const RetryPolicy policy{RandomMicros(rng), backoff, RandomMicros(rng)};
    const bool valid = policy.delay >= 0 && std::isfinite(policy.backoff) &&
                       policy.backoff >= 1.0 && policy.max_delay >= 0;
    const std::optional<std::string> why = ValidateRetryPolicy(policy);
    ASSERT_EQ(!why.has_value(), valid) << Describe(policy) << " " << why.value_or("");
    if (why) {
      ASSERT_NE(why->back(), '.') << *why;
    }
  }
}

}  // namespace
}  // namespace queue::policy
