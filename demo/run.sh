#!/usr/bin/env bash
# demo/run.sh — the render farm in one command.
#
#   demo/run.sh            (from the repository root; root or a sudo user)
#
# On a fresh Debian 12 machine it installs what it needs (PostgreSQL 15 server,
# headers and pg_cron, g++, make), builds and installs the extension from this
# checkout, starts a throwaway PostgreSQL cluster on a free port with queue
# preloaded and its background worker ticking every second, and plays about
# 75 seconds of a day at the exam-preparation app:
#
#   * the morning daily_ca batch: 30 current-affairs videos (every third one
#     animated with Manim), enqueued with dedupe keys, so re-running the batch
#     adds nothing;
#   * the app: students ask doubts (high priority) and request topic shorts
#     (medium, some with Manim) at random intervals; student-42 keeps asking
#     for a Manim topic short, and the dashboard follows that student's
#     latest job (position, estimated wait and start);
#   * five render workers (bash + psql loops) registered with capacities and
#     resources: gpu-1 and gpu-2 render Manim, cpu-1..3 do not. Renders sleep
#     a short random time; some fail retryably (retried after a short
#     backoff), a few fail for good; gpu-2 sometimes hangs past the job
#     timeout (the background worker times the attempt out and retries it,
#     and gpu-2's late complete() is refused); cpu-3 "crashes" half-way with
#     jobs in hand and stops heart-beating (the background worker marks it
#     dead and puts its jobs back in line); students withdraw a waiting job
#     (cancelled at once) and a running one (its worker learns it from
#     heartbeat() and stops); an evening rush builds a backlog, so positions,
#     estimated waits and the queue alerts show;
#   * limits stay exact throughout: at most 4 Manim renders and at most 10
#     renders in total (15 in the 06-09 and 20-23 Asia/Kolkata peaks), while
#     the workers together have 12 slots, 5 of them Manim-capable.
#
# Every ~5 s it prints the dashboard (queue.overview, queue.worker_load,
# queue.alerts, the newest queue.recent_jobs and one student's
# queue.job_status), then a final summary; it then stops everything and
# removes the cluster (also on Ctrl-C or error) and exits 0.
#
# Environment: DEMO_SECONDS (length of the workload, default 75),
# DEMO_PORT (first port tried, default 5530), DEMO_SKIP_BUILD=1 (use the
# installed extension as is).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DEMO_SECONDS:-75}
FIRST_PORT=${DEMO_PORT:-5530}
# shellcheck source=../scripts/cluster.sh
source "$REPO/scripts/cluster.sh"
DB=render_farm

say() { printf '%s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

WORK=""
PIDS=()
cleanup() {
  local status=$? pid
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n $WORK && -d $WORK ]]; then
    remove_cluster
    say "demo: cluster stopped and removed."
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# psql against the demo database; -At: unaligned rows, fields split by '|'.
sql() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres -d "$DB" -At "$@"
}
# Tables for people to read.
show() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres -d "$DB" \
    -P footer=off -P null=- "$@"
}

START=0
elapsed() { echo $(($(date +%s) - START)); }
# An event line: [ 12s] who: what. Also kept in the event log.
event() { printf '[%3ss] %s\n' "$(elapsed)" "$*" | tee -a "$WORK/events.log"; }

setup_database() {
  "$PG_BIN/psql" -X -q -h "$WORK" -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE $DB"
  sql <<'EOF'
CREATE EXTENSION queue;
-- A demo-sized farm: short timeouts, quick retries, a worker declared dead
-- after 5 s of silence, alerts that fire at demo scale.
UPDATE queue.settings SET
    timezone = 'Asia/Kolkata',
    job_timeout = '15 seconds',
    retry_delay = '3 seconds',
    retry_backoff = 1.5,
    worker_timeout = '5 seconds',
    stats_window = '2 minutes',
    alert_queue_depth = 20,
    alert_oldest_queued = '20 seconds',
    alert_failure_rate = 0.25;
UPDATE queue.job_types SET expected_duration = '2 seconds', timeout = '10 seconds' WHERE job_type = 'doubt';
UPDATE queue.job_types SET expected_duration = '4 seconds' WHERE job_type = 'topic_short';
UPDATE queue.job_types SET expected_duration = '5 seconds' WHERE job_type = 'daily_ca';
EOF
}

# ----------------------------------------------------------------------------
# Render workers. A worker is one heart-beat loop plus one loop per slot; a
# slot claims one job at a time with queue.dequeue() and "renders" it.

stop_flag() { [[ -e $WORK/state/$1.crashed || $(date +%s) -ge $END ]]; }

# Sleep $2 seconds in small steps; false when the render must stop early
# (worker crashed, demo over, or the job's cancellation was requested).
render_sleep() {
  local worker=$1 steps=$(($2 * 4)) job=$3 i
  for ((i = 0; i < steps; i++)); do
    sleep 0.25
    [[ -e $WORK/state/$worker.crashed ]] && return 1
    [[ -e $WORK/state/cancel-$job ]] && return 2
    (($(date +%s) >= END + 5)) && return 1
  done
  return 0
}

slot_loop() {
  local worker=$1 row id job_type resource secs roll rc
  set +e
  while ! stop_flag "$worker"; do
    row=$(sql -c "SELECT id, job_type, coalesce(resource, '') FROM queue.dequeue('$worker', 1)" 2>>"$WORK/errors.log")
    if [[ -z $row ]]; then
      sleep 0.5
      continue
    fi
    IFS='|' read -r id job_type resource <<<"$row"
    case $job_type in
      doubt) secs=$((1 + RANDOM % 3)) ;;
      topic_short) secs=$((2 + RANDOM % 4)) ;;
      *) secs=$((2 + RANDOM % 5)) ;;
    esac
    [[ $resource == manim ]] && secs=$((secs + 2))
    roll=$((RANDOM % 100))
    if [[ $worker == gpu-2 ]] && ((roll < 20)); then
      event "$worker: job $id ($job_type) hangs in the renderer (its timeout is shorter than this)"
      secs=25
    fi
    render_sleep "$worker" "$secs" "$id"
    rc=$?
    if ((rc == 1)); then
      return 0  # crashed or demo over: the job stays with us until reclaimed
    elif ((rc == 2)); then
      status=$(sql -c "SELECT queue.fail($id, '$worker', 'render stopped: cancellation requested', false)")
      event "$worker: stopped job $id on request -> $status"
      continue
    fi
    if ((roll >= 20 && roll < 30)); then
      status=$(sql -c "SELECT queue.fail($id, '$worker', 'ffmpeg exited with status 1 (transient)', true)")
      event "$worker: job $id ($job_type) failed retryably -> ${status:-not held any more}"
    elif ((roll >= 30 && roll < 32)); then
      status=$(sql -c "SELECT queue.fail($id, '$worker', 'invalid LaTeX in payload', false)")
      event "$worker: job $id ($job_type) failed for good -> ${status:-not held any more}"
    else
      done=$(sql -c "SELECT queue.complete($id, '$worker', jsonb_build_object('url', 'https://cdn.example/v/$id.mp4', 'seconds', $secs))")
      [[ $done == t ]] || event "$worker: complete($id) refused: the attempt timed out and the job was handed on"
    fi
  done
}

# Beats until the worker crashes, or its last render has stopped after the end.
heartbeat_loop() {
  local worker=$1 ids id
  set +e
  while [[ ! -e $WORK/state/$worker.crashed ]] && (($(date +%s) < END + 6)); do
    ids=$(sql -c "SELECT * FROM queue.heartbeat('$worker')" 2>>"$WORK/errors.log")
    for id in $ids; do
      if [[ ! -e $WORK/state/cancel-$id ]]; then
        touch "$WORK/state/cancel-$id"
        event "$worker: heartbeat says job $id was cancelled"
      fi
    done
    sleep 1
  done
}

start_worker() {
  local worker=$1 resources=$2 capacity=$3 i
  sql -c "SELECT worker_id, resources, capacity, state FROM queue.register_worker('$worker', $resources, $capacity)" >/dev/null
  heartbeat_loop "$worker" &
  PIDS+=($!)
  for ((i = 0; i < capacity; i++)); do
    slot_loop "$worker" &
    PIDS+=($!)
  done
}

# ----------------------------------------------------------------------------
# The app: students ask doubts and request topic shorts at random intervals.

# For 20 s from a third of the way in comes the evening rush: requests arrive
# about three times faster than the farm renders them, and a backlog builds.
TOPICS=(monsoon-dynamics fiscal-deficit preamble photosynthesis plate-tectonics inflation)
RUSH_FROM=$((DURATION / 3)) RUSH_TO=$((DURATION / 3 + 20))
app_loop() {
  local n=0 type user res id t
  set +e
  while (($(date +%s) < END - 3)); do
    t=$(elapsed)
    if ((t >= RUSH_FROM && t < RUSH_TO)); then
      sleep "0.$((1 + RANDOM % 2))"
    else
      sleep "0.$((3 + RANDOM % 7))"
    fi
    n=$((n + 1))
    user="student-$((100 + RANDOM % 400))"
    if ((RANDOM % 10 < 6)); then
      sql -c "SELECT queue.enqueue('doubt', jsonb_build_object('question', 'doubt #$n'), '$user')" >/dev/null 2>>"$WORK/errors.log"
    else
      res=NULL
      ((RANDOM % 4 == 0)) && res="'manim'"
      sql -c "SELECT queue.enqueue('topic_short', jsonb_build_object('topic', '${TOPICS[RANDOM % ${#TOPICS[@]}]}'), '$user', NULL, $res)" >/dev/null 2>>"$WORK/errors.log"
    fi
  done
}

# student-42 asks for a Manim topic short now and then; the dashboard follows it.
student_loop() {
  local id
  set +e
  while (($(date +%s) < END - 10)); do
    id=$(sql -c "SELECT queue.enqueue('topic_short', '{\"topic\": \"big-bang-nucleosynthesis\"}', 'student-42', NULL, 'manim')")
    event "app: student-42 requested a Manim topic short -> job $id"
    sleep 25
  done
}

# Half-way, students withdraw two requests: one still waiting (cancelled at
# once) and one being rendered (its worker learns it from heartbeat()).
cancel_two() {
  local id
  set +e
  sleep $((DURATION / 2 + 5))
  id=$(sql -c "SELECT id FROM queue.jobs WHERE status = 'queued' ORDER BY id DESC LIMIT 1")
  [[ -n $id ]] && event "app: a student withdrew waiting job $id: cancel -> $(sql -c "SELECT queue.cancel($id, 'student withdrew the doubt')")"
  # The render just started that will take longest: a Manim one, else a topic short.
  id=$(sql -c "SELECT id FROM queue.jobs WHERE status = 'processing' AND user_id IS NOT NULL
               ORDER BY resource NULLS LAST, job_type = 'doubt', started_at DESC LIMIT 1")
  [[ -n $id ]] || return 0
  event "app: a student closed the app; cancel(running job $id) -> $(sql -c "SELECT queue.cancel($id, 'student left')") (the worker will be told)"
  sleep 8
  event "app: job $id is now $(sql -c "SELECT status || CASE WHEN status = 'completed'
           THEN ' (the render finished before its worker heard of the cancellation)' ELSE '' END
           FROM queue.jobs WHERE id = $id")"
}

# Sample the running renders a few times a second: a committed snapshot can
# never show more than the limits allow.
sample_limits() {
  set +e
  while (($(date +%s) < END + 6)); do
    sql -c "SELECT count(*), count(*) FILTER (WHERE resource = 'manim'), queue.effective_limit(),
                   queue.effective_limit('manim')
              FROM queue.jobs WHERE status = 'processing'" >>"$WORK/samples" 2>/dev/null
    sleep 0.2
  done
}

# cpu-3 dies in the middle of the rush with jobs in hand.
crash_cpu3() {
  set +e
  sleep $((RUSH_FROM + 8))
  touch "$WORK/state/cpu-3.crashed"
  event "cpu-3: CRASH (holding jobs $(sql -c "SELECT coalesce(string_agg(id::text, ', '), 'none') FROM queue.jobs WHERE worker_id = 'cpu-3' AND status = 'processing'")); no more heartbeats"
}

# ----------------------------------------------------------------------------
# The dashboard.

STUDENT_JOB_SQL="(SELECT max(id) FROM queue.jobs WHERE user_id = 'student-42')"
dashboard() {
  say ""
  say "======================= dashboard at $(elapsed)s of ${DURATION}s ======================="
  show <<EOF
\pset title 'queue.overview'
SELECT queued, retrying, processing AS running, completed, failed, cancelled,
       queued_high AS "q high", queued_medium AS "q medium", queued_low AS "q low",
       effective_limit AS "limit", is_peak AS peak, processing_by_resource AS "by resource"
  FROM queue.overview;
\pset title
SELECT date_trunc('second', oldest_queued_age) AS "oldest queued",
       date_trunc('second', avg_wait) AS "avg wait", date_trunc('second', avg_run) AS "avg run",
       round(completed_per_minute::numeric, 1) AS "done/min",
       round((failure_rate * 100)::numeric, 1) || '%' AS "failure rate", stats_window AS "window"
  FROM queue.overview;
\pset title 'queue.worker_load'
SELECT worker_id AS worker, state, capacity,
       CASE WHEN resources IS NULL THEN 'all' WHEN cardinality(resources) = 0 THEN 'none'
            ELSE array_to_string(resources, ',') END AS "limited resources",
       running, date_trunc('second', silent_for) AS silent_for
  FROM queue.worker_load;
\pset title 'queue.alerts'
SELECT coalesce(alert, '(none firing)') AS alert, coalesce(detail, '') AS detail
  FROM (SELECT 1) one LEFT JOIN queue.alerts ON true;
\pset title 'queue.recent_jobs (newest 6)'
SELECT id, job_type, priority, coalesce(resource, '') AS resource, status, user_id, worker_id,
       attempts, date_trunc('second', waited) AS waited, date_trunc('second', ran) AS ran,
       left(last_error, 40) AS last_error
  FROM queue.recent_jobs LIMIT 6;
\pset title 'what student-42 sees: queue.job_status(their latest job)'
SELECT id, status, position, date_trunc('second', estimated_wait) AS "estimated wait",
       to_char(estimated_start, 'HH24:MI:SS') AS "estimated start", attempts, max_attempts,
       last_error
  FROM queue.job_status($STUDENT_JOB_SQL);
EOF
}

final_summary() {
  say ""
  say "=============================== final summary ==============================="
  show <<'EOF'
\pset title 'jobs by type and status'
SELECT job_type, count(*) AS jobs,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status IN ('queued', 'retrying')) AS waiting,
       count(*) FILTER (WHERE status = 'processing') AS running,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       date_trunc('second', avg(started_at - enqueued_at) FILTER (WHERE attempts = 1 AND started_at IS NOT NULL)) AS "avg wait (1st attempt)"
  FROM queue.jobs GROUP BY job_type ORDER BY min(priority);
\pset title 'how attempts ended (queue.job_events)'
SELECT to_status AS "attempt ended as",
       CASE WHEN detail LIKE 'attempt timed out%' THEN 'timed out (background worker)'
            WHEN detail LIKE 'worker % stopped sending heartbeats' THEN 'dead worker recovered (background worker)'
            WHEN to_status = 'cancelled' THEN 'stopped by the worker after cancel()'
            WHEN to_status = 'completed' THEN 'rendered'
            ELSE 'worker reported failure' END AS why,
       count(*) AS attempts
  FROM queue.job_events WHERE from_status = 'processing' AND to_status <> 'processing'
 GROUP BY 1, 2 ORDER BY 3 DESC;
\pset title 'life of a job that was retried (queue.job_events)'
SELECT e.job_id, to_char(e.at, 'HH24:MI:SS') AS at, e.from_status, e.to_status, e.worker_id,
       left(e.detail, 60) AS detail
  FROM queue.job_events e
 WHERE e.job_id = (SELECT r.job_id FROM queue.job_events r JOIN queue.jobs j ON j.id = r.job_id
                    WHERE r.detail LIKE 'attempt timed out%' OR r.detail LIKE 'worker % stopped%'
                    ORDER BY j.status = 'completed' DESC, r.detail LIKE 'worker%' DESC, r.id LIMIT 1)
 ORDER BY e.id;
\pset title 'queue.stats() at the end'
SELECT queued, retrying, processing, completed, failed, cancelled,
       date_trunc('second', avg_wait) AS avg_wait, date_trunc('second', avg_run) AS avg_run,
       round(completed_per_minute::numeric, 1) AS per_min, round(failure_rate::numeric, 2) AS failure_rate
  FROM queue.stats();
EOF
}

# ----------------------------------------------------------------------------

install_packages postgresql-15 postgresql-server-dev-15 postgresql-15-cron g++ make
build_and_install "${DEMO_SKIP_BUILD:-0}"
start_cluster queue-demo "$FIRST_PORT" <<CONF
queue.database = '$DB'
queue.enabled = on
queue.tick_interval = '1s'
log_min_messages = warning
CONF
mkdir -p "$WORK/state"
chmod 777 "$WORK/state"
say "demo: PostgreSQL 15 on port $PORT (data in $WORK), queue preloaded, background worker every 1s"
setup_database

START=$(date +%s)
END=$((START + DURATION))

say ""
say "demo: limits: $(sql -c "SELECT 'max_concurrent ' || queue.effective_limit() || ', manim ' || queue.effective_limit('manim') || ', peak hour in ' || timezone || ': ' || queue.is_peak_hour() FROM queue.settings")"
ids=$(sql -c "SELECT count(DISTINCT queue.enqueue('daily_ca', jsonb_build_object('edition', current_date, 'story', i),
                       NULL, NULL, CASE WHEN i % 3 = 0 THEN 'manim' END, NULL,
                       'daily_ca/' || current_date || '/' || i))
                FROM generate_series(1, 30) AS i")
again=$(sql -c "SELECT count(*) FROM queue.jobs")
sql -c "SELECT queue.enqueue('daily_ca', '{}', NULL, NULL, NULL, NULL, 'daily_ca/' || current_date || '/' || i) FROM generate_series(1, 30) AS i" >/dev/null
after=$(sql -c "SELECT count(*) FROM queue.jobs")
event "cron: morning daily_ca batch: $ids jobs (10 with manim); re-running the batch added $((after - again)) (dedupe keys)"

start_worker gpu-1 "ARRAY['manim']" 3
start_worker gpu-2 "ARRAY['manim']" 2
start_worker cpu-1 "'{}'::text[]" 3
start_worker cpu-2 "'{}'::text[]" 2
start_worker cpu-3 "'{}'::text[]" 2
event "workers: gpu-1 (manim, 3 slots), gpu-2 (manim, 2), cpu-1 (3), cpu-2 (2), cpu-3 (2): 12 slots for a limit of $(sql -c "SELECT queue.effective_limit()")"

app_loop &
PIDS+=($!)
student_loop &
PIDS+=($!)
crash_cpu3 &
PIDS+=($!)
cancel_two &
PIDS+=($!)
sample_limits &
PIDS+=($!)

# Watch the background worker's work in the job events as it happens.
watch_events() {
  local last=0 line
  set +e
  while (($(date +%s) < END + 6)); do
    while IFS='|' read -r eid job detail; do
      [[ -z $eid ]] && continue
      last=$eid
      event "background worker: job $job: $detail"
    done < <(sql -c "SELECT id, job_id, to_status || ' (' || detail || ')' FROM queue.job_events
                     WHERE id > $last AND from_status = 'processing' AND worker_id IS NOT NULL
                       AND (detail LIKE 'attempt timed out%' OR detail LIKE 'worker % stopped sending%')
                     ORDER BY id" 2>/dev/null)
    sleep 1
  done
}
watch_events &
PIDS+=($!)

event "app: students ask doubts and topic shorts; the evening rush runs from ${RUSH_FROM}s to ${RUSH_TO}s"
sleep 2
while (($(date +%s) < END)); do
  dashboard
  sleep 5
done

say ""
event "demo: the workload is over; waiting for the last renders to stop ..."
for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
PIDS=()
dashboard
final_summary
say ""
awk -F'|' '{ n++; if ($1 > t) t = $1; if ($2 > m) m = $2; if ($3 > tl) tl = $3; if ($4 > ml) ml = $4 }
  END { printf "limits held: sampled %d times (every 0.2 s), at most %d renders ran at once (limit %d)\n", n, t, tl;
        printf "             and at most %d Manim renders (limit %d)%s\n", m, ml,
               (t > tl || m > ml) ? "  <-- LIMIT EXCEEDED" : "" }' "$WORK/samples"
if [[ -s $WORK/errors.log ]]; then
  say ""
  say "errors reported by psql during the run:"
  sort "$WORK/errors.log" | uniq -c | sort -rn | head -10
fi
say ""
say "demo: done in $(elapsed)s."
exit 0
