// libpq connections and statement outcomes.
#include "client/connection.hpp"

#include <cstdlib>

namespace client {

namespace {

// Take libpq's message without its trailing newline.
std::string TrimmedMessage(const char* message) {
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

QueryResult::QueryResult(Status status, std::unique_ptr<PGresult, PgResultDeleter> result,
                         std::string sqlstate, std::string message)
    : status_(status),
      result_(std::move(result)),
      sqlstate_(std::move(sqlstate)),
      message_(std::move(message)) {}

int QueryResult::rows() const { return ok() ? PQntuples(result_.get()) : 0; }

bool QueryResult::IsNull(int row, int column) const {
  return PQgetisnull(result_.get(), row, column) != 0;
}

std::string QueryResult::Text(int row, int column) const {
  return IsNull(row, column) ? std::string() : PQgetvalue(result_.get(), row, column);
}

long long QueryResult::Int(int row, int column) const {
  return IsNull(row, column) ? 0
                             : std::strtoll(PQgetvalue(result_.get(), row, column), nullptr, 10);
}

double QueryResult::Float(int row, int column) const {
  return IsNull(row, column) ? 0 : std::strtod(PQgetvalue(result_.get(), row, column), nullptr);
}

// Connect, blocking or not; the defaults come first so that the caller's
// string overrides them. Keepalives notice a silent peer within about 25 s.
Connection Connection::Connect(const std::string& conninfo, const std::string& application_name,
                               bool blocking, int connect_timeout_seconds) {
  const std::string connect_timeout = std::to_string(connect_timeout_seconds);
  const char* keywords[] = {"connect_timeout",
                            "keepalives_idle",
                            "keepalives_interval",
                            "keepalives_count",
                            "fallback_application_name",
                            "dbname",
                            nullptr};
  const char* values[] = {connect_timeout.c_str(),
                          "10",
                          "5",
                          "3",
                          application_name.c_str(),
                          conninfo.empty() ? nullptr : conninfo.c_str(),
                          nullptr};
  Connection connection;
  connection.conn_.reset(blocking ? PQconnectdbParams(keywords, values, /*expand_dbname=*/1)
                                  : PQconnectStartParams(keywords, values, /*expand_dbname=*/1));
  if (connection.conn_ == nullptr) {
    connection.error_ = "out of memory";
  } else if (PQstatus(connection.conn_.get()) == CONNECTION_BAD ||
             (blocking && PQstatus(connection.conn_.get()) != CONNECTION_OK)) {
    connection.error_ = TrimmedMessage(PQerrorMessage(connection.conn_.get()));
    connection.conn_.reset();
  }
  return connection;
}

Connection Connection::Open(const std::string& conninfo, const std::string& application_name,
                            int connect_timeout_seconds) {
  return Connect(conninfo, application_name, /*blocking=*/true, connect_timeout_seconds);
}

Connection Connection::Start(const std::string& conninfo, const std::string& application_name) {
  return Connect(conninfo, application_name, /*blocking=*/false, kConnectTimeoutSeconds);
}

// One step of a non-blocking connect.
Connection::Step Connection::Continue() {
  if (conn_ == nullptr) return Step::kFailed;
  switch (PQconnectPoll(conn_.get())) {
    case PGRES_POLLING_READING:
      return Step::kRead;
    case PGRES_POLLING_WRITING:
      return Step::kWrite;
    case PGRES_POLLING_OK:
      return Step::kReady;
    default:
      error_ = TrimmedMessage(PQerrorMessage(conn_.get()));
      conn_.reset();
      return Step::kFailed;
  }
}

std::string Connection::Server() const {
  if (!ok()) return "";
  const char* host = PQhost(conn_.get());
  const char* port = PQport(conn_.get());
  return std::string(host != nullptr ? host : "") + ":" + (port != nullptr ? port : "");
}

// Run one statement; a lost connection is told apart from a refused statement.
QueryResult Connection::Exec(const std::string& sql, const Params& params) {
  if (!ok()) return QueryResult(QueryResult::Status::kConnectionLost, nullptr, "", error_);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
  std::unique_ptr<PGresult, PgResultDeleter> result(
      PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                   values.data(), nullptr, nullptr, 0));
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
    return QueryResult(QueryResult::Status::kOk, std::move(result), "", "");
  }
  const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state != nullptr ? state : "";
  std::string message = TrimmedMessage(result ? PQresultErrorMessage(result.get()) : nullptr);
  if (message.empty()) message = TrimmedMessage(PQerrorMessage(conn_.get()));
  if (PQstatus(conn_.get()) != CONNECTION_OK || IsConnectionState(sqlstate)) {
    error_ = message;
    conn_.reset();
    return QueryResult(QueryResult::Status::kConnectionLost, nullptr, sqlstate, message);
  }
  return QueryResult(QueryResult::Status::kError, std::move(result), sqlstate, message);
}

// Read what the server sent without blocking.
bool Connection::ConsumeInput() {
  if (!ok()) return false;
  if (PQconsumeInput(conn_.get()) == 0 || PQstatus(conn_.get()) != CONNECTION_OK) {
    error_ = TrimmedMessage(PQerrorMessage(conn_.get()));
    conn_.reset();
    return false;
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> Connection::TakeNotifications() {
  std::vector<std::pair<std::string, std::string>> notifications;
  if (!ok()) return notifications;
  while (PGnotify* notify = PQnotifies(conn_.get())) {
    notifications.emplace_back(notify->relname, notify->extra != nullptr ? notify->extra : "");
    PQfreemem(notify);
  }
  return notifications;
}

// Class 08 (connection exception), 57P01-57P03 (shutdown, crash, starting up),
// 25006 (read-only transaction: we reached a standby, or a demoted primary).
bool IsConnectionState(const std::string& sqlstate) {
  return sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03" || sqlstate == "25006";
}

}  // namespace client
