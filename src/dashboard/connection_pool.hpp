// A small pool of libpq connections for the dashboard's request threads.
//
// Each statement borrows a connection, runs, and gives it back. Connections are
// opened lazily and dropped when the server goes away, so the dashboard rides
// out a database restart: requests meanwhile come back "unreachable", and the
// next one after the server is back opens a fresh connection. Every
// connection is set up the same way: a statement_timeout, ISO dates in UTC, a
// pinned search_path, and read-only transactions unless admin actions are on.
#pragma once

#include <libpq-fe.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace dashboard {

struct PgResultFree {
  void operator()(PGresult* result) const { PQclear(result); }
};
struct PgConnFinish {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using PgResultPtr = std::unique_ptr<PGresult, PgResultFree>;
using PgConnPtr = std::unique_ptr<PGconn, PgConnFinish>;

// Text parameters of a statement; nullopt is NULL.
using SqlParams = std::vector<std::optional<std::string>>;

// What one statement came to.
struct Outcome {
  enum class Kind { kRows, kRefused, kUnreachable };
  Kind kind = Kind::kUnreachable;
  PgResultPtr result;    // kRows
  std::string sqlstate;  // kRefused: the server's SQLSTATE
  std::string message;   // kRefused and kUnreachable

  bool ok() const { return kind == Kind::kRows; }
};

class ConnectionPool {
 public:
  struct Settings {
    std::string conninfo;  // "" = the PG* environment
    int size = 4;
    int statement_timeout_ms = 5000;
    bool read_only = true;
  };

  explicit ConnectionPool(Settings settings);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Run one statement (one round trip). A pooled connection that turns out to
  // be gone is replaced once, so the first request after a restart succeeds.
  Outcome Run(const std::string& sql, const SqlParams& params = {});

 private:
  // A connection to use: an idle one, or a new one while fewer than `size`
  // are open; waits up to a few seconds for one to be given back.
  PgConnPtr Borrow(bool* reused, std::string* error);
  void GiveBack(PgConnPtr conn);
  PgConnPtr Open(std::string* error) const;

  const Settings settings_;
  std::mutex mutex_;
  std::condition_variable given_back_;
  std::vector<PgConnPtr> idle_;
  int open_ = 0;  // idle plus borrowed
};

}  // namespace dashboard
