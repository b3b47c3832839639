// Datum builders (see datums.hpp).
#include "queue/datums.hpp"

namespace queue {

TupleDesc ResultRowDescriptor(FunctionCallInfo fcinfo) {
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    elog(ERROR, "queue: function must return a row type");
  return BlessTupleDesc(desc);
}

Datum IntervalDatum(policy::Micros micros) {
  auto* interval = static_cast<Interval*>(palloc0(sizeof(Interval)));
  interval->time = micros;
  return IntervalPGetDatum(interval);
}

Datum TextArrayDatum(char* const* items, int count) {
  Datum* datums = static_cast<Datum*>(palloc(sizeof(Datum) * (count + 1)));
  for (int i = 0; i < count; i++) datums[i] = CStringGetTextDatum(items[i]);
  return PointerGetDatum(construct_array(datums, count, TEXTOID, -1, false, TYPALIGN_INT));
}

// An array of 8-byte pass-by-value elements.
static Datum Int8WidthArray(const int64* values, int count, Oid element_type) {
  Datum* datums = static_cast<Datum*>(palloc(sizeof(Datum) * (count + 1)));
  for (int i = 0; i < count; i++) datums[i] = Int64GetDatum(values[i]);
  return PointerGetDatum(construct_array(datums, count, element_type, 8, true, TYPALIGN_DOUBLE));
}

Datum Int64ArrayDatum(const int64* values, int count) {
  return Int8WidthArray(values, count, INT8OID);
}

Datum TimestampArrayDatum(const TimestampTz* values, int count) {
  static_assert(sizeof(TimestampTz) == sizeof(int64), "timestamptz is an int64");
  return Int8WidthArray(values, count, TIMESTAMPTZOID);
}

}  // namespace queue
