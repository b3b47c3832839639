// The token a page must send back with every admin POST (X-CSRF-Token).
//
// One random token per process, handed to the page by /api/session; another
// site's page cannot read it (no CORS), so it cannot forge an admin request
// even when the browser would attach the user's basic-auth credentials.
#pragma once

#include <string>
#include <string_view>

namespace dashboard {

// 32 random bytes from the kernel, as 64 hex digits.
std::string NewCsrfToken();

// Whether a request's token matches.
bool CsrfTokenMatches(std::string_view expected, std::string_view sent);

}  // namespace dashboard
