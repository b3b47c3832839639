// API parameters and the command line.
#include "dashboard/options.hpp"
#include "dashboard/request_params.hpp"

#include <gtest/gtest.h>

namespace dashboard {
namespace {

TEST(ParseJobsQuery, FiltersAndPage) {
  ParsedJobsQuery parsed = ParseJobsQuery({{"status", "failed"},
                                           {"type", "doubt"},
                                           {"user", "<b>x</b>"},
                                           {"before", "120"},
                                           {"limit", "20"}});
  ASSERT_TRUE(parsed.query) << parsed.error;
  EXPECT_EQ(parsed.query->status, "failed");
  EXPECT_EQ(parsed.query->job_type, "doubt");
  EXPECT_EQ(parsed.query->user_id, "<b>x</b>");
  EXPECT_EQ(parsed.query->before, 120);
  EXPECT_EQ(parsed.query->limit, 20);

  ParsedJobsQuery defaults = ParseJobsQuery({{"status", ""}});
  ASSERT_TRUE(defaults.query);
  EXPECT_FALSE(defaults.query->status);
  EXPECT_FALSE(defaults.query->before);
  EXPECT_EQ(defaults.query->limit, 50);
}

TEST(ParseJobsQuery, RefusesBadValues) {
  EXPECT_FALSE(ParseJobsQuery({{"status", "lost"}}).query);
  EXPECT_FALSE(ParseJobsQuery({{"status", "queued' OR 1=1 --"}}).query);
  EXPECT_FALSE(ParseJobsQuery({{"limit", "0"}}).query);
  EXPECT_FALSE(ParseJobsQuery({{"limit", "201"}}).query);
  EXPECT_FALSE(ParseJobsQuery({{"before", "-1"}}).query);
  EXPECT_FALSE(ParseJobsQuery({{"before", "12a"}}).query);
  EXPECT_FALSE(ParseJobsQuery({{"before", "99999999999999999999"}}).query);
  EXPECT_FALSE(ParseJobsQuery({{"user", std::string(1001, 'u')}}).query);
}

TEST(ParseHistoryMinutes, BoundedWithDefault) {
  EXPECT_EQ(ParseHistoryMinutes({}), 60);
  EXPECT_EQ(ParseHistoryMinutes({{"minutes", "1440"}}), 1440);
  EXPECT_FALSE(ParseHistoryMinutes({{"minutes", "0"}}));
  EXPECT_FALSE(ParseHistoryMinutes({{"minutes", "1441"}}));
  EXPECT_FALSE(ParseHistoryMinutes({{"minutes", "1e3"}}));
}

TEST(CommandLine, DefaultsAndOptions) {
  ParsedCommandLine defaults = ParseCommandLine({});
  ASSERT_EQ(defaults.action, ParsedCommandLine::Action::kRun);
  EXPECT_EQ(defaults.options.listen_host, "127.0.0.1");
  EXPECT_EQ(defaults.options.listen_port, 8080);
  EXPECT_FALSE(defaults.options.allow_admin);

  ParsedCommandLine full =
      ParseCommandLine({"--db", "dbname=farm", "--listen=0.0.0.0:9000", "--auth-file", "/etc/q",
                        "--allow-admin", "--statement-timeout-ms", "2000", "--pool-size=2"});
  ASSERT_EQ(full.action, ParsedCommandLine::Action::kRun) << full.error;
  EXPECT_EQ(full.options.conninfo, "dbname=farm");
  EXPECT_EQ(full.options.listen_host, "0.0.0.0");
  EXPECT_EQ(full.options.listen_port, 9000);
  EXPECT_TRUE(full.options.allow_admin);
  EXPECT_EQ(full.options.statement_timeout_ms, 2000);
  EXPECT_EQ(full.options.pool_size, 2);
}

TEST(CommandLine, RefusesWhatCannotWork) {
  EXPECT_EQ(ParseCommandLine({"--allow-admin"}).action, ParsedCommandLine::Action::kError);
  EXPECT_EQ(ParseCommandLine({"--listen", "host:99999"}).action, ParsedCommandLine::Action::kError);
  EXPECT_EQ(ParseCommandLine({"--pool-size", "0"}).action, ParsedCommandLine::Action::kError);
  EXPECT_EQ(ParseCommandLine({"--frobnicate", "1"}).action, ParsedCommandLine::Action::kError);
  EXPECT_EQ(ParseCommandLine({"--db"}).action, ParsedCommandLine::Action::kError);
  EXPECT_EQ(ParseCommandLine({"--help"}).action, ParsedCommandLine::Action::kHelp);
  std::string host = "unchanged";
  int port = 0;
  EXPECT_TRUE(ParseListen("[::1]:8081", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 8081);
  EXPECT_TRUE(ParseListen("18080", &host, &port));
  EXPECT_EQ(port, 18080);
}

}  // namespace
}  // namespace dashboard
