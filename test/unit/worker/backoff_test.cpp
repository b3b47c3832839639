// Reconnect backoff (src/client): capped, exponential, jittered.
#include "client/backoff.hpp"

#include <gtest/gtest.h>

namespace client {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DoublesFromTheFirstDelayUpToTheCap) {
  const Backoff backoff{milliseconds(250), milliseconds(30000)};
  EXPECT_EQ(BackoffDelay(backoff, 1, 1.0), milliseconds(250));
  EXPECT_EQ(BackoffDelay(backoff, 2, 1.0), milliseconds(500));
  EXPECT_EQ(BackoffDelay(backoff, 7, 1.0), milliseconds(16000));
  EXPECT_EQ(BackoffDelay(backoff, 8, 1.0), milliseconds(30000));
  EXPECT_EQ(BackoffDelay(backoff, 1000, 1.0), milliseconds(30000));
}

TEST(Backoff, JitterSpreadsOverTheUpperHalf) {
  const Backoff backoff{milliseconds(1000), milliseconds(8000)};
  EXPECT_EQ(BackoffDelay(backoff, 3, 0.0), milliseconds(2000));
  EXPECT_EQ(BackoffDelay(backoff, 3, 0.5), milliseconds(3000));
  EXPECT_EQ(BackoffDelay(backoff, 3, 1.0), milliseconds(4000));
  EXPECT_EQ(BackoffDelay(backoff, 50, 0.0), milliseconds(4000));
}

TEST(Backoff, OutOfRangeInputsAreClamped) {
  const Backoff backoff{milliseconds(100), milliseconds(1000)};
  EXPECT_EQ(BackoffDelay(backoff, 0, 1.0), milliseconds(100));
  EXPECT_EQ(BackoffDelay(backoff, -5, 1.0), milliseconds(100));
  EXPECT_EQ(BackoffDelay(backoff, 2, 7.0), milliseconds(200));
  EXPECT_EQ(BackoffDelay(backoff, 2, -1.0), milliseconds(100));
  EXPECT_EQ(BackoffDelay({milliseconds(-5), milliseconds(1000)}, 3, 1.0), milliseconds(0));
}

}  // namespace
}  // namespace client
