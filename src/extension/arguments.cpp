// Argument validation and job access checks (see arguments.hpp).
#include "queue/arguments.hpp"

extern "C" {
#include "access/detoast.h"
#include "mb/pg_wchar.h"
#include "utils/acl.h"
}

namespace queue {

void RequireArgument(FunctionCallInfo fcinfo, int index, const char* name) {
  if (PG_ARGISNULL(index))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be NULL", name)));
}

// Check that text has 1..max_length characters.
static char* CheckedText(Datum value, const char* name, int max_length) {
  char* chars = TextDatumGetCString(value);
  int length = pg_mbstrlen(chars);
  if (length == 0 || length > max_length)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("%s must have 1 to %d characters", name, max_length),
                    errdetail("The value given has %d characters.", length)));
  return chars;
}

char* RequiredText(FunctionCallInfo fcinfo, int index, const char* name, int max_length) {
  RequireArgument(fcinfo, index, name);
  return CheckedText(PG_GETARG_DATUM(index), name, max_length);
}

char* OptionalText(FunctionCallInfo fcinfo, int index, const char* name, int max_length) {
  if (PG_ARGISNULL(index)) return nullptr;
  return CheckedText(PG_GETARG_DATUM(index), name, max_length);
}

int64 RequiredJobId(FunctionCallInfo fcinfo, int index) {
  RequireArgument(fcinfo, index, "job_id");
  int64 job_id = PG_GETARG_INT64(index);
  if (job_id <= 0) RaiseUnknownJob(job_id);
  return job_id;
}

void RequireDocumentSize(Datum document, const char* what, int limit, const char* hint) {
  // The raw size: a compressed (or TOASTed) value would pass a limit on what
  // it takes on disk while costing its full size in every worker's memory.
  Size bytes = toast_raw_datum_size(document);
  if (bytes > static_cast<Size>(limit))
    ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("%s is too large", what),
                    errdetail("The %s takes %zu bytes uncompressed; the limit is %d.", what, bytes,
                              limit),
                    errhint("%s", hint)));
}

void RaiseUnknownJob(int64 job_id) {
  ereport(ERROR,
          (errcode(ERRCODE_NO_DATA_FOUND), errmsg("job %lld does not exist", (long long)job_id),
           errhint("Job ids come from queue.enqueue(); finished jobs are pruned after "
                   "queue.settings.retention.")));
  pg_unreachable();
}

Oid CallingRole() { return GetOuterUserId(); }

bool CallerIsQueueAdmin() {
  Oid admin = get_role_oid("queue_admin", true);
  return OidIsValid(admin) && has_privs_of_role(CallingRole(), admin);
}

bool CallerMayActAs(Oid owner) {
  return has_privs_of_role(CallingRole(), owner) || CallerIsQueueAdmin();
}

void CheckJobAccess(int64 job_id, Oid owner) {
  if (CallerMayActAs(owner)) return;
  ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                  errmsg("job %lld belongs to another role", (long long)job_id),
                  errhint("Only the role that enqueued a job, or a member of queue_admin, may "
                          "see or cancel it.")));
}

void CheckWorkerAccess(const char* worker_id, Oid owner) {
  if (!OidIsValid(owner) || CallerMayActAs(owner)) return;
  RaiseForeignWorker(worker_id);
}

void RaiseForeignWorker(const char* worker_id) {
  ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                  errmsg("worker \"%s\" belongs to another role", worker_id),
                  errhint("Only the role that registered a worker id, or a member of queue_admin, "
                          "may use it; pick another worker id.")));
  pg_unreachable();
}

ArrayElements ArrayArgument(FunctionCallInfo fcinfo, int index, const char* name, Oid element_type,
                            bool null_elements_allowed) {
  ArrayType* array = PG_GETARG_ARRAYTYPE_P(index);
  if (ARR_NDIM(array) > 1)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("%s must be a one-dimensional array", name)));
  int16 length;
  bool by_value;
  char align;
  get_typlenbyvalalign(element_type, &length, &by_value, &align);
  ArrayElements elements;
  deconstruct_array(array, element_type, length, by_value, align, &elements.values,
                    &elements.nulls, &elements.count);
  for (int i = 0; i < elements.count && !null_elements_allowed; i++)
    if (elements.nulls[i])
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                      errmsg("%s must not contain NULL elements", name)));
  return elements;
}

int OptionalTextArray(FunctionCallInfo fcinfo, int index, const char* name, char*** elements) {
  *elements = nullptr;
  if (PG_ARGISNULL(index)) return 0;
  ArrayElements texts = ArrayArgument(fcinfo, index, name, TEXTOID, false);
  *elements = static_cast<char**>(palloc(sizeof(char*) * (texts.count + 1)));
  for (int i = 0; i < texts.count; i++) (*elements)[i] = TextDatumGetCString(texts.values[i]);
  return texts.count;
}

}  // namespace queue
