// The render-worker registry: queue.register_worker(), queue.heartbeat(),
// queue.drain_worker().
//
// A registered worker states the resources it renders and its slots;
// dequeue() never gives it more jobs than free slots or a resource it cannot
// render. A worker silent for settings.worker_timeout is marked dead by
// tick() and its attempts are recovered; a heartbeat brings it back.
#include "queue/arguments.hpp"
#include "queue/boundary.hpp"
#include "queue/config.hpp"
#include "queue/datums.hpp"
#include "queue/spi.hpp"

namespace queue {

namespace {

constexpr int kMaxCapacity = 10000;

SavedPlan upsert_worker = {
    "INSERT INTO queue.workers (worker_id, resources, capacity) VALUES ($1, $2, $3)"
    " ON CONFLICT (worker_id) DO UPDATE SET resources = excluded.resources,"
    "   capacity = excluded.capacity, state = 'active', last_heartbeat = now()"
    " RETURNING *",
    3,
    {TEXTOID, TEXTARRAYOID, INT4OID},
    nullptr};

SavedPlan beat = {
    "UPDATE queue.workers SET last_heartbeat = now(),"
    " state = CASE WHEN state = 'dead' THEN 'active'::queue.worker_state ELSE state END"
    " WHERE worker_id = $1",
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
    "UPDATE queue.workers SET state = 'draining' WHERE worker_id = $1", 1, {TEXTOID}, nullptr};

[[noreturn]] void RaiseUnknownWorker(const char* worker_id) {
  ereport(ERROR,
          (errcode(ERRCODE_NO_DATA_FOUND), errmsg("worker \"%s\" is not registered", worker_id),
           errhint("Register it first with queue.register_worker().")));
  pg_unreachable();
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
  Datum args[3] = {CStringGetTextDatum(worker_id), PG_ARGISNULL(1) ? 0 : PG_GETARG_DATUM(1),
                   Int32GetDatum(capacity)};
  char nulls[3] = {' ', PG_ARGISNULL(1) ? 'n' : ' ', ' '};
  TupleDesc desc = ResultRowDescriptor(fcinfo);
  SpiConnect();
  SpiRun(upsert_worker, args, nulls, SPI_OK_INSERT_RETURNING);
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
  if (SpiRun(beat, &id, nullptr, SPI_OK_UPDATE) == 0) RaiseUnknownWorker(worker_id);
  uint64 rows = SpiRun(cancel_requests, &id, nullptr, SPI_OK_SELECT);
  for (uint64 i = 0; i < rows; i++) tuplestore_puttuple(result, SPI_tuptable->vals[i]);
  SpiFinish();
  return static_cast<Datum>(0);
}

Datum DrainWorker(FunctionCallInfo fcinfo) {
  char* worker_id = RequiredText(fcinfo, 0, "worker_id", kMaxIdLength);
  Datum id = CStringGetTextDatum(worker_id);
  SpiConnect();
  if (SpiRun(drain, &id, nullptr, SPI_OK_UPDATE) == 0) RaiseUnknownWorker(worker_id);
  SpiFinish();
  PG_RETURN_BOOL(true);
}

}  // namespace

}  // namespace queue

QUEUE_SQL_FUNCTION(queue_register_worker, queue::RegisterWorker)
QUEUE_SQL_FUNCTION(queue_heartbeat, queue::Heartbeat)
QUEUE_SQL_FUNCTION(queue_drain_worker, queue::DrainWorker)
