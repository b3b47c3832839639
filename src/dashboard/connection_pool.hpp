// A small pool of libpq connections for the dashboard's request threads.
//
// Each statement borrows a connection, runs, and gives it back. Connections are
// opened lazily and dropped when the server goes away, so the dashboard rides
// out a database restart: requests meanwhile come back "unreachable", and the
// next one after the server is back opens a fresh connection. Every
// connection is set up the same way: a statement_timeout, ISO dates in UTC, a
// pinned search_path, and read-only transactions unless admin actions are on.
#pragma once

#include "client/connection.hpp"

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

namespace dashboard {

// Text parameters of a statement; nullopt is NULL.
using SqlParams = client::Params;

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
  // A busy pool or an unreachable server come back as connection_lost().
  client::QueryResult Run(const std::string& sql, const SqlParams& params = {});

 private:
  // A connection to use: an idle one, or a new one while fewer than `size`
  // are open; waits up to a few seconds for one to be given back. Not ok(),
  // with its error(), when none could be had.
  client::Connection Borrow(bool* reused, std::string* error);
  void GiveBack(client::Connection conn);
  client::Connection Open(std::string* error) const;

  const Settings settings_;
  std::mutex mutex_;
  std::condition_variable given_back_;
  std::vector<client::Connection> idle_;
  int open_ = 0;  // idle plus borrowed
};

}  // namespace dashboard
