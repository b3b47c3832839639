// queue-worker's command line.
#include "worker/options.hpp"

#include <gtest/gtest.h>

namespace worker {
namespace {

using Action = ParsedCommandLine::Action;

ParsedCommandLine Parse(std::vector<std::string> arguments) { return ParseCommandLine(arguments); }

TEST(Options, MinimalExecCommandLineTakesTheDefaults) {
  ParsedCommandLine parsed = Parse({"--worker-id", "gpu-1", "--exec", "render.sh"});
  ASSERT_EQ(parsed.action, Action::kRun) << parsed.error;
  EXPECT_EQ(parsed.options.worker_id, "gpu-1");
  EXPECT_EQ(parsed.options.exec_command, "render.sh");
  EXPECT_EQ(parsed.options.capacity, 1);
  EXPECT_FALSE(parsed.options.resources.has_value());
  EXPECT_FALSE(parsed.options.simulate);
  EXPECT_EQ(parsed.options.heartbeat_interval, Millis(10000));
  EXPECT_TRUE(parsed.options.permanent_exit_codes.empty());
}

TEST(Options, EveryOptionIsRead) {
  ParsedCommandLine parsed = Parse({"--dsn=host=a,b target_session_attrs=read-write",
                                    "--worker-id",
                                    "w",
                                    "--capacity",
                                    "4",
                                    "--resources",
                                    "manim,blender",
                                    "--simulate",
                                    "doubt=1-2",
                                    "--permanent-exit-codes",
                                    "2,65",
                                    "--heartbeat-interval",
                                    "500ms",
                                    "--poll-interval",
                                    "2s",
                                    "--kill-grace",
                                    "1.5",
                                    "--shutdown-grace",
                                    "1m",
                                    "--reconnect-max",
                                    "5s",
                                    "--log-format",
                                    "json"});
  ASSERT_EQ(parsed.action, Action::kRun) << parsed.error;
  const Options& options = parsed.options;
  EXPECT_EQ(options.conninfo, "host=a,b target_session_attrs=read-write");
  EXPECT_EQ(options.capacity, 4);
  EXPECT_EQ(*options.resources, (std::vector<std::string>{"manim", "blender"}));
  EXPECT_TRUE(options.simulate);
  EXPECT_EQ(options.simulate_profile, "doubt=1-2");
  EXPECT_EQ(options.permanent_exit_codes, (std::set<int>{2, 65}));
  EXPECT_EQ(options.heartbeat_interval, Millis(500));
  EXPECT_EQ(options.poll_interval, Millis(2000));
  EXPECT_EQ(options.kill_grace, Millis(1500));
  EXPECT_EQ(options.shutdown_grace, Millis(60000));
  EXPECT_EQ(options.reconnect_cap, Millis(5000));
  EXPECT_EQ(options.log_format, client::LogFormat::kJson);
}

TEST(Options, ResourcesNoneIsAnEmptyList) {
  ParsedCommandLine parsed = Parse({"--worker-id", "w", "--exec", "x", "--resources", "none"});
  ASSERT_EQ(parsed.action, Action::kRun);
  ASSERT_TRUE(parsed.options.resources.has_value());
  EXPECT_TRUE(parsed.options.resources->empty());
}

TEST(Options, HelpAndVersionWinOverEverythingElse) {
  EXPECT_EQ(Parse({"--capacity", "0", "--help"}).action, Action::kHelp);
  EXPECT_EQ(Parse({"--help", "--capacity", "0"}).action, Action::kHelp);
  EXPECT_EQ(Parse({"-h"}).action, Action::kHelp);
  EXPECT_EQ(Parse({"--version"}).action, Action::kVersion);
}

TEST(Options, MistakesAreRefusedWithAMessage) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--exec", "x"}, "--worker-id is required"},
      {{"--worker-id", "w"}, "exactly one of"},
      {{"--worker-id", "w", "--exec", "x", "--simulate", ""}, "exactly one of"},
      {{"--worker-id", "w", "--exec", ""}, "--exec needs a command"},
      {{"--worker-id", "w", "--exec", "x", "--capacity", "0"}, "--capacity"},
      {{"--worker-id", "w", "--exec", "x", "--capacity", "3x"}, "--capacity"},
      {{"--worker-id", "w", "--exec", "x", "--capacity", "10001"}, "--capacity"},
      {{"--worker-id", "w", "--exec", "x", "--permanent-exit-codes", "0"}, "between 1 and 255"},
      {{"--worker-id", "w", "--exec", "x", "--permanent-exit-codes", "256"}, "between 1 and 255"},
      {{"--worker-id", "w", "--exec", "x", "--heartbeat-interval", "soon"}, "not a duration"},
      {{"--worker-id", "w", "--exec", "x", "--heartbeat-interval", "10ms"}, "at least 100ms"},
      {{"--worker-id", "w", "--exec", "x", "--log-format", "xml"}, "text or json"},
      {{"--worker-id", "w", "--exec", "x", "--frobnicate"}, "unknown argument"},
      {{"--worker-id"}, "needs a value"},
  };
  for (const auto& [arguments, message] : cases) {
    ParsedCommandLine parsed = Parse(arguments);
    EXPECT_EQ(parsed.action, Action::kError) << arguments.back();
    EXPECT_NE(parsed.error.find(message), std::string::npos) << parsed.error;
  }
}

TEST(Options, DurationsTakeUnits) {
  EXPECT_EQ(ParseDuration("250ms"), Millis(250));
  EXPECT_EQ(ParseDuration("10s"), Millis(10000));
  EXPECT_EQ(ParseDuration("2m"), Millis(120000));
  EXPECT_EQ(ParseDuration("1h"), Millis(3600000));
  EXPECT_EQ(ParseDuration("0.5"), Millis(500));
  EXPECT_EQ(ParseDuration(""), std::nullopt);
  EXPECT_EQ(ParseDuration("-1s"), std::nullopt);
  EXPECT_EQ(ParseDuration("5 s"), std::nullopt);
  EXPECT_EQ(ParseDuration("3d"), std::nullopt);
  EXPECT_EQ(ParseDuration("nan"), std::nullopt);
  EXPECT_EQ(ParseDuration("1000h"), std::nullopt);
}

TEST(Options, HelpFitsOnOneScreen) {
  std::string help = HelpText();
  int lines = 0;
  size_t start = 0;
  for (size_t end; (end = help.find('\n', start)) != std::string::npos; start = end + 1) {
    EXPECT_LE(end - start, 100u) << help.substr(start, end - start);
    lines++;
  }
  EXPECT_LE(lines, 24);
}

}  // namespace
}  // namespace worker
