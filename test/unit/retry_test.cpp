// Unit tests for queue/policy/retry.hpp: the backoff schedule, its cap and
// saturation, retry decisions and policy validation.
#include "queue/policy/retry.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace queue::policy {
namespace {

constexpr Micros kMax = std::numeric_limits<Micros>::max();
constexpr int kIntMax = std::numeric_limits<int>::max();
constexpr Micros kMinute = 60 * kMicrosPerSecond;

// The defaults: retry_delay 5 min, retry_backoff 2.0, no cap.
constexpr RetryPolicy kDefault{5 * kMinute, 2.0, kNoMaxDelay};

TEST(RetryDelayTest, DefaultScheduleDoubles) {
  EXPECT_EQ(RetryDelay(kDefault, 1), 5 * kMinute);
  EXPECT_EQ(RetryDelay(kDefault, 2), 10 * kMinute);
  EXPECT_EQ(RetryDelay(kDefault, 3), 20 * kMinute);
  EXPECT_EQ(RetryDelay(kDefault, 4), 40 * kMinute);
}

TEST(RetryDelayTest, AttemptsBelowOneCountAsOne) {
  EXPECT_EQ(RetryDelay(kDefault, 0), 5 * kMinute);
  EXPECT_EQ(RetryDelay(kDefault, -7), 5 * kMinute);
  EXPECT_EQ(RetryDelay(kDefault, std::numeric_limits<int>::min()), 5 * kMinute);
}

TEST(RetryDelayTest, CappedAtMaxDelay) {
  const RetryPolicy policy{5 * kMinute, 2.0, 15 * kMinute};
  EXPECT_EQ(RetryDelay(policy, 1), 5 * kMinute);
  EXPECT_EQ(RetryDelay(policy, 2), 10 * kMinute);
  EXPECT_EQ(RetryDelay(policy, 3), 15 * kMinute);
  EXPECT_EQ(RetryDelay(policy, 100), 15 * kMinute);
  EXPECT_EQ(RetryDelay({5 * kMinute, 2.0, 1 * kMinute}, 1), 1 * kMinute);
  EXPECT_EQ(RetryDelay({5 * kMinute, 2.0, 20 * kMinute}, 3), 20 * kMinute);
}

TEST(RetryDelayTest, HugeAttemptsSaturate) {
  EXPECT_EQ(RetryDelay(kDefault, 62), kMax);
  EXPECT_EQ(RetryDelay(kDefault, 1000), kMax);
  EXPECT_EQ(RetryDelay(kDefault, kIntMax), kMax);
  EXPECT_EQ(RetryDelay({kMax, 2.0, kNoMaxDelay}, 2), kMax);
  EXPECT_EQ(RetryDelay({kMax, 1.0, kNoMaxDelay}, kIntMax), kMax);
  const RetryPolicy capped{5 * kMinute, 2.0, 6 * 3600 * kMicrosPerSecond};
  EXPECT_EQ(RetryDelay(capped, kIntMax), capped.max_delay);
}

TEST(RetryDelayTest, ScheduleNeverDecreasesWithBackoffAtLeastOne) {
  for (double backoff : {1.0, 1.5, 2.0, 10.0}) {
    const RetryPolicy policy{kMicrosPerSecond, backoff, kNoMaxDelay};
    Micros previous = 0;
    for (int attempt = 1; attempt <= 200; ++attempt) {
      const Micros delay = RetryDelay(policy, attempt);
      EXPECT_GE(delay, previous) << "backoff " << backoff << " attempt " << attempt;
      previous = delay;
    }
  }
}

TEST(RetryDelayTest, ConstantAndFractionalBackoff) {
  EXPECT_EQ(RetryDelay({30 * kMicrosPerSecond, 1.0, kNoMaxDelay}, 9), 30 * kMicrosPerSecond);
  EXPECT_EQ(RetryDelay({4 * kMicrosPerSecond, 1.5, kNoMaxDelay}, 3), 9 * kMicrosPerSecond);
}

TEST(RetryDelayTest, OutOfRangeInputsGiveDefinedResults) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(RetryDelay({0, 2.0, kNoMaxDelay}, 5), 0);
  EXPECT_EQ(RetryDelay({-kMinute, 2.0, kNoMaxDelay}, 5), 0);
  EXPECT_EQ(RetryDelay({kMinute, 2.0, -1}, 5), 0);
  EXPECT_EQ(RetryDelay({kMinute, nan, kNoMaxDelay}, 5), kMinute);
  EXPECT_EQ(RetryDelay({kMinute, -2.0, kNoMaxDelay}, 5), kMinute);
  EXPECT_EQ(RetryDelay({kMinute, std::numeric_limits<double>::infinity(), kNoMaxDelay}, 2), kMax);
}

TEST(ShouldRetryTest, RetriesWhileAttemptsRemain) {
  EXPECT_TRUE(ShouldRetry(1, 3, true));
  EXPECT_TRUE(ShouldRetry(2, 3, true));
  EXPECT_FALSE(ShouldRetry(3, 3, true));
  EXPECT_FALSE(ShouldRetry(4, 3, true));
}

TEST(ShouldRetryTest, NeverRetriesANonRetryableError) {
  EXPECT_FALSE(ShouldRetry(1, 3, false));
  EXPECT_FALSE(ShouldRetry(0, kIntMax, false));
}

TEST(ShouldRetryTest, Boundaries) {
  EXPECT_FALSE(ShouldRetry(1, 1, true));
  EXPECT_FALSE(ShouldRetry(1, 0, true));
  EXPECT_FALSE(ShouldRetry(0, 0, true));
  EXPECT_TRUE(ShouldRetry(0, 1, true));
  EXPECT_TRUE(ShouldRetry(kIntMax - 1, kIntMax, true));
  EXPECT_FALSE(ShouldRetry(kIntMax, kIntMax, true));
}

TEST(MaxAttemptsForRetriesTest, AddsTheFirstAttempt) {
  EXPECT_EQ(MaxAttemptsForRetries(3), 4);
  EXPECT_EQ(MaxAttemptsForRetries(0), 1);
  EXPECT_EQ(MaxAttemptsForRetries(-1), 1);
  EXPECT_EQ(MaxAttemptsForRetries(kIntMax), kIntMax);
  // max_retries 3 with the default schedule: waits 5, 10, 20 min, then failed.
  const int max_attempts = MaxAttemptsForRetries(3);
  EXPECT_TRUE(ShouldRetry(3, max_attempts, true));
  EXPECT_FALSE(ShouldRetry(4, max_attempts, true));
}

TEST(ValidateRetryPolicyTest, AcceptsValidPolicies) {
  EXPECT_EQ(ValidateRetryPolicy(kDefault), std::nullopt);
  EXPECT_EQ(ValidateRetryPolicy({0, 1.0, 0}), std::nullopt);
  EXPECT_EQ(ValidateRetryPolicy({kMinute, 3.5, kMinute / 2}), std::nullopt);
}

// Expect the policy to be refused with an explanation mentioning `word`.
void ExpectRefused(const RetryPolicy& policy, const std::string& word) {
  const std::optional<std::string> why = ValidateRetryPolicy(policy);
  ASSERT_TRUE(why.has_value()) << word;
  EXPECT_NE(why->find(word), std::string::npos) << *why;
}

TEST(ValidateRetryPolicyTest, ExplainsInvalidPolicies) {
  ExpectRefused({-1, 2.0, kNoMaxDelay}, "delay");
  ExpectRefused({kMinute, 0.5, kNoMaxDelay}, "backoff");
  ExpectRefused({kMinute, std::numeric_limits<double>::infinity(), kNoMaxDelay}, "backoff");
  ExpectRefused({kMinute, std::numeric_limits<double>::quiet_NaN(), kNoMaxDelay}, "backoff");
  ExpectRefused({kMinute, 2.0, -1}, "maximum");
}

}  // namespace
}  // namespace queue::policy
