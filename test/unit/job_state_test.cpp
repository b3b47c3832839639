// Unit tests for queue/policy/job_state.hpp: names, parsing, dispatch order and the
// full transition table.
#include "queue/policy/job_state.hpp"

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace queue::policy {
namespace {

TEST(PriorityTest, DispatchOrderIsHighMediumLow) {
  EXPECT_LT(static_cast<int>(Priority::kHigh), static_cast<int>(Priority::kMedium));
  EXPECT_LT(static_cast<int>(Priority::kMedium), static_cast<int>(Priority::kLow));
  EXPECT_TRUE(DispatchedBefore(Priority::kHigh, Priority::kMedium));
  EXPECT_TRUE(DispatchedBefore(Priority::kMedium, Priority::kLow));
  EXPECT_TRUE(DispatchedBefore(Priority::kHigh, Priority::kLow));
  EXPECT_FALSE(DispatchedBefore(Priority::kLow, Priority::kHigh));
  EXPECT_FALSE(DispatchedBefore(Priority::kMedium, Priority::kMedium));
}

TEST(PriorityTest, AllPrioritiesAreInDispatchOrder) {
  for (int i = 0; i < kPriorityCount; ++i) {
    EXPECT_EQ(static_cast<int>(kAllPriorities[i]), i);
  }
}

TEST(PriorityTest, NamesMatchSqlEnum) {
  EXPECT_EQ(PriorityName(Priority::kHigh), "high");
  EXPECT_EQ(PriorityName(Priority::kMedium), "medium");
  EXPECT_EQ(PriorityName(Priority::kLow), "low");
  EXPECT_EQ(PriorityName(static_cast<Priority>(kPriorityCount)), "");
  EXPECT_EQ(PriorityName(static_cast<Priority>(-1)), "");
}

TEST(PriorityTest, ParseRoundTrips) {
  for (Priority priority : kAllPriorities) {
    EXPECT_EQ(ParsePriority(PriorityName(priority)), priority);
  }
}

TEST(PriorityTest, ParseRefusesOtherText) {
  EXPECT_EQ(ParsePriority(""), std::nullopt);
  EXPECT_EQ(ParsePriority("High"), std::nullopt);
  EXPECT_EQ(ParsePriority("urgent"), std::nullopt);
  EXPECT_EQ(ParsePriority("high "), std::nullopt);
  EXPECT_EQ(ParsePriority("0"), std::nullopt);
}

TEST(JobStatusTest, NamesMatchSqlEnum) {
  EXPECT_EQ(JobStatusName(JobStatus::kQueued), "queued");
  EXPECT_EQ(JobStatusName(JobStatus::kRetrying), "retrying");
  EXPECT_EQ(JobStatusName(JobStatus::kProcessing), "processing");
  EXPECT_EQ(JobStatusName(JobStatus::kCompleted), "completed");
  EXPECT_EQ(JobStatusName(JobStatus::kFailed), "failed");
  EXPECT_EQ(JobStatusName(JobStatus::kCancelled), "cancelled");
  EXPECT_EQ(JobStatusName(static_cast<JobStatus>(kJobStatusCount)), "");
}

TEST(JobStatusTest, AllStatusesAreInEnumOrder) {
  for (int i = 0; i < kJobStatusCount; ++i) {
    EXPECT_EQ(static_cast<int>(kAllJobStatuses[i]), i);
  }
}

TEST(JobStatusTest, ParseRoundTrips) {
  for (JobStatus status : kAllJobStatuses) {
    EXPECT_EQ(ParseJobStatus(JobStatusName(status)), status);
  }
}

TEST(JobStatusTest, ParseRefusesOtherText) {
  EXPECT_EQ(ParseJobStatus(""), std::nullopt);
  EXPECT_EQ(ParseJobStatus("Queued"), std::nullopt);
  EXPECT_EQ(ParseJobStatus("canceled"), std::nullopt);
  EXPECT_EQ(ParseJobStatus("running"), std::nullopt);
}

TEST(JobStatusTest, FinishedStatuses) {
  EXPECT_FALSE(IsFinished(JobStatus::kQueued));
  EXPECT_FALSE(IsFinished(JobStatus::kRetrying));
  EXPECT_FALSE(IsFinished(JobStatus::kProcessing));
  EXPECT_TRUE(IsFinished(JobStatus::kCompleted));
  EXPECT_TRUE(IsFinished(JobStatus::kFailed));
  EXPECT_TRUE(IsFinished(JobStatus::kCancelled));
}

// Check every (from, to) pair against the lifecycle, allowed and refused alike.
TEST(CanTransitionTest, MatchesLifecycleForEveryPair) {
  using S = JobStatus;
  const std::set<std::pair<S, S>> allowed = {
      {S::kQueued, S::kProcessing},   {S::kQueued, S::kCancelled},  {S::kProcessing, S::kCompleted},
      {S::kProcessing, S::kRetrying}, {S::kProcessing, S::kFailed}, {S::kProcessing, S::kCancelled},
      {S::kProcessing, S::kQueued},   {S::kRetrying, S::kQueued},   {S::kRetrying, S::kCancelled},
  };
  int allowed_seen = 0;
  for (S from : kAllJobStatuses) {
    for (S to : kAllJobStatuses) {
      const bool expected = allowed.count({from, to}) == 1;
      EXPECT_EQ(CanTransition(from, to), expected)
          << JobStatusName(from) << " -> " << JobStatusName(to);
      allowed_seen += expected ? 1 : 0;
    }
  }
  EXPECT_EQ(allowed_seen, 9);
}

TEST(CanTransitionTest, NothingLeavesAFinishedState) {
  for (JobStatus from : kAllJobStatuses) {
    if (!IsFinished(from)) continue;
    for (JobStatus to : kAllJobStatuses) {
      EXPECT_FALSE(CanTransition(from, to)) << JobStatusName(from) << " -> " << JobStatusName(to);
    }
  }
}

TEST(CanTransitionTest, NoStatusMovesToItself) {
  for (JobStatus status : kAllJobStatuses) {
    EXPECT_FALSE(CanTransition(status, status)) << JobStatusName(status);
  }
}

TEST(CanTransitionTest, RefusesValuesOutsideTheEnum) {
  const auto bogus = static_cast<JobStatus>(kJobStatusCount);
  EXPECT_FALSE(CanTransition(bogus, JobStatus::kQueued));
  EXPECT_FALSE(CanTransition(JobStatus::kQueued, bogus));
}

}  // namespace
}  // namespace queue::policy
