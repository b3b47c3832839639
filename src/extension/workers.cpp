// The render-worker registry: queue.register_worker(), queue.heartbeat(),
// queue.drain_worker().
//
// A registered worker states the resources it renders and its slots;
// dequeue() never gives it more jobs than free slots or a resource it cannot
// render. A worker silent for settings.worker_timeout is marked dead by
// tick() and its attempts are recovered; a heartbeat brings it back.
//
// A worker id belongs to the role that registered it: another role can
// neither re-register, heartbeat, drain nor claim with it (42501), so a
// worker id is not a bearer token. queue_admin members may act for any. A
// role may have settings.max_workers_per_role ids, the dead ones included;
// tick() removes a worker dead for longer than settings.retention with no
// attempt left running, which frees its id.
#include "queue/arguments.hpp"
#include "queue/boundary.hpp"
#include "queue/config.hpp"
#include "queue/datums.hpp"
#include "queue/registered_workers.hpp"
#include "queue/spi.hpp"

extern "C" {
#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
}

namespace queue {

namespace {

constexpr int kMaxCapacity = 10000;

// $4 the calling role, $5 whether it is a queue_admin. No row comes back when
// the id belongs to a role the caller may not act for.
SavedPlan upsert_worker = {
    "INSERT INTO queue.workers AS w (worker_id, resources, capacity, owner)"
    " VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (worker_id) DO UPDATE SET resources = excluded.resources,"
    "   capacity = excluded.capacity, state = 'active', last_heartbeat = now(),"
    "   owner = coalesce(w.owner, excluded.owner)"
    " WHERE $5 OR w.owner IS NULL OR pg_has_role($4, w.owner, 'USAGE')"
    " RETURNING *",
    5,
    {TEXTOID, TEXTARRAYOID, INT4OID, OIDOID, BOOLOID},
    nullptr};

// A running attempt under the worker id that a role other than the caller
// ($2) claimed (see RequireNoForeignAttempts).
SavedPlan foreign_attempt = {
    "SELECT 1 FROM queue.jobs WHERE status = 'processing' AND worker_id = $1"
    "   AND worker_role IS NOT NULL AND NOT pg_has_role($2, worker_role, 'USAGE') LIMIT 1",
    2,
    {TEXTOID, OIDOID},
    nullptr};

// How many worker ids the role $2 has registered, when $1 is a new id (0
// for one already registered: re-registering never counts as one more).
SavedPlan ids_of_role = {
    "SELECT count(*) FROM queue.workers WHERE owner = $2"
    "   AND NOT EXISTS (SELECT FROM queue.workers WHERE worker_id = $1)",
    2,
    {TEXTOID, OIDOID},
    nullptr};

SavedPlan beat = {
    "UPDATE queue.workers SET last_heartbeat = now(),"
    " state = CASE WHEN state = 'dead' THEN 'active'::queue.worker_state ELSE state END"
    " WHERE worker_id = $1 RETURNING owner",
    1,
    {TEXTOID},
    nullptr};

SavedPlan cancel_requests = {
    "SELECT id FROM queue.jobs"
    " WHERE status = 'processing' AND worker_id = $1 AND cancel_requested ORDER BY id",
    1,
    {TEXTOID},
    nullptr};

SavedPlan drain = {
    "UPDATE queue.workers SET state = 'draining' WHERE worker_id = $1 RETURNING owner",
    1,
    {TEXTOID},
    nullptr};

// Run `update` (one of the above: worker id in, owner out) and check that the
// caller may act for the worker; its change is undone with the error if not.
void UpdateOwnWorker(SavedPlan& update, const char* worker_id, Datum id) {
  if (SpiRun(update, &id, nullptr, SPI_OK_UPDATE_RETURNING) == 0)
    ereport(ERROR,
            (errcode(ERRCODE_NO_DATA_FOUND), errmsg("worker \"%s\" is not registered", worker_id),
             errhint("Register it first with queue.register_worker().")));
  bool no_owner = false;
  Datum owner = SpiValue(0, 1, &no_owner);
  CheckWorkerAccess(worker_id, no_owner ? InvalidOid : DatumGetObjectId(owner));
}

}  // namespace

void RequireNoForeignAttempts(const char* worker_id) {
  if (CallerIsQueueAdmin()) return;
  Datum claimer[2] = {CStringGetTextDatum(worker_id), ObjectIdGetDatum(CallingRole())};
  if (SpiRun(foreign_attempt, claimer, nullptr, SPI_OK_SELECT) > 0) RaiseForeignWorker(worker_id);
}

namespace {

// Refuse a new worker id past settings.max_workers_per_role (54000): one
// role must not fill the registry that every maintenance pass and every
// claim of a waiting farm reads. Registrations of one role take turns (a
// lock on the role in this database, held to the end of the transaction),
// and each counts on a snapshot taken after its wait, also in a REPEATABLE
// READ transaction, so concurrent ones cannot pass the limit together. (SPI
// connected.)
void RequireRoomForWorker(const Config& config, Datum worker_id) {
  if (CallerIsQueueAdmin()) return;
  Oid role = CallingRole();
  LockDatabaseObject(AuthIdRelationId, role, 0, ExclusiveLock);
  Datum args[2] = {worker_id, ObjectIdGetDatum(role)};
  SpiRunOnLatestSnapshot(ids_of_role, SPI_OK_SELECT, args);
  int64 registered = DatumGetInt64(SpiValueNotNull(0, 1));
  if (registered >= config.max_workers_per_role)
    ereport(ERROR,
            (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
             errmsg("role \"%s\" has %lld worker ids registered, the most it may have",
                    GetUserNameFromId(role, false), static_cast<long long>(registered)),
             errdetail("queue.settings.max_workers_per_role is %d.", config.max_workers_per_role),
             errhint("Reuse worker ids (one per render host, say). A worker dead for longer "
                     "than settings.retention with no render left running is removed, which "
                     "frees its id.")));
}

Datum RegisterWorker(FunctionCallInfo fcinfo) {
  const Config& config = RefreshConfig();
  char* worker_id = RequiredText(fcinfo, 0, "worker_id", kMaxIdLength);
  char** resources = nullptr;
  int resource_count = OptionalTextArray(fcinfo, 1, "resources", &resources);
  for (int i = 0; i < resource_count; i++) RequireResource(config, resources[i]);
  RequireArgument(fcinfo, 2, "capacity");
  int capacity = PG_GETARG_INT32(2);
  if (capacity < 1 || capacity > kMaxCapacity)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("capacity must be between 1 and %d", kMaxCapacity),
                    errdetail("The value given is %d.", capacity)));
  Datum args[5] = {CStringGetTextDatum(worker_id), PG_ARGISNULL(1) ? 0 : PG_GETARG_DATUM(1),
                   Int32GetDatum(capacity), ObjectIdGetDatum(CallingRole()),
                   BoolGetDatum(CallerIsQueueAdmin())};
  char nulls[5] = {' ', PG_ARGISNULL(1) ? 'n' : ' ', ' ', ' ', ' '};
  TupleDesc desc = ResultRowDescriptor(fcinfo);
  SpiConnect();
  RequireNoForeignAttempts(worker_id);
  RequireRoomForWorker(config, args[0]);
  if (SpiRun(upsert_worker, args, nulls, SPI_OK_INSERT_RETURNING) == 0)
    RaiseForeignWorker(worker_id);
  HeapTupleHeader row = SPI_returntuple(SPI_tuptable->vals[0], desc);
  SpiFinish();
  return PointerGetDatum(row);
}

Datum Heartbeat(FunctionCallInfo fcinfo) {
  char* worker_id = RequiredText(fcinfo, 0, "worker_id", kMaxIdLength);
  Datum id = CStringGetTextDatum(worker_id);
  InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
  Tuplestorestate* result = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo)->setResult;
  SpiConnect();
  UpdateOwnWorker(beat, worker_id, id);
  uint64 rows = SpiRun(cancel_requests, &id, nullptr, SPI_OK_SELECT);
  for (uint64 i = 0; i < rows; i++) tuplestore_puttuple(result, SPI_tuptable->vals[i]);
  SpiFinish();
  return static_cast<Datum>(0);
}

Datum DrainWorker(FunctionCallInfo fcinfo) {
  char* worker_id = RequiredText(fcinfo, 0, "worker_id", kMaxIdLength);
  Datum id = CStringGetTextDatum(worker_id);
  SpiConnect();
  UpdateOwnWorker(drain, worker_id, id);
  SpiFinish();
  PG_RETURN_BOOL(true);
}

}  // namespace

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_register_worker, queue::RegisterWorker)
QUEUE_SQL_FUNCTION(queue_heartbeat, queue::Heartbeat)
QUEUE_SQL_FUNCTION(queue_drain_worker, queue::DrainWorker)
