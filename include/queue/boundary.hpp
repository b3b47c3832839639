// The boundary between C++ and PostgreSQL error handling.
//
// PostgreSQL reports errors with ereport(), which longjmps; C++ reports them
// with exceptions, which unwind. Neither may cross the other's frames:
// - every entry point PostgreSQL calls runs its body through Guard(), which
//   catches every C++ exception and re-raises it as a PostgreSQL error, with
//   its SQLSTATE, after all C++ frames are gone;
// - code that keeps C++ objects alive while calling into PostgreSQL wraps the
//   call in PgCall(), which turns an ereport() into a PgError exception so the
//   destructors run, and Guard() later re-raises the original error intact.
#pragma once

#include "queue/pg.hpp"
#include "queue/spi.hpp"

#include <exception>
#include <string>

namespace queue {

// A PostgreSQL error caught by PgCall, owned until Guard re-raises it.
class PgError : public std::exception {
 public:
  explicit PgError(ErrorData* data) : data_(data) {}
  const char* what() const noexcept override { return data_->message; }
  ErrorData* data() const { return data_; }

 private:
  ErrorData* data_;
};

// An error raised by queue's own C++ code: SQLSTATE plus the three texts.
class QueueError : public std::exception {
 public:
  QueueError(int sqlstate, std::string message, std::string detail, std::string hint)
      : sqlstate_(sqlstate),
        message_(std::move(message)),
        detail_(std::move(detail)),
        hint_(std::move(hint)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  int sqlstate() const { return sqlstate_; }
  const std::string& detail() const { return detail_; }
  const std::string& hint() const { return hint_; }

 private:
  int sqlstate_;
  std::string message_;
  std::string detail_;
  std::string hint_;
};

// Throw a QueueError; message lower case without a final period, detail and
// hint full sentences (PostgreSQL's error style).
[[noreturn]] void Raise(int sqlstate, std::string message, std::string hint = {},
                        std::string detail = {});

// A caught error in plain storage, so raising it needs no C++ object alive.
struct CaughtError {
  ErrorData* pg_error = nullptr;
  int sqlstate = 0;
  char message[1024] = {};
  char detail[1024] = {};
  char hint[1024] = {};
};

// Record the exception being handled into plain storage (call inside catch).
void CaptureCurrentException(CaughtError& caught) noexcept;

// Raise a captured error as a PostgreSQL error; never returns.
[[noreturn]] void RaiseCaught(const CaughtError& caught);

// Run an entry point's body; C++ exceptions leave it only as PostgreSQL errors.
template <typename Body>
Datum Guard(Body&& body) {
  CaughtError caught;
  try {
    return body();
  } catch (...) {
    CaptureCurrentException(caught);
  }
  RaiseCaught(caught);
}

// Run PostgreSQL code that may ereport() while C++ objects are alive in the
// caller: an ereport() becomes a PgError exception, so destructors run.
template <typename Call>
void PgCall(Call&& call) {
  MemoryContext caller_context = CurrentMemoryContext;
  ErrorData* volatile pg_error = nullptr;
  std::exception_ptr cxx_error;
  PG_TRY();
  {
    try {
      call();
    } catch (...) {
      cxx_error = std::current_exception();
    }
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller_context);
    pg_error = CopyErrorData();
    FlushErrorState();
  }
  PG_END_TRY();
  if (cxx_error) std::rethrow_exception(cxx_error);
  if (pg_error != nullptr) throw PgError(pg_error);
}

}  // namespace queue

// Define the SQL-callable symbol `symbol`, running `body` (a function taking
// FunctionCallInfo and returning Datum) behind Guard(), on the pinned search
// path (an error leaves the pin to the abort of its (sub)transaction).
#define QUEUE_SQL_FUNCTION(symbol, body)                            \
  extern "C" {                                                      \
  PG_FUNCTION_INFO_V1(symbol);                                      \
  Datum symbol(PG_FUNCTION_ARGS) {                                  \
    queue::PinSearchPath();                                         \
    Datum result = queue::Guard([&] { return body(fcinfo); });      \
    queue::UnpinSearchPath();                                       \
    return result;                                                  \
  }                                                                 \
  }
