// Checks shared by the SQL functions: argument validation with PostgreSQL's
// SQLSTATEs, and who may see or change a job.
//
// These raise errors with ereport() and are called only where no C++ object
// is alive, before a function changes anything.
#pragma once

#include "queue/pg.hpp"

namespace queue {

// Longest worker id, user id, dedupe key and error text accepted.
constexpr int kMaxIdLength = 200;
constexpr int kMaxErrorLength = 10000;

// Refuse a NULL argument (22004) naming it.
void RequireArgument(FunctionCallInfo fcinfo, int index, const char* name);

// A text argument that must be given, 1..max_length characters (22023).
char* RequiredText(FunctionCallInfo fcinfo, int index, const char* name, int max_length);

// A text argument that may be NULL (nullptr); when given, 1..max_length characters.
char* OptionalText(FunctionCallInfo fcinfo, int index, const char* name, int max_length);

// Refuse (54000) a jsonb document (payload, result) whose uncompressed size
// exceeds `limit` bytes.
void RequireDocumentSize(Datum document, const char* what, int limit, const char* hint);

// A job id argument: given and positive.
int64 RequiredJobId(FunctionCallInfo fcinfo, int index);

// Refuse an unknown job (P0002).
[[noreturn]] void RaiseUnknownJob(int64 job_id);

// Refuse a caller who neither enqueued the job (its owner role) nor is a
// queue_admin (42501). Superusers pass.
void CheckJobAccess(int64 job_id, Oid owner);

// The role that called the SECURITY DEFINER function.
Oid CallingRole();

// Whether the caller is a member of queue_admin (or a superuser).
bool CallerIsQueueAdmin();

// Whether the caller has the privileges of `owner`, or is a queue_admin.
bool CallerMayActAs(Oid owner);

// Refuse (42501) a caller who may not act for the role that registered a
// worker id; an id with no recorded owner (InvalidOid) is open to all.
void CheckWorkerAccess(const char* worker_id, Oid owner);

// Refuse (42501) the use of a worker id another role registered.
[[noreturn]] void RaiseForeignWorker(const char* worker_id);

// The elements of an array argument, palloc'd.
struct ArrayElements {
  Datum* values;
  bool* nulls;
  int count;
};

// The elements of a (given) one-dimensional array argument of `element_type`;
// refuses more dimensions (22023) and, unless allowed, NULL elements (22004).
ArrayElements ArrayArgument(FunctionCallInfo fcinfo, int index, const char* name, Oid element_type,
                            bool null_elements_allowed);

// A text[] argument that may be NULL; when given, one-dimensional without
// NULL elements. Returns the element count and palloc'd C strings.
int OptionalTextArray(FunctionCallInfo fcinfo, int index, const char* name, char*** elements);

}  // namespace queue
