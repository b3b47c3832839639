// Building PostgreSQL datums from plain C++ values.
#pragma once

#include "queue/pg.hpp"

namespace queue {

// The row type a function returns, ready for heap_form_tuple.
TupleDesc ResultRowDescriptor(FunctionCallInfo fcinfo);

// An interval of the given microseconds.
Datum IntervalDatum(policy::Micros micros);

// A text[] of C strings.
Datum TextArrayDatum(char* const* items, int count);

// A bigint[].
Datum Int64ArrayDatum(const int64* values, int count);

// A timestamptz[]; `nulls` (optional) marks the NULL elements.
Datum TimestampArrayDatum(const TimestampTz* values, int count, const bool* nulls = nullptr);

// A double precision[].
Datum Float8ArrayDatum(const double* values, int count);

}  // namespace queue
