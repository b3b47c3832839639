// HTTP basic authentication against a file of user:password lines.
//
// The file is read once at start. Lines are "user:password"; blank lines and
// lines starting with # are skipped. A password file readable by group or
// others is refused, as ssh refuses a private key that others can read.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dashboard {

class BasicAuth {
 public:
  // Parse the file's text; error set (and nullopt) for a malformed file.
  static std::optional<BasicAuth> Parse(std::string_view text, std::string* error);
  // Read and parse a file, refusing one that group or others may read.
  static std::optional<BasicAuth> Load(const std::string& path, std::string* error);

  // The user an Authorization header value authenticates; nullopt otherwise.
  std::optional<std::string> Authenticate(std::string_view authorization) const;

 private:
  std::vector<std::pair<std::string, std::string>> users_;
};

// Standard base64 (RFC 4648, with padding); nullopt when malformed.
std::optional<std::string> DecodeBase64(std::string_view text);

// Equality whose time does not depend on where the strings differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace dashboard
