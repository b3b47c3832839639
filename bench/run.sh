#!/usr/bin/env bash
# bench/run.sh — throughput and latency figures of the queue extension, each
# next to a raw-SQL baseline measured in the same run on the same server.
#
#   bench/run.sh              from the repository root (or anywhere)
#
# What it does:
#   1. installs missing apt packages (PostgreSQL 15 server + dev headers,
#      pgbench, g++, make), builds the extension from this checkout and
#      installs it (make -j2 && make install; root or sudo);
#   2. starts a throwaway cluster (initdb in a temp dir, a free port, queue
#      preloaded, its background worker off) that is removed on exit;
#   3. measures with pgbench and the scripts under bench/sql/:
#        enqueue            vs a plain INSERT into a table shaped like queue.jobs
#        claim + complete   vs the raw SKIP LOCKED claim + UPDATE to completed
#        batch claim        dequeue(w, 10) vs dequeue(w, 1), in jobs/s
#        position/job_status/stats latency at 10k, 100k, 1M queued jobs
#                           vs counting the rows ahead with SQL
#        enqueue at 1M queued vs at 1k queued
#        enqueue with queue.notify on vs off
#      and prints the figures and their ratios to stdout (nothing is written
#      into the repository).
#
# Knobs (environment): BENCH_SECONDS (per throughput run, default 10),
# BENCH_ROUNDS (alternating baseline/queue rounds, default 2),
# BENCH_LATENCY_SECONDS (per latency run, default 5), BENCH_CLIENTS (4),
# BENCH_THREADS (2), BENCH_PORT (first port tried, default 5530),
# BENCH_SKIP_BUILD=1 (use the installed extension as is).
# Total runtime on a 2-core machine with the defaults: about 7-9 minutes.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SQL_DIR="$REPO/bench/sql"
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-2}
LATENCY_SECONDS=${BENCH_LATENCY_SECONDS:-5}
CLIENTS=${BENCH_CLIENTS:-4}
THREADS=${BENCH_THREADS:-2}
FIRST_PORT=${BENCH_PORT:-5530}
# shellcheck source=../scripts/cluster.sh
source "$REPO/scripts/cluster.sh"

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

WORK=""
cleanup() {
  local status=$?
  remove_cluster
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql_q() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres -d postgres -At "$@"
}

setup_schema() {
  psql_q <<'EOF'
CREATE EXTENSION queue;
-- Limits out of the way: the benchmark measures the cost of a claim, not a cap.
UPDATE queue.settings SET max_concurrent = 100000;
UPDATE queue.resources SET max_concurrent = 100000 WHERE resource = 'manim';
-- The baseline table: queue.jobs' columns, defaults, constraints and indexes,
-- without its triggers, audit trail or functions.
CREATE SCHEMA bench;
CREATE TABLE bench.jobs_raw (LIKE queue.jobs INCLUDING ALL) WITH (fillfactor = 80);
-- For the diagnostic "INSERT + audit row" baseline: queue.job_events' shape.
CREATE TABLE bench.events_raw (LIKE queue.job_events INCLUDING ALL);
EOF
}

# The job mix of every pre-fill, as SQL expressions of i: 30% doubt (high),
# 40% topic_short (medium), 30% daily_ca (low); 20% of them render with manim.
MIX_TYPE="CASE WHEN i % 10 < 3 THEN 'doubt' WHEN i % 10 < 7 THEN 'topic_short' ELSE 'daily_ca' END"
MIX_PRIORITY="CASE WHEN i % 10 < 3 THEN 'high' WHEN i % 10 < 7 THEN 'medium' ELSE 'low' END::queue.priority"
MIX_RESOURCE="CASE WHEN i % 10 IN (5, 9) THEN 'manim' END"
MIX_PAYLOAD="jsonb_build_object('topic', i % 500, 'lang', 'en')"
MIX_USER="'student-' || (i % 50000)"

# Add $1 jobs to the queue through queue.enqueue(), 100k per transaction.
fill_queue() {
  local left=$1 chunk
  while ((left > 0)); do
    chunk=$((left < 100000 ? left : 100000))
    psql_q -c "SELECT count(queue.enqueue($MIX_TYPE, $MIX_PAYLOAD, $MIX_USER, NULL, $MIX_RESOURCE))
               FROM generate_series(1, $chunk) AS i" >/dev/null
    left=$((left - chunk))
  done
}

# Add $1 jobs of the same mix to the baseline table with plain INSERTs.
fill_raw() {
  psql_q -c "INSERT INTO bench.jobs_raw (job_type, priority, resource, payload, user_id, owner,
                                         max_attempts, timeout)
             SELECT $MIX_TYPE, $MIX_PRIORITY, $MIX_RESOURCE, $MIX_PAYLOAD, $MIX_USER,
                    'postgres'::regrole, 4, '10 minutes'
               FROM generate_series(1, $1) AS i" >/dev/null
}

reset_queue() { psql_q -c "TRUNCATE queue.jobs, queue.job_events RESTART IDENTITY"; }
reset_raw() { psql_q -c "TRUNCATE bench.jobs_raw, bench.events_raw RESTART IDENTITY"; }
queued_queue() { psql_q -c "SELECT count(*) FROM queue.jobs WHERE status = 'queued'"; }
queued_raw() { psql_q -c "SELECT count(*) FROM bench.jobs_raw WHERE status = 'queued'"; }

# Quiet the server between runs: vacuum what the runs touch, flush dirty pages.
settle() {
  psql_q -c "VACUUM ANALYZE queue.jobs" -c "VACUUM ANALYZE queue.job_events" \
    -c "VACUUM ANALYZE bench.jobs_raw" -c "VACUUM ANALYZE bench.events_raw" -c "CHECKPOINT"
}

# pgbench NAME SCRIPT [pgbench options...]: sets TPS, LAT (ms) and ERRORS.
RESULT_LOG=""
pgb() {
  local name=$1 script=$2 out status
  shift 2
  out=$(mktemp "$WORK/pgbench.XXXXXX")
  set +e
  "$PG_BIN/pgbench" -n -M prepared -h "$WORK" -p "$PORT" -U postgres "$@" \
    -f "$SQL_DIR/$script" postgres >"$out" 2>&1
  status=$?
  set -e
  TPS=$(awk '/^tps = /{print $3; exit}' "$out")
  LAT=$(awk '/^latency average = /{print $4; exit}' "$out")
  ERRORS=$(grep -c -E 'aborted|ERROR' "$out" || true)
  if [[ $status -ne 0 || -z $TPS ]]; then
    log "bench: pgbench $name exited with $status:"
    tail -5 "$out" >&2
    TPS=${TPS:-0}
    LAT=${LAT:-0}
  fi
  printf '  %-42s %10.1f tps  %8.3f ms%s\n' "$name" "$TPS" "$LAT" \
    "$( ((ERRORS > 0)) && echo "  ($ERRORS errors/aborts!)")"
  RESULT_LOG+="$name|$TPS|$LAT"$'\n'
}

THROUGHPUT=()
throughput_opts() { THROUGHPUT=(-c "$CLIENTS" -j "$THREADS" -T "$SECONDS_PER_RUN"); }
LATENCY=(-c 1 -j 1 -T "$LATENCY_SECONDS")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
mean() { awk '{ s += $1; n++ } END { if (n) printf "%.1f", s / n; else print 0 }' <<<"$(printf '%s\n' "$@")"; }
verdict() { awk -v r="$1" -v t="$2" -v op="$3" 'BEGIN {
  ok = (op == ">=") ? (r >= t) : (r <= t); printf "%s", ok ? "meets target" : "BELOW TARGET" }'; }

SUMMARY=()
summary() { SUMMARY+=("$*"); printf '%s\n' "$*"; }

# ---------------------------------------------------------------------------

install_packages postgresql-15 postgresql-server-dev-15 postgresql-contrib g++ make
build_and_install "${BENCH_SKIP_BUILD:-0}"
start_cluster queue-bench "$FIRST_PORT" <<'CONF'
queue.enabled = off
queue.notify = off
synchronous_commit = off
shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 30min
max_connections = 50
CONF
setup_schema
throughput_opts

cpu=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
cat <<EOF
queue benchmark — $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
machine: $(nproc) CPUs ($cpu), $(awk '/MemTotal/{printf "%.0f GB", $2/1048576}' /proc/meminfo) RAM
server:  $("$PG_BIN/postgres" --version), throwaway cluster on port $PORT
         shared_buffers=1GB, max_wal_size=8GB, synchronous_commit=off (applies to queue and
         baseline alike: the figures compare CPU cost, not fsync latency), queue.enabled=off
         (no background ticks), queue.notify=off unless stated
pgbench: -M prepared; throughput runs -c $CLIENTS -j $THREADS -T $SECONDS_PER_RUN, $ROUNDS alternating rounds
         per pair (mean tps reported); latency runs -c 1 -j 1 -T $LATENCY_SECONDS (mean latency)
limits:  settings.max_concurrent=100000, resources.manim=100000; job mix 30% doubt/40%
         topic_short/30% daily_ca, 20% manim; workers unregistered (w<client id>)

EOF

# --- 1. enqueue vs INSERT, notify off/on; every run starts at 1k queued -----
echo "== 1. enqueue vs plain INSERT (each run starts with 1,000 queued jobs)"
enq=() raw=() notify=() audit=()
for ((round = 1; round <= ROUNDS; round++)); do
  reset_raw; fill_raw 1000; settle
  pgb "raw INSERT (round $round)" raw_insert.sql "${THROUGHPUT[@]}"; raw+=("$TPS")
  reset_raw; fill_raw 1000; settle
  pgb "raw INSERT + audit row (round $round)" raw_insert_audit.sql "${THROUGHPUT[@]}"; audit+=("$TPS")
  reset_queue; fill_queue 1000; settle
  pgb "queue.enqueue, notify off (round $round)" enqueue.sql "${THROUGHPUT[@]}"; enq+=("$TPS")
  reset_queue; fill_queue 1000; settle
  PGOPTIONS="-c queue.notify=on" pgb "queue.enqueue, notify on (round $round)" enqueue.sql "${THROUGHPUT[@]}"
  notify+=("$TPS")
done
ENQ=$(mean "${enq[@]}") RAW=$(mean "${raw[@]}") NOTIFY=$(mean "${notify[@]}") AUDIT=$(mean "${audit[@]}")
r=$(ratio "$ENQ" "$RAW")
summary "enqueue: $ENQ tps vs raw insert $RAW tps = ${r}x (target >= 0.85: $(verdict "$r" 0.85 ">="))"
summary "  (diagnostic) raw insert + audit row: $AUDIT tps = $(ratio "$AUDIT" "$RAW")x of raw insert; enqueue = $(ratio "$ENQ" "$AUDIT")x of it"
echo

# --- 2. claim + complete, batch claims --------------------------------------
echo "== 2. claim + complete (one job per transaction) and batch claims"
# Enough queued jobs that no run drains its table: 15k jobs/s of headroom.
need=$((15000 * SECONDS_PER_RUN))
reset_queue; reset_raw
fill_queue "$need"; fill_raw "$need"
topup() {  # keep both tables at least $need queued jobs deep
  local q r
  q=$(queued_queue); r=$(queued_raw)
  ((q >= need)) || fill_queue $((need - q))
  ((r >= need)) || fill_raw $((need - r))
}
claim=() rawclaim=() b1=() b10=() generic=()
for ((round = 1; round <= ROUNDS; round++)); do
  topup; settle
  pgb "raw SKIP LOCKED claim+complete (round $round)" raw_claim_complete.sql "${THROUGHPUT[@]}"; rawclaim+=("$TPS")
  topup; settle
  pgb "dequeue(w,1)+complete (round $round)" claim_complete.sql "${THROUGHPUT[@]}"; claim+=("$TPS")
  # Diagnostic: the same with the server's plan cache forced to generic plans.
  topup; settle
  PGOPTIONS="-c plan_cache_mode=force_generic_plan" \
    pgb "  same, plan_cache_mode=force_generic_plan" claim_complete.sql "${THROUGHPUT[@]}"; generic+=("$TPS")
done
for ((round = 1; round <= ROUNDS; round++)); do
  topup; settle
  pgb "batch: dequeue(w,1)+complete, txn/s (round $round)" claim_batch.sql "${THROUGHPUT[@]}" -D batch=1; b1+=("$TPS")
  topup; settle
  pgb "batch: dequeue(w,10)+complete, txn/s (round $round)" claim_batch.sql "${THROUGHPUT[@]}" -D batch=10
  b10+=("$(awk -v t="$TPS" 'BEGIN { printf "%.1f", t * 10 }')")
done
left_q=$(queued_queue) left_r=$(queued_raw)
CLAIM=$(mean "${claim[@]}") RAWCLAIM=$(mean "${rawclaim[@]}") GENERIC=$(mean "${generic[@]}")
B1=$(mean "${b1[@]}") B10=$(mean "${b10[@]}")
if ((left_q > 0 && left_r > 0)); then
  echo "  (queued jobs left afterwards: queue $left_q, baseline $left_r: neither side ran dry)"
else
  echo "  WARNING: a side ran dry (queued left: queue $left_q, baseline $left_r); raise the pre-fill"
fi
r=$(ratio "$CLAIM" "$RAWCLAIM")
summary "claim+complete: $CLAIM tps vs raw SKIP LOCKED $RAWCLAIM tps = ${r}x (target >= 0.75: $(verdict "$r" 0.75 ">="))"
summary "  (diagnostic) with plan_cache_mode=force_generic_plan: $GENERIC tps = $(ratio "$GENERIC" "$RAWCLAIM")x of raw"
r=$(ratio "$B10" "$B1")
summary "batch claim: dequeue(w,10) $B10 jobs/s vs dequeue(w,1) $B1 jobs/s = ${r}x (target >= 2: $(verdict "$r" 2 ">="))"
echo

# --- 3. positions, job_status, stats at 10k / 100k / 1M queued ---------------
echo "== 3. position / job_status / stats latency by queue depth (all jobs queued, random ids)"
reset_queue
declare -A LAT_AT
have=0
for size in 10000 100000 1000000; do
  t0=$(date +%s)
  fill_queue $((size - have)); have=$size
  settle
  echo "  -- $size queued (filled in $(($(date +%s) - t0)) s)"
  for what in position job_status stats raw_position; do
    pgb "$what @ $size" $what.sql "${LATENCY[@]}" -D lo=1 -D hi="$size"
    LAT_AT[$what,$size]=$LAT
  done
done
for what in position job_status stats raw_position; do
  label=$what
  [[ $what == raw_position ]] && label="baseline count(*) ahead"
  summary "$(printf '%-24s latency ms: 10k %7.3f | 100k %7.3f | 1M %8.3f | growth 1M/10k = %sx' \
    "$label" "${LAT_AT[$what,10000]}" "${LAT_AT[$what,100000]}" "${LAT_AT[$what,1000000]}" \
    "$(ratio "${LAT_AT[$what,1000000]}" "${LAT_AT[$what,10000]}")")"
done
for size in 10000 100000 1000000; do
  summary "$(printf 'position @ %-8s %7.3f ms vs baseline count(*) ahead %8.3f ms = %sx faster' "$size" \
    "${LAT_AT[position,$size]}" "${LAT_AT[raw_position,$size]}" \
    "$(ratio "${LAT_AT[raw_position,$size]}" "${LAT_AT[position,$size]}")")"
done
echo

# --- 4. enqueue at 1M queued -------------------------------------------------
echo "== 4. enqueue with 1,000,000 queued jobs (compare with section 1: 1,000 queued)"
big=()
for ((round = 1; round <= ROUNDS; round++)); do
  settle
  pgb "queue.enqueue @ 1M queued (round $round)" enqueue.sql "${THROUGHPUT[@]}"; big+=("$TPS")
done
# The same for the baseline: how much of any slow-down is the bigger table.
reset_raw; fill_raw 1000000
bigraw=()
for ((round = 1; round <= ROUNDS; round++)); do
  settle
  pgb "raw INSERT @ 1M rows (round $round)" raw_insert.sql "${THROUGHPUT[@]}"; bigraw+=("$TPS")
done
BIG=$(mean "${big[@]}") BIGRAW=$(mean "${bigraw[@]}")
r=$(ratio "$BIG" "$ENQ")
summary "enqueue @1M queued: $BIG tps vs @1k queued $ENQ tps = ${r}x (target within 10%: $(verdict "$r" 0.90 ">="))"
summary "  (diagnostic) raw insert @1M rows: $BIGRAW tps vs @1k rows $RAW tps = $(ratio "$BIGRAW" "$RAW")x"
r=$(ratio "$NOTIFY" "$ENQ")
summary "enqueue notify on: $NOTIFY tps vs notify off $ENQ tps = ${r}x (no listener connected)"
echo

echo "== summary"
printf '%s\n' "${SUMMARY[@]}"
echo "(total runtime $((SECONDS / 60)) min $((SECONDS % 60)) s)"
