#!/usr/bin/env bash
# bench/run.sh: throughput and latency of the queue extension next to raw-SQL
# baselines, measured as a new user runs it: durable commits (fsync = on,
# synchronous_commit = on, the server defaults), the background worker on.
#
#   bench/run.sh                         the default run (about 20 minutes on a
#                                        2-core machine)
#   bench/run.sh --soak MINUTES          only the soak (warm-up + MINUTES + under
#                                        a minute)
#   bench/run.sh --soak MINUTES --soak-hold-snapshot
#                                        the soak twice, in turn: as above, then
#                                        with a REPEATABLE READ transaction held
#                                        open through the counted minutes (twice
#                                        as long)
#
# What it does:
#   1. installs missing apt packages (PostgreSQL 15 server, dev headers and
#      libpq, pgbench, g++, make), builds the extension from this checkout and
#      installs it (root or sudo), and builds the two helpers of this folder
#      (wakeup_latency.cpp, soak_load.cpp) into the throwaway directory;
#   2. starts a throwaway cluster (initdb in a temp dir, a free port, queue
#      preloaded, its background worker serving the database postgres and
#      ticking every second), removed on exit;
#   3. measures, systems in turn, round after round (fsync latency on these
#      machines drifts 2× over minutes, so only figures of the same round are
#      compared), with 4 pgbench clients; each round prints every system's
#      figure and its ratio to the baseline of the same round, and each group
#      ends with the median of the per-round ratios; beside throughput, the
#      server CPU each job cost (postmaster, backends, background worker and
#      the rest, read from /proc around the run), which fsync latency does
#      not move, and its ratios the same way; and each run's steal, the share
#      of the machine's CPU time the host took (0-40% in phases of minutes on
#      these virtual machines), with the medians again over the quiet rounds,
#      those whose compared runs all had steal <= BENCH_QUIET_STEAL %:
#      1. enqueue, one job per transaction: plain INSERT into a table shaped
#         like queue.jobs; the same + one audit row (a table shaped like
#         queue.job_events); queue.enqueue (notify on, the default);
#         queue.enqueue with queue.notify = off;
#      2. claim + complete: the raw pair (UPDATE … WHERE id = (SELECT … FOR
#         UPDATE SKIP LOCKED LIMIT 1), UPDATE to completed); the same + an audit
#         row per transition; dequeue(w, 1) + complete(id, w, NULL, attempt),
#         one job per transaction, a registered worker, every limit on (set
#         high enough not to bind, Manim a resource); batches: the raw claim of
#         100 and their completion, without and with audit rows (the baseline),
#         and dequeue(w, 100) + completing those 100 in the
#         same transaction (queue.complete_many when it exists, else 100
#         queue.complete calls in one statement), in jobs/s;
#      3. wake-up latency: an enqueue's commit returning to its client → a
#         client LISTENing on queue_jobs receives the notification, p50/p99,
#         idle and under the enqueue load of section 1;
#      4. latencies at scale: position/job_status at 10k and 1M queued, in
#         the server before and after VACUUM (and the baseline count(*) of the
#         rows ahead), stats() and one tick() pass
#         with 1M queued, BENCH_FINISHED finished jobs and 10k processing;
#         then stats() again once the first BENCH_SCHEDULED of the low
#         priority's queued jobs are put off to tomorrow (a batch scheduled
#         for later at the head of its priority, which its oldest wait passes
#         over), and position()/job_status() of the low jobs behind it.
#   --soak: a steady mixed load (enqueue; claim + complete, 5% failures that
#      come back as retries after 1 s; positions polled; the background
#      worker ticking and pruning with settings.retention = 1 minute), one
#      line per minute: claims completed/s, dequeue p50/p99, finished jobs
#      past retention not pruned yet, sizes of queue.jobs and queue.job_events
#      with their indexes, server CPU, buffer accesses and WAL bytes per
#      completed job, steal, and a probe of the machine's speed; then the last
#      minute's throughput and work per job as ratios of the first, the same
#      throughput ratio over the quiet minutes (steal <= BENCH_QUIET_STEAL %)
#      (and, with the held snapshot, the held soak's throughput over the plain
#      one).
#      The load runs BENCH_SOAK_WARMUP minutes first, printed as w1, w2, ...
#      and left out of the ratios: pruning starts once the first jobs are a
#      retention old, so the minutes before it are not the steady state.
#   Everything is printed to stdout; nothing is written into the repository.
#
# Knobs (environment):
#   BENCH_ROUNDS (4), BENCH_SECONDS (10, per system per round), BENCH_CLIENTS (4),
#   BENCH_THREADS (2), BENCH_BATCH (100, jobs per batch claim), BENCH_QUIET_STEAL (5:
#   the steal %, at most, of both runs of a round for the "quiet rounds" medians,
#   and of a soak's quiet minutes),
#   BENCH_ASYNC=1 (every throughput run again with synchronous_commit = off, a
#   second column; doubles sections 1-2), BENCH_SECTIONS (enqueue,claim,wakeup,scale),
#   BENCH_WAKEUPS (300 enqueues per wake-up measurement), BENCH_WAKEUP_GAP_MS (5),
#   BENCH_LATENCY_SECONDS (5, per latency run), BENCH_FINISHED (10000000 finished jobs
#   behind stats() and tick(): up to 100k through the API, the rest in bulk, about
#   5 minutes a 10M),
#   BENCH_DEEP (1000000, the deep queue of section 4), BENCH_SCHEDULED (200000, the
#   jobs put off in section 4),
#   BENCH_PROFILE=1 (pg_stat_statements, track = all: the costliest statements after
#   sections 1 and 2; costs a few % of throughput), BENCH_SOAK_CLIENTS (4),
#   BENCH_SOAK_BACKLOG (20000 queued at the start), BENCH_SOAK_FAIL_PERCENT (5),
#   BENCH_SOAK_WARMUP (2 minutes of load before the soak's counted minutes),
#   BENCH_SOAK_POLL_EVERY (10 cycles per position poll), BENCH_PORT (first port
#   tried, 5530), BENCH_SKIP_BUILD=1 (use the installed extension as is),
#   BENCH_PG_BIN (the PostgreSQL 15 bin directory to run; default the system's).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR="$REPO/bench"
SQL_DIR="$BENCH_DIR/sql"
ROUNDS=${BENCH_ROUNDS:-4}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-4}
THREADS=${BENCH_THREADS:-2}
BATCH=${BENCH_BATCH:-100}
ASYNC=${BENCH_ASYNC:-0}
SECTIONS=${BENCH_SECTIONS:-enqueue,claim,wakeup,scale}
WAKEUPS=${BENCH_WAKEUPS:-300}
WAKEUP_GAP_MS=${BENCH_WAKEUP_GAP_MS:-5}
LATENCY_SECONDS=${BENCH_LATENCY_SECONDS:-5}
FINISHED=${BENCH_FINISHED:-10000000}
DEEP=${BENCH_DEEP:-1000000}
SCHEDULED=${BENCH_SCHEDULED:-200000}
PROFILE=${BENCH_PROFILE:-0}
QUIET_STEAL=${BENCH_QUIET_STEAL:-5}
SOAK_CLIENTS=${BENCH_SOAK_CLIENTS:-4}
SOAK_BACKLOG=${BENCH_SOAK_BACKLOG:-20000}
SOAK_FAIL_PERCENT=${BENCH_SOAK_FAIL_PERCENT:-5}
SOAK_WARMUP=${BENCH_SOAK_WARMUP:-2}
SOAK_POLL_EVERY=${BENCH_SOAK_POLL_EVERY:-10}
FIRST_PORT=${BENCH_PORT:-5530}

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

SOAK_MINUTES=""
HOLD_SNAPSHOT=0
while (($#)); do
  case $1 in
    --soak) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--soak takes a number of minutes"
            SOAK_MINUTES=$2; shift 2 ;;
    --soak-hold-snapshot) HOLD_SNAPSHOT=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
((HOLD_SNAPSHOT == 0)) || [[ -n $SOAK_MINUTES ]] || die "--soak-hold-snapshot needs --soak MINUTES"

# shellcheck source=../scripts/cluster.sh
source "$REPO/scripts/cluster.sh"
PG_BIN=${BENCH_PG_BIN:-$PG_BIN}

WORK=""
cleanup() {
  local status=$?
  [[ -n ${LOAD_PID:-} ]] && kill "$LOAD_PID" 2>/dev/null
  remove_cluster
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql_q() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres -d postgres -At "$@"
}

# The job mix of every pre-fill, as SQL expressions of i: 30% doubt (high),
# 40% topic_short (medium), 30% daily_ca (low); 20% of them render with manim.
MIX_TYPE="CASE WHEN i % 10 < 3 THEN 'doubt' WHEN i % 10 < 7 THEN 'topic_short' ELSE 'daily_ca' END"
MIX_PRIORITY="CASE WHEN i % 10 < 3 THEN 'high' WHEN i % 10 < 7 THEN 'medium' ELSE 'low' END::queue.priority"
MIX_RESOURCE="CASE WHEN i % 10 IN (5, 9) THEN 'manim' END"
MIX_PAYLOAD="jsonb_build_object('topic', i % 500, 'lang', 'en')"
MIX_USER="'student-' || (i % 50000)"

setup_schema() {
  psql_q <<EOF
CREATE EXTENSION queue;
-- Limits that never bind: the benchmark measures the cost of a claim with
-- every limit checked, not a cap. Manim stays a limited resource.
UPDATE queue.settings SET max_concurrent = 100000;
UPDATE queue.resources SET max_concurrent = 100000 WHERE resource = 'manim';
-- The render workers of the pgbench clients (client_id 0, 1, …): registered,
-- so each claim goes through the registry, with slots that never bind.
SELECT count(queue.register_worker('w' || i, NULL, 10000)) FROM generate_series(0, $((CLIENTS - 1))) AS i \g /dev/null
-- A job type of its own for the wake-up probe under load (NOTIFY payload).
INSERT INTO queue.job_types (job_type, priority) VALUES ('bench_probe', 'low');
-- The baseline tables: queue.jobs' and queue.job_events' columns, defaults,
-- constraints and indexes, without triggers, audit trail or functions.
CREATE SCHEMA bench;
CREATE TABLE bench.jobs_raw (LIKE queue.jobs INCLUDING ALL) WITH (fillfactor = 80);
CREATE TABLE bench.events_raw (LIKE queue.job_events INCLUDING ALL);
EOF
  ((PROFILE == 0)) || psql_q -c "CREATE EXTENSION pg_stat_statements"
}

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
jobs_table() { [[ $1 == queue ]] && echo queue.jobs || echo bench.jobs_raw; }
count_status() { psql_q -c "SELECT count(*) FROM $(jobs_table "$1") WHERE status = '$2'"; }
# The share of queue.jobs' pages that vacuum marked all-visible.
all_visible_percent() {
  psql_q -c "SELECT round(100.0 * relallvisible / greatest(relpages, 1)) || '%'
               FROM pg_class WHERE oid = 'queue.jobs'::regclass"
}

# A table's size with its indexes and TOAST.
relation_size() { psql_q -c "SELECT pg_size_pretty(pg_total_relation_size('$1'))"; }

# Quiet the server before a run: vacuum what the runs touch, flush dirty pages.
settle() {
  catch_up_fold
  psql_q -c "VACUUM ANALYZE queue.jobs" -c "VACUUM ANALYZE queue.job_events" \
    -c "VACUUM ANALYZE bench.jobs_raw" -c "VACUUM ANALYZE bench.events_raw" -c "CHECKPOINT"
}

# Fold the events waiting for the monitoring pass, calling tick() (which
# folds slices for up to 5 s a call) until none wait: those of a pre-fill
# are not the measured load's, and the background worker would otherwise
# fold them during the next run. Sets FOLD_BACKLOG to how many waited.
catch_up_fold() {
  FOLD_BACKLOG=$(psql_q -c "SELECT coalesce((SELECT max(id) FROM queue.job_events), 0) - last_event_id
                              FROM queue.monitor_state")
  until [[ $(psql_q -c "SELECT coalesce((SELECT max(id) FROM queue.job_events), 0) <= last_event_id
                          FROM queue.monitor_state") == t ]]; do
    psql_q -c "SELECT 1 FROM queue.tick()" >/dev/null
  done
}

# pgb SCRIPT PGOPTIONS [pgbench options...]: sets TPS, TXNS, LAT (ms), FAILED
# (1 when pgbench failed or a client aborted) and PGB_OUT (its output file).
pgb() {
  local script=$1 options=$2 status
  shift 2
  PGB_OUT=$(mktemp "$WORK/pgbench.XXXXXX")
  set +e
  PGOPTIONS=$options "$PG_BIN/pgbench" -n -M prepared -h "$WORK" -p "$PORT" -U postgres "$@" \
    -f "$SQL_DIR/$script" postgres >"$PGB_OUT" 2>&1
  status=$?
  set -e
  TPS=$(awk '/^tps = /{print $3; exit}' "$PGB_OUT")
  TXNS=$(awk '/^number of transactions actually processed: /{print $6; exit}' "$PGB_OUT")
  LAT=$(awk '/^latency average = /{print $4; exit}' "$PGB_OUT")
  FAILED=0
  if [[ $status -ne 0 || -z $TPS ]] || grep -q -E 'aborted|ERROR' "$PGB_OUT"; then
    FAILED=1
    log "bench: pgbench $script exited with $status:"
    grep -E 'aborted|ERROR|error' "$PGB_OUT" | sort | uniq -c | head -5 >&2
  fi
  TPS=${TPS:-0} TXNS=${TXNS:-0} LAT=${LAT:-0}
}

# Server CPU time so far, in clock ticks: the postmaster, the children it has
# reaped (its cutime and cstime) and the live ones. Two readings around a run
# give the CPU the server spent on it, which the disk's fsync latency does not
# change: a steadier figure than throughput on a machine whose disk drifts.
server_cpu_ticks() {
  local child
  {
    awk '{ print $14 + $15 + $16 + $17 }' "/proc/$POSTMASTER/stat"
    for child in $(pgrep -P "$POSTMASTER"); do
      awk '{ print $14 + $15 }' "/proc/$child/stat" 2>/dev/null || true
    done
  } | awk '{ s += $1 } END { print s }'
}

# The machine's CPU ticks so far, all of them and the ones the host took
# (steal): on a virtual machine the host's other guests take CPU time by the
# tens of percent in some hours, slowing the same work. Two readings around a
# run give its steal %, printed beside its figures so that a round whose
# systems ran under different steal can be told apart.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $9 }' /proc/stat; }
steal_percent() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ")
  if (y[1] > x[1]) printf "%.0f", 100 * (y[2] - x[2]) / (y[1] - x[1]); else print "n/a" }'; }

# Wait (up to 2 s) until the server runs at most $1 children: the backends of
# a run have exited and been reaped, so their CPU is the postmaster's.
await_children() {
  local tries
  for ((tries = 0; tries < 40; tries++)); do
    (($(pgrep -c -P "$POSTMASTER") <= $1)) && return
    sleep 0.05
  done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {
  if (a == "n/a" || b == "n/a" || b <= 0) print "n/a"; else printf "%.2f", a / b }'; }
# median FORMAT VALUES...: the median, printf-formatted ("n/a" values ignored).
median() {
  local format=$1
  shift
  (($#)) || { echo n/a; return; }  # printf would print one empty line
  printf '%s\n' "$@" | { grep -v '^n/a$' || true; } | sort -g |
    awk -v f="$format\n" '{ v[NR] = $1 } END { if (!NR) print "n/a"
      else printf f, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
verdict() { awk -v r="$1" -v t="$2" -v op="$3" 'BEGIN {
  if (r == "n/a") { printf "n/a"; exit }
  ok = (op == ">=") ? (r >= t) : (r <= t); printf "%s", ok ? "meets target" : "BELOW TARGET" }'; }

SUMMARY=()
summary() { SUMMARY+=("$*"); printf '%s\n' "$*"; }

# ---------------------------------------------------------------------------
# Sections 1 and 2: systems measured in turn, round after round.
#
# A system is a name; run_system knows its script, how to prepare its table
# and how to count its jobs. FIG[mode,system,round] holds jobs/s.

declare -A FIG CPU STEAL_OF LABEL ESTIMATE
LABEL=([insert]="plain INSERT" [insert_audit]="INSERT + audit" [enqueue]="enqueue"
       [enqueue_quiet]="enq notify=off" [raw_claim]="raw pair" [raw_claim_audit]="raw pair+audit"
       [claim]="queue, 1/txn" [raw_batch_bare]="raw batch" [raw_batch]="raw batch+audit"
       [batch]="queue batch")
declare -A RATIO_LABEL=([insert_audit/insert]="audit/INSERT" [enqueue/insert]="enqueue/INSERT"
  [enqueue_quiet/insert]="off/INSERT" [raw_claim_audit/raw_claim]="audit/raw"
  [claim/raw_claim]="queue/raw" [claim/raw_claim_audit]="queue/raw+aud"
  [raw_batch/raw_batch_bare]="b.audit/bare" [batch/raw_batch]="batch/raw")
# Expected jobs/s, to pre-fill enough queued jobs that no run drains its table;
# raised to what a run achieved.
ESTIMATE=([raw_claim]=5000 [raw_claim_audit]=5000 [claim]=4000 [raw_batch_bare]=60000
          [raw_batch]=60000 [batch]=40000)
COMMIT_MODES=(on)
((ASYNC == 0)) || COMMIT_MODES+=(off)

# Every enqueue run starts from 1,000 queued jobs in a freshly truncated table.
prepare_enqueue() {
  if [[ $1 == queue ]]; then reset_queue; fill_queue 1000; else reset_raw; fill_raw 1000; fi
}

# Claims need queued jobs for the whole run: top the table up to 1.5× what the
# system is expected to take, plus a margin.
prepare_claims() {
  local kind=$1 system=$2 need queued
  need=$((ESTIMATE[$system] * SECONDS_PER_RUN * 3 / 2 + 10000))
  queued=$(count_status "$kind" queued)
  ((queued >= need)) && return
  if [[ $kind == queue ]]; then fill_queue $((need - queued)); else fill_raw $((need - queued)); fi
}

# run_system SYSTEM MODE ROUND: one pgbench run; prints a line, fills FIG.
run_system() {
  local system=$1 mode=$2 round=$3 kind script options="" extra=() before after jobs note=""
  local children cpu_before cpu_after done_jobs cpu machine_before steal
  case $system in
    insert) kind=raw script=raw_insert.sql ;;
    insert_audit) kind=raw script=raw_insert_audit.sql ;;
    enqueue) kind=queue script=enqueue.sql ;;
    enqueue_quiet) kind=queue script=enqueue.sql options="-c queue.notify=off" ;;
    raw_claim) kind=raw script=raw_claim_complete.sql ;;
    raw_claim_audit) kind=raw script=raw_claim_complete_audit.sql ;;
    claim) kind=queue script=claim_complete.sql ;;
    raw_batch_bare) kind=raw script=raw_claim_batch_bare.sql extra=(-D "batch=$BATCH") ;;
    raw_batch) kind=raw script=raw_claim_batch.sql extra=(-D "batch=$BATCH") ;;
    batch) kind=queue script=$BATCH_SCRIPT extra=(-D "batch=$BATCH") ;;
    *) die "unknown system $system" ;;
  esac
  [[ $mode == off ]] && options+=" -c synchronous_commit=off"
  if [[ $script == raw_insert* || $script == enqueue.sql ]]; then
    prepare_enqueue "$kind"
  else
    prepare_claims "$kind" "$system"
  fi
  settle
  before=$(count_status "$kind" completed)
  children=$(pgrep -c -P "$POSTMASTER")
  cpu_before=$(server_cpu_ticks)
  machine_before=$(machine_ticks)
  pgb "$script" "$options" -c "$CLIENTS" -j "$THREADS" -T "$SECONDS_PER_RUN" "${extra[@]}"
  steal=$(steal_percent "$machine_before" "$(machine_ticks)")
  await_children "$children"
  # The events the background worker had not folded by the end of a queue
  # run are the run's work: folded now, their CPU counted in its figure.
  [[ $kind == queue ]] && catch_up_fold && ((FOLD_BACKLOG > 0)) &&
    note=" ($FOLD_BACKLOG events folded after the run)"
  cpu_after=$(server_cpu_ticks)
  after=$(count_status "$kind" completed)
  done_jobs=$TXNS
  if [[ -n ${ESTIMATE[$system]:-} ]]; then
    # Jobs/s from the jobs that really reached completed, per transaction.
    done_jobs=$((after - before))
    jobs=$(awk -v t="$TPS" -v n="$TXNS" -v d="$done_jobs" \
      'BEGIN { if (n > 0) printf "%.1f", t * d / n; else print 0 }')
    ((${jobs%.*} <= ESTIMATE[$system])) || ESTIMATE[$system]=${jobs%.*}
    note=" ($done_jobs jobs in $TXNS transactions)$note"
  else
    jobs=$(printf '%.1f' "$TPS")
  fi
  cpu=$(awk -v t=$((cpu_after - cpu_before)) -v hz="$CLOCK_TICKS" -v n="$done_jobs" \
    'BEGIN { if (n > 0) printf "%.1f", t * 1000000 / hz / n; else print "n/a" }')
  ((FAILED == 0)) || { note+="  FAILED, see above"; jobs=n/a; cpu=n/a; }
  FIG[$mode,$system,$round]=$jobs
  CPU[$mode,$system,$round]=$cpu
  STEAL_OF[$mode,$system,$round]=$steal
  printf '    %-16s commit=%-3s %10s jobs/s  %8.3f ms/txn  %7s us CPU/job  (steal %s%%, load avg %s)%s\n' \
    "${LABEL[$system]}" "$mode" "$jobs" "$LAT" "$cpu" "$steal" "$(cut -d' ' -f1 /proc/loadavg)" "$note"
}

# print_row FIGURES MODE ROUND SYSTEMS... -- RATIOS...: one table row of FIG
# (jobs/s; a ratio is the system's figure over its baseline's) or CPU (server
# CPU per job; a ratio is the baseline's figure over the system's, so that it
# reads like the throughput ratio: below 1, the system costs more). ROUND may
# be "median": then the medians of the figures and of the per-round ratios.
print_row() {
  local -n figures=$1
  local table=$1 mode=$2 round=$3 system pair num den values=() quiet=() r key
  shift 3
  local row
  row=$(printf '  %-6s %-4s' "$round" "$mode")
  while [[ $1 != -- ]]; do
    system=$1
    shift
    if [[ $round == median ]]; then
      values=()
      for ((r = 1; r <= ROUNDS; r++)); do values+=("${figures[$mode,$system,$r]}"); done
      row+=$(printf ' %15s' "$(median %.1f "${values[@]}")")
    else
      row+=$(printf ' %15s' "${figures[$mode,$system,$round]}")
    fi
  done
  shift
  row+=" |"
  for pair in "$@"; do
    num=${pair%/*} den=${pair#*/}
    [[ $table == FIG ]] || { num=${pair#*/} den=${pair%/*}; }
    if [[ $round == median ]]; then
      values=() quiet=()
      for ((r = 1; r <= ROUNDS; r++)); do
        values+=("$(ratio "${figures[$mode,$num,$r]}" "${figures[$mode,$den,$r]}")")
        quiet_runs "$mode" "$r" "$num" "$den" && quiet+=("${values[-1]}")
      done
      key=$mode,$pair
      [[ $table == FIG ]] || key+=,$table
      MEDIAN_RATIO[$key]=$(median %.2f "${values[@]}")
      QUIET_RATIO[$key]="$(median %.2fx "${quiet[@]}") (${#quiet[@]} of $ROUNDS rounds)"
      row+=$(printf ' %14s' "${MEDIAN_RATIO[$key]}")
    else
      row+=$(printf ' %14s' "$(ratio "${figures[$mode,$num,$round]}" "${figures[$mode,$den,$round]}")")
    fi
  done
  printf '%s\n' "$row"
}

print_header() {
  local system pair row
  row=$(printf '  %-6s %-4s' round sync)
  while [[ $1 != -- ]]; do row+=$(printf ' %15s' "${LABEL[$1]}"); shift; done
  shift
  row+=" |"
  for pair in "$@"; do row+=$(printf ' %14s' "${RATIO_LABEL[$pair]}"); done
  printf '%s\n' "$row"
}

# quiet_runs MODE ROUND SYSTEMS...: whether every one of the systems' runs
# in that round had steal of at most QUIET_STEAL %. The medians over such
# rounds show the systems compared on the machine's own speed.
quiet_runs() {
  local mode=$1 round=$2 system
  shift 2
  for system in "$@"; do
    awk -v s="${STEAL_OF[$mode,$system,$round]:-n/a}" -v q="$QUIET_STEAL" \
      'BEGIN { exit !(s != "n/a" && s + 0 <= q) }' || return 1
  done
}

declare -A MEDIAN_RATIO QUIET_RATIO
# run_group SYSTEMS... -- RATIOS...: the rounds, then the table with medians.
# Each round starts one system further along the list, so that no system
# always runs first (after the others' settle) or right after the same one.
run_group() {
  local args=("$@") systems=() system round mode i
  for system in "$@"; do [[ $system == -- ]] && break; systems+=("$system"); done
  for ((round = 1; round <= ROUNDS; round++)); do
    echo "  -- round $round of $ROUNDS"
    for ((i = 0; i < ${#systems[@]}; i++)); do
      system=${systems[(i + round - 1) % ${#systems[@]}]}
      for mode in "${COMMIT_MODES[@]}"; do run_system "$system" "$mode" "$round"; done
    done
    for mode in "${COMMIT_MODES[@]}"; do print_row FIG "$mode" "$round" "${args[@]}"; done
  done
  echo
  echo "  jobs/s per round (each ratio is a system over its baseline of the same round):"
  print_table FIG "${args[@]}"
  echo
  echo "  server CPU per job, in microseconds (each ratio is the baseline's CPU over the system's):"
  print_table CPU "${args[@]}"
}

# print_table FIGURES SYSTEMS... -- RATIOS...: every round's row, then the medians.
print_table() {
  local table=$1 mode round
  shift
  print_header "$@"
  for mode in "${COMMIT_MODES[@]}"; do
    for ((round = 1; round <= ROUNDS; round++)); do print_row "$table" "$mode" "$round" "$@"; done
    print_row "$table" "$mode" median "$@"
  done
}

# The costliest statements since the last reset (BENCH_PROFILE=1).
print_profile() {
  ((PROFILE == 1)) || return 0
  echo "  pg_stat_statements, top 12 by total time (nested statements included):"
  psql_q -F ' | ' -c "SELECT lpad(calls::text, 8), lpad(round(mean_exec_time::numeric, 4)::text, 8) || ' ms',
                             lpad(round(total_exec_time::numeric)::text, 7) || ' ms',
                             left(regexp_replace(query, '\s+', ' ', 'g'), 110)
                        FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12" | sed 's/^/    /'
  psql_q -c "SELECT pg_stat_statements_reset()" >/dev/null
}

section_enqueue() {
  echo "== 1. enqueue, one job per transaction (each run starts with 1,000 queued jobs)"
  ((PROFILE == 0)) || psql_q -c "SELECT pg_stat_statements_reset()" >/dev/null
  run_group insert insert_audit enqueue enqueue_quiet -- \
    insert_audit/insert enqueue/insert enqueue_quiet/insert
  local mode r
  for mode in "${COMMIT_MODES[@]}"; do
    r=${MEDIAN_RATIO[$mode,enqueue/insert]}
    summary "enqueue (notify on), synchronous_commit=$mode: median ${r}x of plain INSERT (target >= 0.85: $(verdict "$r" 0.85 ">="))"
    summary "  notify off: ${MEDIAN_RATIO[$mode,enqueue_quiet/insert]}x; plain INSERT + audit row: ${MEDIAN_RATIO[$mode,insert_audit/insert]}x"
    summary "  server CPU per job, plain INSERT's over each: enqueue ${MEDIAN_RATIO[$mode,enqueue/insert,CPU]}x, notify off ${MEDIAN_RATIO[$mode,enqueue_quiet/insert,CPU]}x, INSERT + audit row ${MEDIAN_RATIO[$mode,insert_audit/insert,CPU]}x"
    summary "  quiet rounds (both runs with steal <= $QUIET_STEAL%): enqueue ${QUIET_RATIO[$mode,enqueue/insert]} of plain INSERT, CPU ${QUIET_RATIO[$mode,enqueue/insert,CPU]}; INSERT + audit row ${QUIET_RATIO[$mode,insert_audit/insert]}"
  done
  print_profile
  echo
}

section_claim() {
  echo "== 2. claim + complete, one job per transaction, and batches of $BATCH (jobs/s)"
  if [[ $BATCH_SCRIPT == claim_batch_many.sql ]]; then
    echo "  (queue batch: dequeue(w, $BATCH) then one queue.complete_many() in the same transaction)"
  else
    echo "  (queue batch: dequeue(w, $BATCH) then $BATCH queue.complete() calls in one statement;"
    echo "   queue.complete_many(bigint[], text, jsonb[], integer[]) does not exist)"
  fi
  ((PROFILE == 0)) || psql_q -c "SELECT pg_stat_statements_reset()" >/dev/null
  run_group raw_claim raw_claim_audit claim raw_batch_bare raw_batch batch -- \
    raw_claim_audit/raw_claim claim/raw_claim claim/raw_claim_audit raw_batch/raw_batch_bare \
    batch/raw_batch
  local mode r values round b
  for mode in "${COMMIT_MODES[@]}"; do
    r=${MEDIAN_RATIO[$mode,claim/raw_claim]}
    summary "claim + complete, synchronous_commit=$mode: median ${r}x of the raw pair (target >= 0.85: $(verdict "$r" 0.85 ">=")); ${MEDIAN_RATIO[$mode,claim/raw_claim_audit]}x of the raw pair with audit rows"
    summary "  server CPU per job, the baseline's over the queue's: ${MEDIAN_RATIO[$mode,claim/raw_claim,CPU]}x of the raw pair, ${MEDIAN_RATIO[$mode,claim/raw_claim_audit,CPU]}x of the raw pair with audit rows; batch ${MEDIAN_RATIO[$mode,batch/raw_batch,CPU]}x of the raw batch"
    summary "  quiet rounds (both runs with steal <= $QUIET_STEAL%): ${QUIET_RATIO[$mode,claim/raw_claim]} of the raw pair, CPU ${QUIET_RATIO[$mode,claim/raw_claim,CPU]}; ${QUIET_RATIO[$mode,claim/raw_claim_audit]} of the raw pair with audit rows"
    values=()
    for ((round = 1; round <= ROUNDS; round++)); do values+=("${FIG[$mode,batch,$round]}"); done
    b=$(median %.0f "${values[@]}")
    summary "batch of $BATCH, synchronous_commit=$mode: median $b jobs/s (target >= 25000: $(verdict "$b" 25000 ">=")); ${MEDIAN_RATIO[$mode,batch/raw_batch]}x of the raw batch"
    values=()
    for ((round = 1; round <= ROUNDS; round++)); do
      quiet_runs "$mode" "$round" batch && values+=("${FIG[$mode,batch,$round]}")
    done
    summary "  quiet runs (steal <= $QUIET_STEAL%): median $(median %.0f "${values[@]}") jobs/s (${#values[@]} of $ROUNDS runs); ${QUIET_RATIO[$mode,batch/raw_batch]} of the raw batch"
    values=()
    for ((round = 1; round <= ROUNDS; round++)); do values+=("${FIG[$mode,raw_batch_bare,$round]}"); done
    summary "  the raw batch without audit rows: median $(median %.0f "${values[@]}") jobs/s; with them ${MEDIAN_RATIO[$mode,raw_batch/raw_batch_bare]}x of that"
  done
  local left_q left_r
  left_q=$(count_status queue queued) left_r=$(count_status raw queued)
  echo "  (queued jobs left afterwards: queue $left_q, baseline $left_r)"
  print_profile
  echo
}

# ---------------------------------------------------------------------------
# Section 3: wake-up latency, commit → LISTEN client.

# wakeup LABEL JOB_TYPE [PAYLOAD]: one measurement; prints its line.
wakeup() {
  local label=$1 line
  shift
  line=$("$WORK/wakeup_latency" "$CONNINFO" "$WAKEUPS" "$WAKEUP_GAP_MS" "$@") ||
    { summary "wake-up latency, $label: FAILED (no notifications?)"; return; }
  local p50 p99 max woken missed early
  p50=$(sed -E 's/.* p50=([^ ]+).*/\1/' <<<"$line") p99=$(sed -E 's/.* p99=([^ ]+).*/\1/' <<<"$line")
  max=$(sed -E 's/.* max=([^ ]+).*/\1/' <<<"$line") woken=$(sed -E 's/.* woken=([^ ]+).*/\1/' <<<"$line")
  missed=$(sed -E 's/.* missed=([^ ]+).*/\1/' <<<"$line") early=$(sed -E 's/.* early=([^ ]+).*/\1/' <<<"$line")
  echo "    $line"
  summary "wake-up latency, $label: p50 $p50 ms, p99 $p99 ms, max $max ms ($woken of $WAKEUPS woken, $missed missed, $early before the commit returned)"
}

section_wakeup() {
  echo "== 3. wake-up latency: enqueue's commit returned → a LISTEN queue_jobs client notified"
  echo "  ($WAKEUPS enqueues ${WAKEUP_GAP_MS} ms apart; the background worker running; ms, negative ="
  echo "   the notification arrived before the enqueuing client saw its commit)"
  reset_queue
  fill_queue 1000
  settle
  wakeup "idle server" doubt
  # Under load: pgbench enqueues doubt jobs meanwhile; the probe enqueues its
  # own job type and waits for a notification naming it.
  local seconds=$((WAKEUPS * (WAKEUP_GAP_MS + 40) / 1000 + 3))
  PGOPTIONS="" "$PG_BIN/pgbench" -n -M prepared -h "$WORK" -p "$PORT" -U postgres \
    -c "$CLIENTS" -j "$THREADS" -T "$seconds" -f "$SQL_DIR/enqueue.sql" postgres \
    >"$WORK/load.out" 2>&1 &
  LOAD_PID=$!
  sleep 1
  wakeup "under a $CLIENTS-client enqueue load" bench_probe bench_probe
  wait "$LOAD_PID" || true
  LOAD_PID=""
  echo "    (the load: $(awk '/^tps = /{print $3; exit}' "$WORK/load.out") enqueues/s over ${seconds} s)"
  echo
}

# ---------------------------------------------------------------------------
# Section 4: latencies at scale.

# latency NAME SCRIPT [pgbench options]: mean latency of one client, in ms.
latency() {
  local name=$1 script=$2
  shift 2
  pgb "$script" "" -c 1 -j 1 -T "$LATENCY_SECONDS" "$@"
  printf '    %-34s %9.3f ms  (%.0f calls/s)%s\n' "$name" "$LAT" "$TPS" \
    "$( ((FAILED == 0)) || echo "  FAILED")"
}

# in_server CALLS EXPRESSION [IDS]: ms per evaluation of EXPRESSION (of a
# random id r among the queued ones, ids 1..DEPTH_NOW, or among those the
# query IDS returns) over CALLS evaluations in one statement: the cost in the
# server, without the client round trip. The median of three such
# statements: one of a few seconds swings up to 2x on these machines.
in_server() {
  local runs=() run draw="SELECT 1 + floor(random() * $DEPTH_NOW)::bigint AS r
                           FROM generate_series(1, $1)"
  [[ -n ${3:-} ]] && draw="SELECT ids[1 + floor(random() * cardinality(ids))::int] AS r
                             FROM generate_series(1, $1), (SELECT ARRAY($3) AS ids) AS drawn"
  for run in 1 2 3; do
    runs+=("$(psql_q <<SQL
SELECT clock_timestamp() AS t0 \gset
SELECT count($2) FROM ($draw) AS ids \g /dev/null
SELECT round((extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000 / $1)::numeric, 4);
SQL
)")
  done
  printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p
}

# Claim and complete $1 jobs, 1,000 per transaction, as worker bench-filler.
finish_jobs() {
  local batches=$(($1 / 1000)) i
  for ((i = 0; i < batches; i++)); do
    echo "WITH c AS MATERIALIZED (SELECT id, attempts FROM queue.dequeue('bench-filler', 1000))
          SELECT count(*) FILTER (WHERE queue.complete(id, 'bench-filler', NULL, attempts)) FROM c;"
  done | psql_q >/dev/null
}

# Add $1 finished jobs in bulk, 1M per statement, as the API leaves them: a
# completed row of the job mix and its three events (enqueued, started,
# completed), finished over the 6 days before the last hour, oldest first,
# within the default retention of 7 days, so no pass prunes them. Through
# the API, ten million take about an hour. Their events are marked folded:
# they lie far outside the stats window, and folding 30 million events would
# take longer than the rest of the benchmark.
build_history() {
  local total=$1 done=0 chunk
  while ((done < total)); do
    chunk=$((total - done < 1000000 ? total - done : 1000000))
    psql_q >/dev/null <<SQL
WITH history AS (
  INSERT INTO queue.jobs (job_type, priority, resource, status, payload, user_id, owner, attempts,
                          max_attempts, timeout, enqueued_at, run_at, started_at, finished_at,
                          worker_id, worker_role)
  SELECT $MIX_TYPE, $MIX_PRIORITY, $MIX_RESOURCE, 'completed', $MIX_PAYLOAD, $MIX_USER,
         'postgres'::regrole, 1, 4, '10 minutes', finished - interval '3 minutes',
         finished - interval '3 minutes', finished - interval '1 minute', finished,
         'bench-history', 'postgres'::regrole
    FROM generate_series($((done + 1)), $((done + chunk))) AS i,
         LATERAL (SELECT now() - interval '1 hour' - interval '6 days' * ($total - i) / $total
                    AS finished) AS t
  RETURNING id, enqueued_at, started_at, finished_at, worker_id)
INSERT INTO queue.job_events (job_id, at, from_status, to_status, worker_id, detail)
SELECT id, enqueued_at, NULL::queue.job_status, 'queued'::queue.job_status, NULL, 'enqueued'
  FROM history
UNION ALL SELECT id, started_at, 'queued', 'processing', worker_id, 'attempt 1' FROM history
UNION ALL SELECT id, finished_at, 'processing', 'completed', worker_id, NULL FROM history;
SQL
    done=$((done + chunk))
  done
  psql_q -c "UPDATE queue.monitor_state
                SET last_event_id = (SELECT max(id) FROM queue.job_events)" >/dev/null
}

section_scale() {
  echo "== 4. latencies at scale (one client, mean of ${LATENCY_SECONDS} s of calls, ms, client round trip included)"
  echo "  (processing jobs are held by an unregistered worker, so no tick recovers them)"
  local what size t0
  declare -A AT
  reset_queue
  local have=0
  for size in 10000 "$DEEP"; do
    t0=$SECONDS
    fill_queue $((size - have))
    have=$size
    # First as in a live queue: vacuum has not marked the pages of the jobs
    # just added all-visible, so a count within a job's block of ids reads
    # the table for each entry; then after VACUUM, as in a quiet one.
    DEPTH_NOW=$size
    AT[position_live,$size]=$(in_server 20000 "queue.position(r)")
    AT[job_status_live,$size]=$(in_server 20000 "(queue.job_status(r)).status")
    settle
    echo "  -- $size queued (filled in $((SECONDS - t0)) s); ids 1..$size, all queued;" \
      "$(all_visible_percent) of queue.jobs' pages all-visible after VACUUM"
    for what in position job_status raw_position; do
      latency "$what @ $size" "$what.sql" -D lo=1 -D "hi=$size"
      AT[$what,$size]=$LAT
    done
    AT[position_server,$size]=$(in_server 20000 "queue.position(r)")
    AT[job_status_server,$size]=$(in_server 20000 "(queue.job_status(r)).status")
    printf '    %-34s %9.4f ms, %9.4f ms before VACUUM\n' \
      "position, in the server" "${AT[position_server,$size]}" "${AT[position_live,$size]}" \
      "job_status, in the server" "${AT[job_status_server,$size]}" "${AT[job_status_live,$size]}"
  done
  # The finished jobs: up to 100k through the API, the rest in bulk.
  local through_api=$((FINISHED < 100000 ? FINISHED : 100000))
  t0=$SECONDS
  fill_queue $((through_api + 10000))
  finish_jobs "$through_api"
  local i
  for ((i = 0; i < 10; i++)); do  # 10k processing, held by a worker that never ends them
    echo "SELECT count(*) FROM queue.dequeue('bench-holder', 1000);"
  done | psql_q >/dev/null
  # The passes below fold only the events they cause: the monitoring pass first
  # catches up with the events of the build (tick() folds slices for up to 5 s).
  local t1=$SECONDS
  catch_up_fold
  echo "    monitoring caught up with $FOLD_BACKLOG events in $((SECONDS - t1)) s"
  build_history $((FINISHED - through_api))
  settle
  echo "  -- $(count_status queue queued) queued, $(count_status queue completed) completed" \
    "($through_api through the API, $((FINISHED - through_api)) in bulk)," \
    "$(count_status queue processing) processing, queue.jobs $(relation_size queue.jobs)," \
    "queue.job_events $(relation_size queue.job_events) (built in $((SECONDS - t0)) s)"
  latency "stats()" stats.sql
  AT[stats]=$LAT
  latency "tick() pass (nothing due)" tick.sql
  AT[tick]=$LAT
  # The same pass right after enqueues, with their events to fold (the
  # background worker's own pass folds some of them first now and then): a
  # slice of them (500), what one pass of the worker folds at most, then
  # 1,000, two slices, which tick() folds in one call as it catches up.
  local events
  for events in 500 1000; do
    pgb tick_after_events.sql "" -c 1 -j 1 -T "$LATENCY_SECONDS" -r -D events=$events
    AT[tick_events,$events]=$(awk '/queue\.tick\(\)/ { print $1; exit }' "$PGB_OUT")
    printf '    %-34s %9.3f ms%s\n' "tick(), $events events to fold" "${AT[tick_events,$events]:-0}" \
      "$( ((FAILED == 0)) || echo "  FAILED")"
  done
  local put_off
  put_off=$(psql_q -c "WITH put_off AS (
                         UPDATE queue.jobs SET run_at = now() + interval '1 day'
                          WHERE id IN (SELECT id FROM queue.jobs WHERE status = 'queued' AND priority = 'low'
                                        ORDER BY priority, id LIMIT $SCHEDULED) RETURNING 1)
                       SELECT count(*) FROM put_off")
  settle
  echo "  -- the first $put_off queued jobs of the low priority put off to tomorrow"
  latency "stats(), a batch scheduled ahead" stats.sql
  AT[stats_scheduled]=$LAT
  # Positions of the low jobs behind the batch: the jobs not due yet ahead
  # of them are the batch.
  local behind="SELECT id FROM queue.jobs WHERE status = 'queued' AND priority = 'low'
                  AND run_at <= now() ORDER BY id LIMIT 10000"
  AT[position_scheduled]=$(in_server 20000 "queue.position(r)" "$behind")
  AT[job_status_scheduled]=$(in_server 20000 "(queue.job_status(r)).status" "$behind")
  printf '    %-34s %9.4f ms\n' "position, behind the batch" "${AT[position_scheduled]}" \
    "job_status, behind the batch" "${AT[job_status_scheduled]}"
  local worst
  for what in position job_status; do
    worst=$(printf '%s\n' "${AT[${what}_server,10000]}" "${AT[${what}_server,$DEEP]}" \
      "${AT[${what}_live,10000]}" "${AT[${what}_live,$DEEP]}" | sort -g | tail -1)
    summary "$(printf '%-12s in the server: 10k queued %.4f ms, %s queued %.4f ms (target <= 0.1 ms: %s);' \
      "$what()" "${AT[${what}_server,10000]}" "$DEEP" "${AT[${what}_server,$DEEP]}" \
      "$(verdict "$worst" 0.1 "<=")")"
    summary "$(printf '             before VACUUM (a live queue): %.4f ms, %.4f ms' \
      "${AT[${what}_live,10000]}" "${AT[${what}_live,$DEEP]}")"
    summary "$(printf '             with the client round trip: %.3f ms, %.3f ms' \
      "${AT[$what,10000]}" "${AT[$what,$DEEP]}")"
  done
  summary "$(printf 'baseline count(*) of the rows ahead: 10k %.3f ms, %s %.3f ms' \
    "${AT[raw_position,10000]}" "$DEEP" "${AT[raw_position,$DEEP]}")"
  summary "$(printf 'stats() with %s queued, %s finished, 10k processing: %.3f ms (target <= 1 ms with 1M queued, 10M finished: %s)' \
    "$DEEP" "$FINISHED" "${AT[stats]}" "$(verdict "${AT[stats]}" 1 "<=")")"
  summary "$(printf '  the same with the first %s jobs of the low priority scheduled for later: %.3f ms (%s)' \
    "$put_off" "${AT[stats_scheduled]}" "$(verdict "${AT[stats_scheduled]}" 1 "<=")")"
  worst=$(printf '%s\n' "${AT[position_scheduled]}" "${AT[job_status_scheduled]}" | sort -g | tail -1)
  summary "$(printf '  position() / job_status() of a low job behind them, in the server: %.4f / %.4f ms (target <= 0.1 ms: %s)' \
    "${AT[position_scheduled]}" "${AT[job_status_scheduled]}" "$(verdict "$worst" 0.1 "<=")")"
  summary "$(printf 'tick() pass with %s queued, 10k processing: %.3f ms (target <= 10 ms with 1M queued: %s)' \
    "$DEEP" "${AT[tick]}" "$(verdict "${AT[tick]}" 10 "<=")")"
  summary "$(printf '  the same pass with a slice of new events to fold (500, what a pass folds): %.3f ms (%s)' \
    "${AT[tick_events,500]:-0}" "$(verdict "${AT[tick_events,500]:-n/a}" 10 "<=")")"
  summary "$(printf '  tick() with 1,000 new events (a pass, then a second slice as it catches up): %.3f ms' \
    "${AT[tick_events,1000]:-0}")"
  echo
}

# ---------------------------------------------------------------------------
# The soak.

# soak LABEL [hold-snapshot]: a fresh backlog, then MINUTES of the mixed load.
soak() {
  local label=$1
  shift
  reset_queue
  fill_queue "$SOAK_BACKLOG"
  settle
  echo "  -- $label"
  "$WORK/soak_load" "$CONNINFO" "$SOAK_CLIENTS" "$SOAK_WARMUP" "$SOAK_MINUTES" \
    "$SOAK_FAIL_PERCENT" "$SOAK_POLL_EVERY" "$POSTMASTER" "$QUIET_STEAL" "$@" | tee "$WORK/soak.out"
  SOAK_LINE=$(grep '^SOAK ' "$WORK/soak.out") || die "the soak driver failed"
}

field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$2"; }

section_soak() {
  echo "== soak: $SOAK_MINUTES minutes of mixed load after $SOAK_WARMUP of warm-up, $SOAK_CLIENTS clients"
  echo "   (enqueue; claim + complete or, $SOAK_FAIL_PERCENT% of the time, fail with a retry 1 s later;"
  echo "   a position()/job_status() poll every $SOAK_POLL_EVERY cycles), $SOAK_BACKLOG jobs queued at the"
  echo "   start, retention 1 minute, the background worker ticking every 1 s; sizes include indexes"
  echo "   (and TOAST); unpruned = finished jobs past retention not yet pruned; CPU = the server's CPU"
  echo "   time per completed job (all its processes, autovacuum included); buffers/job = shared"
  echo "   buffer accesses and WAL B/job = WAL bytes per completed job (every process), the work a job"
  echo "   costs in units the machine does not move; steal = the share of the machine's CPU time the"
  echo "   host took (a virtual machine's noisy neighbours), which slows the same work; probe = the"
  echo "   CPU time a fixed piece of work (random reads over 16 MB) took in the driver that minute,"
  echo "   its thread's own CPU time (stolen time left out): the speed of the cores and memory"
  psql_q -c "UPDATE queue.settings SET retention = '1 minute', retry_delay = '1 second',
                                        retry_backoff = 1, max_retry_delay = '1 second'"
  soak "without a held snapshot"
  local plain=$SOAK_LINE r
  r=$(field ratio "$plain")
  summary "soak: last minute $(field last "$plain") completed/s vs first $(field first "$plain") = ${r}x (target >= 0.95: $(verdict "$r" 0.95 ">=")); dequeue p99 $(field dequeue_p99 "$plain") ms"
  summary "  server CPU per job, last minute vs first: $(field cpu_last "$plain") vs $(field cpu_first "$plain") us = $(field cpu_ratio "$plain")x (steal and the host's load move it too)"
  summary "  work per job, last minute vs first: buffer accesses $(field buffers_last "$plain") vs $(field buffers_first "$plain") = $(field buffers_ratio "$plain")x, WAL $(field wal_last "$plain") vs $(field wal_first "$plain") bytes = $(field wal_ratio "$plain")x (above 1: the queue does more per job)"
  summary "  the machine: steal $(field steal_first "$plain")% in the first minute, $(field steal_last "$plain")% in the last; the probe took $(field probe_first "$plain") and $(field probe_last "$plain") ms"
  summary "  server CPU per job over the probe's time, last minute vs first: $(field cpu_probe_ratio "$plain")x (the CPU a job costs at the machine's speed of the minute)"
  r=$(field quiet_ratio "$plain")
  [[ $r == n/a ]] || r+=x
  summary "  quiet minutes (steal <= $QUIET_STEAL%; $(field quiet_minutes "$plain") of $SOAK_MINUTES): the last $(field quiet_last "$plain") vs the first $(field quiet_first "$plain") completed/s = $r"
  if ((HOLD_SNAPSHOT == 1)); then
    echo
    soak "with a REPEATABLE READ transaction held open through the counted minutes (vacuum can remove nothing)" \
      hold-snapshot
    local held=$SOAK_LINE
    r=$(ratio "$(field mean "$held")" "$(field mean "$plain")")
    summary "soak with a held snapshot: mean $(field mean "$held") completed/s = ${r}x of the soak without (target >= 0.8: $(verdict "$r" 0.8 ">=")); last/first $(field ratio "$held")x"
    summary "  dequeue p99 with the held snapshot: $(field dequeue_p99 "$held") ms (target < 10 ms: $(verdict "$(field dequeue_p99 "$held")" 10 "<="))"
  fi
  echo
}

# ---------------------------------------------------------------------------

build_helper() {
  g++ -std=c++17 -O2 -o "$WORK/$1" "$BENCH_DIR/$1.cpp" -I"$("$PG_BIN/pg_config" --includedir)" \
    -L"$("$PG_BIN/pg_config" --libdir)" -lpq -pthread
}

install_packages postgresql-15 postgresql-server-dev-15 postgresql-contrib libpq-dev g++ make procps
build_and_install "${BENCH_SKIP_BUILD:-0}"
preload=queue
((PROFILE == 0)) || preload=queue,pg_stat_statements
start_cluster queue-bench "$FIRST_PORT" <<CONF
shared_preload_libraries = '$preload'
$( ((PROFILE == 0)) || echo "pg_stat_statements.track = all")
queue.enabled = on
queue.database = 'postgres'
shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 30min
max_connections = 50
CONF
CONNINFO="host=$WORK port=$PORT dbname=postgres user=postgres"
POSTMASTER=$(head -1 "$WORK/data/postmaster.pid")
CLOCK_TICKS=$(getconf CLK_TCK)
build_helper wakeup_latency
build_helper soak_load
setup_schema
if [[ $(psql_q -c "SELECT to_regprocedure('queue.complete_many(bigint[], text, jsonb[], integer[])') IS NOT NULL") == t ]]; then
  BATCH_SCRIPT=claim_batch_many.sql
else
  BATCH_SCRIPT=claim_batch.sql
  [[ $(psql_q -c "SELECT count(*) FROM pg_proc WHERE proname = 'complete_many'
                   AND pronamespace = 'queue'::regnamespace") == 0 ]] ||
    log "bench: queue.complete_many exists but not as (bigint[], text, jsonb[], integer[]); using complete()"
fi

cpu=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git -C "$REPO" status --porcelain -- src include 2>/dev/null) ]] || commit+=" (src/include modified)"
if [[ ${BENCH_SKIP_BUILD:-0} == 1 ]]; then
  built="the extension as installed in $("$PG_BIN/pg_config" --pkglibdir) (build skipped; checkout $commit)"
else
  built="the extension built from checkout $commit"
fi
cat <<EOF
queue benchmark — $(date -u '+%Y-%m-%d %H:%M UTC'), $built
machine: $(nproc) CPUs ($cpu), $(awk '/MemTotal/{printf "%.0f GB", $2/1048576}' /proc/meminfo) RAM, load average $(cut -d' ' -f1-3 /proc/loadavg)
server:  $("$PG_BIN/postgres" --version) from $PG_BIN, throwaway cluster on port $PORT
         fsync=on, synchronous_commit=on (durable commits; BENCH_ASYNC=1 adds a synchronous_commit=off
         column), shared_buffers=1GB, max_wal_size=8GB, queue.enabled=on (background worker,
         tick every 1 s), queue.notify=on unless stated; no LISTEN client during throughput runs
pgbench: -M prepared -c $CLIENTS -j $THREADS -T $SECONDS_PER_RUN per system per round, $ROUNDS rounds, systems in turn;
         before every run: the monitoring pass folds the events waiting (a pre-fill's), then
         VACUUM ANALYZE of the four tables and a CHECKPOINT
limits:  settings.max_concurrent=100000, resources.manim=100000; job mix 30% doubt/40% topic_short/
         30% daily_ca, 20% manim; pgbench clients are registered workers w0..w$((CLIENTS - 1)) (capacity 10000)

EOF

if [[ -n $SOAK_MINUTES ]]; then
  section_soak
else
  [[ ,$SECTIONS, == *,enqueue,* ]] && section_enqueue
  [[ ,$SECTIONS, == *,claim,* ]] && section_claim
  [[ ,$SECTIONS, == *,wakeup,* ]] && section_wakeup
  [[ ,$SECTIONS, == *,scale,* ]] && section_scale
fi

echo "== summary"
printf '%s\n' "${SUMMARY[@]}"
echo "(total runtime $((SECONDS / 60)) min $((SECONDS % 60)) s)"
