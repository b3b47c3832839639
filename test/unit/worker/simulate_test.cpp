// --simulate profiles and draws.
#include "worker/simulate.hpp"

#include <gtest/gtest.h>

namespace worker {
namespace {

SimulateProfile Profile(const std::string& text) {
  std::string error;
  std::optional<SimulateProfile> profile = ParseSimulateProfile(text, &error);
  EXPECT_TRUE(profile.has_value()) << error;
  return profile.value_or(SimulateProfile{});
}

TEST(Simulate, AProfileIsRead) {
  SimulateProfile profile =
      Profile("doubt=1-3,topic_short=2,default=2-6,@manim=+2,fail=0.1,permanent=0.02,hang=0.2");
  EXPECT_DOUBLE_EQ(profile.per_type.at("doubt").min, 1);
  EXPECT_DOUBLE_EQ(profile.per_type.at("doubt").max, 3);
  EXPECT_DOUBLE_EQ(profile.per_type.at("topic_short").max, 2);
  EXPECT_DOUBLE_EQ(profile.fallback.max, 6);
  EXPECT_DOUBLE_EQ(profile.extra_by_resource.at("manim"), 2);
  EXPECT_DOUBLE_EQ(profile.fail, 0.1);
  EXPECT_DOUBLE_EQ(profile.permanent, 0.02);
  EXPECT_DOUBLE_EQ(profile.hang, 0.2);
}

TEST(Simulate, AnEmptyProfileRendersOneToThreeSeconds) {
  SimulateProfile profile = Profile("");
  EXPECT_DOUBLE_EQ(DrawRender(profile, "doubt", "", 0, 0.5).seconds, 1);
  EXPECT_DOUBLE_EQ(DrawRender(profile, "doubt", "", 1, 0.5).seconds, 3);
}

TEST(Simulate, BadProfilesAreRefused) {
  for (const char* text : {"doubt", "doubt=3-1", "doubt=a-b", "fail=1.5", "fail=-0.1", "@manim=2",
                           "@=+1", "fail=0.6,hang=0.6", "=1"}) {
    std::string error;
    EXPECT_FALSE(ParseSimulateProfile(text, &error).has_value()) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
}

TEST(Simulate, TheDrawPicksDurationAndOutcome) {
  SimulateProfile profile =
      Profile("doubt=1-3,default=2-6,@manim=+2,fail=0.1,permanent=0.05,hang=0.2");
  EXPECT_DOUBLE_EQ(DrawRender(profile, "doubt", "", 0.5, 0.9).seconds, 2);
  EXPECT_DOUBLE_EQ(DrawRender(profile, "topic_short", "manim", 0.5, 0.9).seconds, 6);
  EXPECT_EQ(DrawRender(profile, "doubt", "", 0, 0.05).exit_code, 1);
  EXPECT_EQ(DrawRender(profile, "doubt", "", 0, 0.12).exit_code, kSimulatedPermanentExit);
  EXPECT_TRUE(DrawRender(profile, "doubt", "", 0, 0.3).hangs);
  SimulatedRender fine = DrawRender(profile, "doubt", "", 0, 0.36);
  EXPECT_EQ(fine.exit_code, 0);
  EXPECT_FALSE(fine.hangs);
}

TEST(Simulate, TheCommandSleepsThenEndsAsDrawn) {
  EXPECT_EQ(SimulateCommand({1.5, 1, false}),
            "sleep 1.500; echo 'ffmpeg exited with status 1 (transient)' >&2; exit 1");
  EXPECT_NE(SimulateCommand({2, 65, false}).find("exit 65"), std::string::npos);
  EXPECT_NE(SimulateCommand({0, 0, true}).find("sleep 3600"), std::string::npos);
  EXPECT_NE(SimulateCommand({2, 0, false}).find("cdn.example"), std::string::npos);
}

}  // namespace
}  // namespace worker
