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

// A one-dimensional array of 8-byte pass-by-value elements; `nulls` (may be
// null) marks the NULL ones.
static Datum Int8WidthArray(const Datum* datums, const bool* nulls, int count, Oid element_type) {
  int dims[1] = {count};
  int lower_bounds[1] = {1};
  return PointerGetDatum(construct_md_array(const_cast<Datum*>(datums), const_cast<bool*>(nulls),
                                            1, dims, lower_bounds, element_type, 8, true,
                                            TYPALIGN_DOUBLE));
}

static Datum Int8WidthArray(const int64* values, const bool* nulls, int count, Oid element_type) {
  Datum* datums = static_cast<Datum*>(palloc(sizeof(Datum) * (count + 1)));
  for (int i = 0; i < count; i++) datums[i] = Int64GetDatum(values[i]);
  return Int8WidthArray(datums, nulls, count, element_type);
}

Datum Int64ArrayDatum(const int64* values, int count) {
  return Int8WidthArray(values, nullptr, count, INT8OID);
}

Datum TimestampArrayDatum(const TimestampTz* values, int count, const bool* nulls) {
  static_assert(sizeof(TimestampTz) == sizeof(int64), "timestamptz is an int64");
  return Int8WidthArray(values, nulls, count, TIMESTAMPTZOID);
}

Datum Float8ArrayDatum(const double* values, int count) {
  Datum* datums = static_cast<Datum*>(palloc(sizeof(Datum) * (count + 1)));
  for (int i = 0; i < count; i++) datums[i] = Float8GetDatum(values[i]);
  return Int8WidthArray(datums, nullptr, count, FLOAT8OID);
}

}  // namespace queue
