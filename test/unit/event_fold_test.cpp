// The monitoring pass's fold of a slice of job events.
#include "queue/policy/event_fold.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace queue::policy {
namespace {

constexpr Micros kMinute = kMicrosPerMinute;

FoldEvent Event(std::int64_t id, std::optional<JobStatus> from, JobStatus to, Micros at = 0) {
  FoldEvent event;
  event.id = id;
  event.at = at;
  event.minute = at / kMinute * kMinute;
  event.from = from;
  event.to = to;
  event.job_type = "doubt";
  event.worker_id = "w1";
  return event;
}

FoldEvent Enqueue(std::int64_t id, Micros at = 0) { return Event(id, std::nullopt, JobStatus::kQueued, at); }

FoldEvent AttemptEnd(std::int64_t id, JobStatus to, Micros at, const char* worker = "w1") {
  FoldEvent event = Event(id, JobStatus::kProcessing, to, at);
  event.worker_id = worker;
  return event;
}

TEST(FoldEvents, CountsEachTransitionInItsMinuteAndJobType) {
  FoldEvent claim = Event(2, JobStatus::kQueued, JobStatus::kProcessing, 10);
  claim.wait_seconds = 4;
  FoldEvent done = AttemptEnd(3, JobStatus::kCompleted, kMinute + 5);
  done.run_seconds = 50;
  FoldEvent timed_out = AttemptEnd(4, JobStatus::kRetrying, kMinute + 6);
  timed_out.timed_out_detail = true;
  FoldEvent cancelled = Event(5, JobStatus::kQueued, JobStatus::kCancelled, kMinute + 7);
  cancelled.job_type = "daily_ca";
  EventFold fold = FoldEvents({Enqueue(1), claim, done, timed_out, cancelled}, 0);

  EXPECT_EQ(fold.folded, 5);
  EXPECT_EQ(fold.last_id, 5);
  ASSERT_EQ(fold.minutes.size(), 2u);
  EXPECT_EQ(fold.minutes[0].minute, 0);
  EXPECT_EQ(fold.minutes[0].counts.enqueued, 1);
  EXPECT_EQ(fold.minutes[0].counts.started, 1);
  EXPECT_EQ(fold.minutes[0].wait_seconds_sum, 4);
  EXPECT_EQ(fold.minutes[0].wait_count, 1);
  EXPECT_EQ(fold.minutes[1].minute, kMinute);
  EXPECT_EQ(fold.minutes[1].counts.completed, 1);
  EXPECT_EQ(fold.minutes[1].counts.retried, 1);
  EXPECT_EQ(fold.minutes[1].counts.timed_out, 1);
  EXPECT_EQ(fold.minutes[1].counts.cancelled, 1);
  EXPECT_EQ(fold.minutes[1].counts.failed, 0);

  ASSERT_EQ(fold.job_types.size(), 2u);
  EXPECT_EQ(fold.job_types[0].job_type, "daily_ca");
  EXPECT_EQ(fold.job_types[0].counts.cancelled, 1);
  const JobTypeFold& doubt = fold.job_types[1];
  EXPECT_EQ(doubt.counts.enqueued, 1);
  EXPECT_EQ(doubt.counts.started, 1);
  EXPECT_EQ(doubt.waits, std::vector<double>{4});
  EXPECT_EQ(doubt.runs, std::vector<double>{50});
  EXPECT_EQ(doubt.run_sum, 50);
}

TEST(FoldEvents, ATimeoutCountsOnlyWhenAnAttemptEnds) {
  FoldEvent cancel = Event(1, JobStatus::kQueued, JobStatus::kCancelled);
  cancel.timed_out_detail = true;  // the detail alone does not make a timeout
  EventFold fold = FoldEvents({cancel}, 0);
  EXPECT_EQ(fold.minutes[0].counts.timed_out, 0);
}

TEST(FoldEvents, AnEventOfADeletedJobCountsInItsMinuteOnly) {
  FoldEvent orphan = Enqueue(1);
  orphan.job_type.reset();
  EventFold fold = FoldEvents({orphan}, 0);
  EXPECT_EQ(fold.minutes[0].counts.enqueued, 1);
  EXPECT_TRUE(fold.job_types.empty());
}

TEST(FoldEvents, ASuccessRestartsTheStreakFromTheErrorsAfterIt) {
  EventFold fold = FoldEvents({AttemptEnd(1, JobStatus::kRetrying, 100),
                               AttemptEnd(2, JobStatus::kCompleted, 200),
                               AttemptEnd(3, JobStatus::kFailed, 300),
                               AttemptEnd(4, JobStatus::kRetrying, 400),
                               AttemptEnd(5, JobStatus::kRetrying, 500, "w2")},
                              0);
  ASSERT_EQ(fold.streaks.size(), 2u);
  EXPECT_EQ(fold.streaks[0].worker_id, "w1");
  EXPECT_EQ(fold.streaks[0].failures, 2);
  EXPECT_EQ(fold.streaks[0].last_failure_at, 400);
  EXPECT_EQ(fold.streaks[0].last_success_at, 200);
  EXPECT_EQ(fold.streaks[1].worker_id, "w2");
  EXPECT_EQ(fold.streaks[1].failures, 1);
  EXPECT_FALSE(fold.streaks[1].last_success_at);
}

TEST(FoldEvents, OnlyEndedAttemptsWithAWorkerMakeStreaks) {
  FoldEvent nameless = AttemptEnd(1, JobStatus::kFailed, 100);
  nameless.worker_id.reset();
  FoldEvent reclaimed = AttemptEnd(2, JobStatus::kQueued, 200);
  FoldEvent cancelled = AttemptEnd(3, JobStatus::kCancelled, 300);
  EXPECT_TRUE(FoldEvents({nameless, reclaimed, cancelled}, 0).streaks.empty());
}

TEST(FoldEvents, IdsPassedOverBecomeGaps) {
  EventFold fold = FoldEvents({Enqueue(12), Enqueue(13), Enqueue(17)}, 10);
  EXPECT_EQ(fold.new_gaps, (std::vector<IdRange>{{11, 11}, {14, 16}}));
  EXPECT_EQ(fold.last_id, 17);
  EXPECT_TRUE(fold.ranges_seen.empty());
}

TEST(FoldEvents, ARangeWhereEventsTurnedUpLeavesWhatIsStillMissing) {
  const PendingRange first{{3, 9}, 1000, 740};
  const PendingRange second{{20, 21}, 2000, 750};
  const PendingRange third{{24, 28}, 3000};
  FoldEvent late_a = Enqueue(5), late_b = Enqueue(6), late_c = Enqueue(20), late_d = Enqueue(21);
  FoldEvent late_e = Enqueue(25), late_f = Enqueue(28);
  late_a.found_in = late_b.found_in = first;
  late_c.found_in = late_d.found_in = second;
  late_e.found_in = late_f.found_in = third;
  EventFold fold =
      FoldEvents({late_a, late_b, late_c, late_d, late_e, late_f, Enqueue(31)}, 30);
  EXPECT_EQ(fold.ranges_seen, (std::vector<std::int64_t>{3, 20, 24}));
  EXPECT_EQ(fold.still_missing,
            (std::vector<PendingRange>{
                {{3, 4}, 1000, 740}, {{7, 9}, 1000, 740}, {{24, 24}, 3000}, {{26, 27}, 3000}}));
  EXPECT_TRUE(fold.new_gaps.empty());  // late events are not measured against the cursor
  EXPECT_EQ(fold.last_id, 31);
  EXPECT_EQ(fold.folded, 7);
}

TEST(FoldEvents, NothingToFold) {
  EventFold fold = FoldEvents({}, 7);
  EXPECT_EQ(fold.folded, 0);
  EXPECT_FALSE(fold.last_id);
  EXPECT_TRUE(fold.minutes.empty() && fold.new_gaps.empty());
}

}  // namespace
}  // namespace queue::policy
