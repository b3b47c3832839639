// The password file and Authorization headers.
#include "dashboard/basic_auth.hpp"

#include <gtest/gtest.h>

#include "dashboard/csrf_token.hpp"

namespace dashboard {
namespace {

TEST(DecodeBase64, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(DecodeBase64("YWxpY2U6c2VjcmV0"), "alice:secret");
  EXPECT_EQ(DecodeBase64("YQ=="), "a");
  EXPECT_EQ(DecodeBase64("YWI="), "ab");
  EXPECT_EQ(DecodeBase64(""), "");
  EXPECT_FALSE(DecodeBase64("YQ="));   // not a multiple of 4
  EXPECT_FALSE(DecodeBase64("Y==="));  // padding too early
  EXPECT_FALSE(DecodeBase64("YQ=a"));
  EXPECT_FALSE(DecodeBase64("YW*j"));
}

TEST(BasicAuth, AuthenticatesKnownUsersOnly) {
  std::string error;
  std::optional<BasicAuth> auth =
      BasicAuth::Parse("# admins\nalice:secret\n\nbob:pa:ss\r\n", &error);
  ASSERT_TRUE(auth) << error;
  EXPECT_EQ(auth->Authenticate("Basic YWxpY2U6c2VjcmV0"), "alice");  // alice:secret
  EXPECT_EQ(auth->Authenticate("Basic Ym9iOnBhOnNz"), "bob");        // bob:pa:ss
  EXPECT_FALSE(auth->Authenticate("Basic YWxpY2U6c2VjcmV1"));        // alice:secreu
  EXPECT_FALSE(auth->Authenticate("Basic YWxpY2U="));                // alice (no colon)
  EXPECT_FALSE(auth->Authenticate("Bearer YWxpY2U6c2VjcmV0"));
  EXPECT_FALSE(auth->Authenticate(""));
}

TEST(BasicAuth, RefusesMalformedFiles) {
  std::string error;
  EXPECT_FALSE(BasicAuth::Parse("alice\n", &error));
  EXPECT_EQ(error, "line 1 is not user:password");
  EXPECT_FALSE(BasicAuth::Parse("ok:1\n:nouser\n", &error));
  EXPECT_EQ(error, "line 2 is not user:password");
  EXPECT_FALSE(BasicAuth::Parse("# nobody\n", &error));
  EXPECT_FALSE(BasicAuth::Load("/nonexistent/auth", &error));
}

TEST(ConstantTimeEquals, ComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("abcd", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(CsrfToken, RandomAndChecked) {
  std::string token = NewCsrfToken();
  EXPECT_EQ(token.size(), 64u);
  EXPECT_NE(token, NewCsrfToken());
  EXPECT_TRUE(CsrfTokenMatches(token, token));
  EXPECT_FALSE(CsrfTokenMatches(token, ""));
  EXPECT_FALSE(CsrfTokenMatches("", ""));  // admin off: no token matches
}

}  // namespace
}  // namespace dashboard
