// Parse the password file and check Authorization headers.
#include "dashboard/basic_auth.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace dashboard {

namespace {

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string decoded;
  for (size_t i = 0; i < text.size(); i += 4) {
    int values[4];
    int padding = 0;
    for (int k = 0; k < 4; k++) {
      char c = text[i + k];
      // Padding only at the end of the last group, after two characters.
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        values[k] = 0;
        padding++;
        continue;
      }
      if (padding > 0) return std::nullopt;
      values[k] = Base64Value(c);
      if (values[k] < 0) return std::nullopt;
    }
    unsigned bits = (values[0] << 18) | (values[1] << 12) | (values[2] << 6) | values[3];
    decoded += static_cast<char>((bits >> 16) & 0xFF);
    if (padding < 2) decoded += static_cast<char>((bits >> 8) & 0xFF);
    if (padding < 1) decoded += static_cast<char>(bits & 0xFF);
  }
  return decoded;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); i++)
    difference |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return difference == 0;
}

std::optional<BasicAuth> BasicAuth::Parse(std::string_view text, std::string* error) {
  BasicAuth auth;
  std::istringstream lines{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    number++;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::string::size_type colon = line.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == line.size()) {
      *error = "line " + std::to_string(number) + " is not user:password";
      return std::nullopt;
    }
    auth.users_.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  if (auth.users_.empty()) {
    *error = "no user:password line";
    return std::nullopt;
  }
  return auth;
}

std::optional<BasicAuth> BasicAuth::Load(const std::string& path, std::string* error) {
  struct stat status;
  if (stat(path.c_str(), &status) != 0) {
    *error = "cannot read " + path;
    return std::nullopt;
  }
  if ((status.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    *error = path + " may be read by group or others; chmod 600 it";
    return std::nullopt;
  }
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  if (!file) {
    *error = "cannot read " + path;
    return std::nullopt;
  }
  std::optional<BasicAuth> auth = Parse(text.str(), error);
  if (!auth) *error = path + ": " + *error;
  return auth;
}

std::optional<std::string> BasicAuth::Authenticate(std::string_view authorization) const {
  constexpr std::string_view kScheme = "Basic ";
  if (authorization.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  std::optional<std::string> credentials = DecodeBase64(authorization.substr(kScheme.size()));
  if (!credentials) return std::nullopt;
  std::string::size_type colon = credentials->find(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string_view user = std::string_view(*credentials).substr(0, colon);
  std::string_view password = std::string_view(*credentials).substr(colon + 1);
  // Check every entry, so the time taken does not tell which users exist.
  std::optional<std::string> matched;
  for (const auto& [known_user, known_password] : users_) {
    bool user_matches = ConstantTimeEquals(user, known_user);
    bool password_matches = ConstantTimeEquals(password, known_password);
    if (user_matches && password_matches && !matched) matched = known_user;
  }
  return matched;
}

}  // namespace dashboard
