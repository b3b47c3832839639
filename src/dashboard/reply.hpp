// An HTTP reply as the API builds it, and how database outcomes map to one.
#pragma once

#include <string>

#include "dashboard/connection_pool.hpp"
#include "dashboard/json_cells.hpp"

namespace dashboard {

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// 200 with a JSON body.
Reply JsonReply(const Json& body, int status = 200);

// {"error": message} with a status.
Reply ErrorReply(int status, const std::string& message);

// The reply for a statement that did not return rows: 503 when the database
// is unreachable or the statement timed out, 403/404/400 for refusals the
// caller caused, 500 otherwise. The server's message is passed on, escaped.
Reply FailureReply(const client::QueryResult& outcome);

}  // namespace dashboard
