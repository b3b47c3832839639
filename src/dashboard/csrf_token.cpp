// Make and check the admin token.
#include "dashboard/csrf_token.hpp"

#include <fstream>
#include <stdexcept>

#include "dashboard/basic_auth.hpp"

namespace dashboard {

std::string NewCsrfToken() {
  std::ifstream random("/dev/urandom", std::ios::binary);
  unsigned char bytes[32];
  if (!random.read(reinterpret_cast<char*>(bytes), sizeof bytes))
    throw std::runtime_error("cannot read /dev/urandom");
  static const char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char byte : bytes) {
    token += kHex[byte >> 4];
    token += kHex[byte & 0xF];
  }
  return token;
}

bool CsrfTokenMatches(std::string_view expected, std::string_view sent) {
  return !expected.empty() && ConstantTimeEquals(expected, sent);
}

}  // namespace dashboard
