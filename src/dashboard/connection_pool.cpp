// Borrowing, opening and giving back connections; running one statement.
#include "dashboard/connection_pool.hpp"

#include <chrono>
#include <utility>

namespace dashboard {

namespace {

constexpr auto kBorrowWait = std::chrono::seconds(5);
constexpr int kConnectTimeoutSeconds = 3;  // a page waits for no longer

// Session settings of every connection: $1 statement_timeout, $2 read-only.
constexpr const char* kSessionSetup =
    "SELECT pg_catalog.set_config('statement_timeout', $1, false),"
    " pg_catalog.set_config('DateStyle', 'ISO', false),"
    " pg_catalog.set_config('TimeZone', 'UTC', false),"
    " pg_catalog.set_config('IntervalStyle', 'postgres', false),"
    " pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false),"
    " pg_catalog.set_config('default_transaction_read_only', $2, false)";

client::QueryResult Unreachable(const std::string& message) {
  return client::QueryResult(client::QueryResult::Status::kConnectionLost, nullptr, "", message);
}

}  // namespace

ConnectionPool::ConnectionPool(Settings settings) : settings_(std::move(settings)) {}

client::Connection ConnectionPool::Open(std::string* error) const {
  client::Connection conn =
      client::Connection::Open(settings_.conninfo, "queue-dashboard", kConnectTimeoutSeconds);
  if (!conn.ok()) {
    *error = conn.error();
    return conn;
  }
  client::QueryResult setup =
      conn.Exec(kSessionSetup, {std::to_string(settings_.statement_timeout_ms),
                                settings_.read_only ? "on" : "off"});
  if (!setup.ok()) {
    *error = setup.message();
    return client::Connection();
  }
  return conn;
}

client::Connection ConnectionPool::Borrow(bool* reused, std::string* error) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!given_back_.wait_for(lock, kBorrowWait,
                            [this] { return !idle_.empty() || open_ < settings_.size; })) {
    *error = "every database connection is busy";
    return client::Connection();
  }
  if (!idle_.empty()) {
    client::Connection conn = std::move(idle_.back());
    idle_.pop_back();
    *reused = true;
    return conn;
  }
  open_++;
  lock.unlock();
  *reused = false;
  client::Connection conn = Open(error);
  if (!conn.ok()) {
    lock.lock();
    open_--;
    given_back_.notify_one();
  }
  return conn;
}

void ConnectionPool::GiveBack(client::Connection conn) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (conn.idle()) {
    idle_.push_back(std::move(conn));
  } else {
    // Dropped (closed as `conn` goes out of scope). A lost connection means
    // the server went away: the idle ones are gone too.
    open_ -= 1 + static_cast<int>(idle_.size());
    idle_.clear();
  }
  given_back_.notify_all();
}

client::QueryResult ConnectionPool::Run(const std::string& sql, const SqlParams& params) {
  for (int attempt = 0; attempt < 2; attempt++) {
    bool reused = false;
    std::string error;
    client::Connection conn = Borrow(&reused, &error);
    if (!conn.ok()) return Unreachable(error);
    client::QueryResult result = conn.Exec(sql, params);
    bool lost = result.connection_lost();
    GiveBack(std::move(conn));
    // A connection kept from before a restart fails on first use: retry once
    // on a new one.
    if (!(lost && reused)) return result;
  }
  return Unreachable("the database went away twice");
}

}  // namespace dashboard
