// The exit-code contract.
#include "worker/outcome.hpp"

#include <signal.h>

#include <gtest/gtest.h>

namespace worker {
namespace {

ProcessEnd Exited(int code) { return ProcessEnd{true, code, 0}; }
ProcessEnd Killed(int signal) { return ProcessEnd{false, 0, signal}; }

TEST(Outcome, ExitZeroCompletesWithJsonStdoutAsTheResult) {
  Report report =
      MapOutcome(Exited(0), StopReason::kNone, {}, " {\"url\": \"s3://v/1.mp4\"}\n", "");
  EXPECT_TRUE(report.complete);
  EXPECT_EQ(report.result, "{\"url\": \"s3://v/1.mp4\"}");
}

TEST(Outcome, ExitZeroWithOtherStdoutCompletesWithoutAResult) {
  EXPECT_EQ(MapOutcome(Exited(0), StopReason::kNone, {}, "rendered 120 frames", "").result,
            std::nullopt);
  EXPECT_EQ(MapOutcome(Exited(0), StopReason::kNone, {}, "{\"truncated\": ", "").result,
            std::nullopt);
  EXPECT_EQ(MapOutcome(Exited(0), StopReason::kNone, {}, "", "").result, std::nullopt);
  EXPECT_TRUE(MapOutcome(Exited(0), StopReason::kNone, {}, "", "").complete);
}

TEST(Outcome, NonZeroExitFailsRetryablyWithTheStderrTail) {
  Report report =
      MapOutcome(Exited(3), StopReason::kNone, {65}, "", "frame 1\nffmpeg: broken pipe\n");
  EXPECT_FALSE(report.complete);
  EXPECT_TRUE(report.retryable);
  EXPECT_EQ(report.error, "exit 3: frame 1\nffmpeg: broken pipe");
}

TEST(Outcome, PermanentExitCodesFailForGood) {
  Report report = MapOutcome(Exited(65), StopReason::kNone, {2, 65}, "", "bad LaTeX");
  EXPECT_FALSE(report.complete);
  EXPECT_FALSE(report.retryable);
  EXPECT_EQ(report.error, "exit 65: bad LaTeX");
}

TEST(Outcome, ASignalIsARetryableFailure) {
  Report report = MapOutcome(Killed(SIGSEGV), StopReason::kNone, {11}, "", "");
  EXPECT_TRUE(report.retryable);
  EXPECT_EQ(report.error.rfind("killed by signal 11", 0), 0u) << report.error;
}

TEST(Outcome, AStopByTheWorkerDecidesWhateverTheExit) {
  for (ProcessEnd end : {Exited(0), Exited(1), Killed(SIGTERM)}) {
    Report cancelled = MapOutcome(end, StopReason::kCancelled, {}, "{}", "");
    EXPECT_FALSE(cancelled.complete);
    EXPECT_FALSE(cancelled.retryable);
    Report overdue = MapOutcome(end, StopReason::kDeadline, {}, "{}", "");
    EXPECT_FALSE(overdue.complete);
    EXPECT_TRUE(overdue.retryable);
    Report shutdown = MapOutcome(end, StopReason::kShutdown, {}, "{}", "");
    EXPECT_FALSE(shutdown.complete);
    EXPECT_TRUE(shutdown.retryable);
    EXPECT_EQ(shutdown.error, "worker shutting down");
  }
}

TEST(Outcome, TheErrorTailKeepsWholeLinesFromTheEnd) {
  std::string log;
  for (int i = 0; i < 500; i++) log += "line " + std::to_string(i) + "\n";
  std::string tail = ErrorTail(log, 100);
  EXPECT_LE(tail.size(), 100u);
  EXPECT_EQ(tail.rfind("line ", 0), 0u) << tail;
  EXPECT_EQ(tail.substr(tail.size() - 8), "line 499");
}

TEST(Outcome, TheErrorTailIsValidUtf8WithoutNul) {
  std::string text = "\xC3\xA9t\xC3\xA9 ok \xFF bad \xE2\x82 cut";
  text += std::string(1, '\0') + "nul";
  EXPECT_EQ(SanitizeUtf8(text), "\xC3\xA9t\xC3\xA9 ok ? bad ?? cut?nul");
  // A cut through a two-byte character at the front of the tail is dropped.
  std::string accents;
  for (int i = 0; i < 100; i++) accents += "\xC3\xA9";
  std::string tail = ErrorTail(accents, 51);
  EXPECT_EQ(tail, SanitizeUtf8(tail));
  EXPECT_EQ(tail.size(), 50u);
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), "???");  // a UTF-16 surrogate is not UTF-8
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), "??");       // nor an overlong form
}

}  // namespace
}  // namespace worker
