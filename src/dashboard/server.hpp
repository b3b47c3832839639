// The HTTP server: routes, authentication, admin checks, security headers.
#pragma once

#include "dashboard/basic_auth.hpp"
#include "dashboard/connection_pool.hpp"
#include "dashboard/options.hpp"

namespace dashboard {

// Serve until SIGINT or SIGTERM (which the caller has blocked in every
// thread); auth is nullptr when the dashboard is open. Returns the exit code.
int Serve(const Options& options, const BasicAuth* auth, ConnectionPool& pool);

}  // namespace dashboard
