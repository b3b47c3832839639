// Translation of enum datums to policy enums, with a small per-backend memo.
#include "queue/enums.hpp"

extern "C" {
#include "catalog/pg_enum.h"
#include "utils/syscache.h"
}

#include <optional>

namespace queue {

namespace {

// pg_enum OIDs met so far and the ordinal they stand for. OIDs of both enums
// never collide, so one memo serves both.
struct EnumLabel {
  Oid oid;
  int value;
};
constexpr int kMemoSize = 32;
EnumLabel memo[kMemoSize];
int memo_used = 0;

template <typename Enum, typename Parse>
Enum EnumValue(Datum datum, Parse parse) {
  Oid oid = DatumGetObjectId(datum);
  for (int i = 0; i < memo_used; i++)
    if (memo[i].oid == oid) return static_cast<Enum>(memo[i].value);
  HeapTuple tuple = SearchSysCache1(ENUMOID, ObjectIdGetDatum(oid));
  if (!HeapTupleIsValid(tuple)) elog(ERROR, "queue: cache lookup failed for enum value %u", oid);
  std::optional<Enum> parsed = parse(NameStr(((Form_pg_enum)GETSTRUCT(tuple))->enumlabel));
  ReleaseSysCache(tuple);
  if (!parsed) elog(ERROR, "queue: unexpected enum value %u", oid);
  if (memo_used == kMemoSize) memo_used = 0;  // extension recreated many times: start over
  memo[memo_used++] = EnumLabel{oid, static_cast<int>(*parsed)};
  return *parsed;
}

}  // namespace

policy::Priority PriorityFromDatum(Datum value) {
  return EnumValue<policy::Priority>(value, policy::ParsePriority);
}

policy::JobStatus StatusFromDatum(Datum value) {
  return EnumValue<policy::JobStatus>(value, policy::ParseJobStatus);
}

}  // namespace queue
