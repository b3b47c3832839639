// Build replies.
#include "dashboard/reply.hpp"

namespace dashboard {

Reply JsonReply(const Json& body, int status) {
  Reply reply;
  reply.status = status;
  reply.body = DumpJson(body);
  return reply;
}

Reply ErrorReply(int status, const std::string& message) {
  return JsonReply(Json{{"error", message}}, status);
}

Reply FailureReply(const client::QueryResult& outcome) {
  if (outcome.connection_lost())
    return JsonReply(Json{{"error", "database unreachable"}, {"detail", outcome.message()}}, 503);
  const std::string& state = outcome.sqlstate();
  int status = 500;
  if (state == "57014" || state == "57P01" || state == "57P03") {
    status = 503;  // statement timeout, server shutting down or starting
  } else if (state == "42501") {
    status = 403;
  } else if (state == "P0002") {
    status = 404;
  } else if (state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0) {
    status = 400;  // bad value, constraint
  } else if (state == "42P01" || state == "42883" || state == "55000") {
    status = 503;  // extension missing or at another version
  }
  return JsonReply(Json{{"error", outcome.message()}, {"sqlstate", state}}, status);
}

}  // namespace dashboard
