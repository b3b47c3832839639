// A libpq connection owned by one object, and the outcome of one statement.
//
// A connection is opened from a standard connection string (or, when that is
// empty, the PG* environment), so multi-host strings with
// target_session_attrs=read-write follow a failover on the next Open(). A
// statement either succeeds, fails with an SQLSTATE (the server refused it), or
// finds the connection gone; callers treat the last as "reconnect and retry".
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace client {

struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
struct PgConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};

// What one statement came to.
class QueryResult {
 public:
  enum class Status { kOk, kError, kConnectionLost };

  QueryResult(Status status, std::unique_ptr<PGresult, PgResultDeleter> result,
              std::string sqlstate, std::string message);

  Status status() const { return status_; }
  bool ok() const { return status_ == Status::kOk; }
  bool connection_lost() const { return status_ == Status::kConnectionLost; }
  const std::string& sqlstate() const { return sqlstate_; }
  const std::string& message() const { return message_; }

  int rows() const;
  bool IsNull(int row, int column) const;
  std::string Text(int row, int column) const;  // "" for NULL
  long long Int(int row, int column) const;     // 0 for NULL
  double Float(int row, int column) const;      // 0 for NULL
  // The rows themselves, for readers that need the column types (nullptr
  // unless ok()).
  const PGresult* get() const { return ok() ? result_.get() : nullptr; }

 private:
  Status status_;
  std::unique_ptr<PGresult, PgResultDeleter> result_;
  std::string sqlstate_;
  std::string message_;
};

// Parameters of a statement: text values, std::nullopt for NULL.
using Params = std::vector<std::optional<std::string>>;

class Connection {
 public:
  static constexpr int kConnectTimeoutSeconds = 10;

  // Connect (blocking, up to connect_timeout: connect_timeout_seconds unless
  // the string says otherwise). Returns a connection whose ok() is false, with
  // error() set, when no server accepted it.
  static Connection Open(const std::string& conninfo, const std::string& application_name,
                         int connect_timeout_seconds = kConnectTimeoutSeconds);

  // Start connecting without blocking: then, each time pending_socket() is
  // ready for what the last step asked (writing first), call Continue() until
  // it says kReady or kFailed (error() says why). The caller enforces a timeout.
  enum class Step { kRead, kWrite, kReady, kFailed };
  static Connection Start(const std::string& conninfo, const std::string& application_name);
  Step Continue();
  int pending_socket() const { return conn_ != nullptr ? PQsocket(conn_.get()) : -1; }

  bool ok() const { return conn_ != nullptr && PQstatus(conn_.get()) == CONNECTION_OK; }
  // Connected, with no transaction open: fit to hand to another user.
  bool idle() const { return ok() && PQtransactionStatus(conn_.get()) == PQTRANS_IDLE; }
  const std::string& error() const { return error_; }
  // The socket to wait on for notifications; -1 when not connected.
  int socket() const { return ok() ? PQsocket(conn_.get()) : -1; }
  // "host:port" of the server, for logs.
  std::string Server() const;

  // Run one statement with text parameters.
  QueryResult Exec(const std::string& sql, const Params& params = {});
  // Read what the server sent; false when the connection is gone. Then take the
  // notifications received so far, as (channel, payload).
  bool ConsumeInput();
  std::vector<std::pair<std::string, std::string>> TakeNotifications();

 private:
  static Connection Connect(const std::string& conninfo, const std::string& application_name,
                            bool blocking, int connect_timeout_seconds);

  std::unique_ptr<PGconn, PgConnDeleter> conn_;
  std::string error_;
};

// Whether an SQLSTATE means "this server cannot serve us now" (shutdown,
// recovery, read-only after a failover, connection trouble): reconnect.
bool IsConnectionState(const std::string& sqlstate);

}  // namespace client
