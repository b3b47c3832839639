// Conversions between C++ exceptions and PostgreSQL errors (see boundary.hpp).
#include "queue/boundary.hpp"

#include <new>

namespace queue {

void Raise(int sqlstate, std::string message, std::string hint, std::string detail) {
  throw QueueError(sqlstate, std::move(message), std::move(detail), std::move(hint));
}

// Copy text into a fixed buffer, truncating; never allocates.
static void CopyText(char* target, size_t size, const char* text) {
  if (text != nullptr) strlcpy(target, text, size);
}

void CaptureCurrentException(CaughtError& caught) noexcept {
  try {
    throw;
  } catch (const PgError& error) {
    caught.pg_error = error.data();
  } catch (const QueueError& error) {
    caught.sqlstate = error.sqlstate();
    CopyText(caught.message, sizeof caught.message, error.what());
    CopyText(caught.detail, sizeof caught.detail, error.detail().c_str());
    CopyText(caught.hint, sizeof caught.hint, error.hint().c_str());
  } catch (const std::bad_alloc&) {
    caught.sqlstate = ERRCODE_OUT_OF_MEMORY;
    CopyText(caught.message, sizeof caught.message, "out of memory in queue");
  } catch (const std::exception& error) {
    caught.sqlstate = ERRCODE_INTERNAL_ERROR;
    CopyText(caught.message, sizeof caught.message, error.what());
  } catch (...) {
    caught.sqlstate = ERRCODE_INTERNAL_ERROR;
    CopyText(caught.message, sizeof caught.message, "unknown C++ exception in queue");
  }
}

void RaiseCaught(const CaughtError& caught) {
  if (caught.pg_error != nullptr) ReThrowError(caught.pg_error);
  ereport(ERROR, (errcode(caught.sqlstate), errmsg("%s", caught.message),
                  caught.detail[0] != '\0' ? errdetail("%s", caught.detail) : 0,
                  caught.hint[0] != '\0' ? errhint("%s", caught.hint) : 0));
  pg_unreachable();
}

}  // namespace queue
