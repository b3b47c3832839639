// Borrowing, opening and giving back connections; running one statement.
#include "dashboard/connection_pool.hpp"

#include <chrono>

namespace dashboard {

namespace {

constexpr auto kBorrowWait = std::chrono::seconds(5);

std::string Trimmed(const char* message) {
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

ConnectionPool::ConnectionPool(Settings settings) : settings_(std::move(settings)) {}

PgConnPtr ConnectionPool::Open(std::string* error) const {
  // Defaults first: what the caller's connection string names wins.
  const char* keywords[] = {"connect_timeout", "fallback_application_name", "dbname", nullptr};
  const char* values[] = {"3", "queue-dashboard",
                          settings_.conninfo.empty() ? nullptr : settings_.conninfo.c_str(),
                          nullptr};
  PgConnPtr conn(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (conn == nullptr || PQstatus(conn.get()) != CONNECTION_OK) {
    *error = conn == nullptr ? "out of memory" : Trimmed(PQerrorMessage(conn.get()));
    return nullptr;
  }
  std::string setup = "SET statement_timeout = " + std::to_string(settings_.statement_timeout_ms) +
                      "; SET DateStyle = ISO; SET TimeZone = 'UTC'; SET IntervalStyle = postgres"
                      "; SET search_path = pg_catalog, pg_temp";
  if (settings_.read_only) setup += "; SET default_transaction_read_only = on";
  PgResultPtr result(PQexec(conn.get(), setup.c_str()));
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    *error = Trimmed(PQerrorMessage(conn.get()));
    return nullptr;
  }
  return conn;
}

PgConnPtr ConnectionPool::Borrow(bool* reused, std::string* error) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!given_back_.wait_for(lock, kBorrowWait,
                            [this] { return !idle_.empty() || open_ < settings_.size; })) {
    *error = "every database connection is busy";
    return nullptr;
  }
  if (!idle_.empty()) {
    PgConnPtr conn = std::move(idle_.back());
    idle_.pop_back();
    *reused = true;
    return conn;
  }
  open_++;
  lock.unlock();
  *reused = false;
  PgConnPtr conn = Open(error);
  if (conn == nullptr) {
    lock.lock();
    open_--;
    given_back_.notify_one();
  }
  return conn;
}

void ConnectionPool::GiveBack(PgConnPtr conn) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (conn != nullptr && PQstatus(conn.get()) == CONNECTION_OK &&
      PQtransactionStatus(conn.get()) == PQTRANS_IDLE) {
    idle_.push_back(std::move(conn));
  } else {
    // Dropped (closed as `conn` goes out of scope). A lost connection means
    // the server went away: the idle ones are gone too.
    open_ -= 1 + static_cast<int>(idle_.size());
    idle_.clear();
  }
  given_back_.notify_all();
}

Outcome ConnectionPool::Run(const std::string& sql, const SqlParams& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::optional<std::string>& param : params)
    values.push_back(param ? param->c_str() : nullptr);

  for (int attempt = 0; attempt < 2; attempt++) {
    Outcome outcome;
    bool reused = false;
    PgConnPtr conn = Borrow(&reused, &outcome.message);
    if (conn == nullptr) return outcome;
    PgResultPtr result(PQexecParams(conn.get(), sql.c_str(), static_cast<int>(values.size()),
                                    nullptr, values.data(), nullptr, nullptr, 0));
    ExecStatusType status = PQresultStatus(result.get());
    bool lost = PQstatus(conn.get()) != CONNECTION_OK;
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
      outcome.kind = Outcome::Kind::kRows;
      outcome.result = std::move(result);
    } else if (!lost) {
      outcome.kind = Outcome::Kind::kRefused;
      const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
      const char* message = PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY);
      outcome.sqlstate = sqlstate != nullptr ? sqlstate : "XX000";
      outcome.message = message != nullptr ? message : Trimmed(PQerrorMessage(conn.get()));
    } else {
      outcome.message = Trimmed(PQerrorMessage(conn.get()));
    }
    GiveBack(std::move(conn));
    // A connection kept from before a restart fails on first use: retry once
    // on a new one.
    if (!(lost && reused)) return outcome;
  }
  return Outcome{};
}

}  // namespace dashboard
