#!/usr/bin/env bash
# demo/run.sh — the render farm in one command.
#
#   demo/run.sh            (from the repository root; root or a sudo user)
#
# On a fresh Debian 12 machine it installs what it needs (PostgreSQL 15 server,
# headers and pg_cron, g++, make, cmake, libpq), builds and installs the
# extension and builds the render worker queue-worker from this checkout,
# starts a throwaway PostgreSQL cluster on a free port with queue preloaded and
# its background worker ticking every second, and plays about 75 seconds of a
# day at the exam-preparation app:
#
#   * the morning daily_ca batch: 30 current-affairs videos (every third one
#     animated with Manim), enqueued with dedupe keys, so re-running the batch
#     adds nothing;
#   * the app: students ask doubts (high priority) and request topic shorts
#     (medium, some with Manim) at random intervals; student-42 keeps asking
#     for a Manim topic short, and the dashboard follows that student's
#     latest job (position, estimated wait and start);
#   * five render workers, each a `queue-worker --simulate` process with its
#     capacity and resources: gpu-1 and gpu-2 render Manim, cpu-1..3 do not.
#     Renders are child processes that sleep a random time per job type
#     (Manim slower); some fail retryably (retried after a short backoff), a
#     few fail for good (exit 65, a --permanent-exit-codes code); gpu-2
#     sometimes hangs past the job timeout (the worker kills the render at its
#     deadline, the background worker times the attempt out and retries it,
#     and whichever comes second is refused); cpu-3 is killed with SIGKILL
#     half-way with jobs in hand and stops heart-beating (the background
#     worker marks it dead and puts its jobs back in line); students withdraw
#     a waiting job (cancelled at once) and a running one (its worker learns
#     it from heartbeat() and kills the render's process group); an evening
#     rush builds a backlog, so positions, estimated waits and the queue
#     alerts show;
#   * limits stay exact throughout: at most 4 Manim renders and at most 10
#     renders in total (15 in the 06-09 and 20-23 Asia/Kolkata peaks), while
#     the workers together have 12 slots, 5 of them Manim-capable.
#
# Every ~5 s it prints the dashboard (queue.overview, queue.worker_load,
# queue.alerts, the newest queue.recent_jobs and one student's
# queue.job_status), then a final summary, which ends with how good the
# students' estimates were (each job's estimated_start when it was enqueued
# against when it really started); at the end the workers get SIGTERM and
# drain. It then stops everything and removes the cluster (also on Ctrl-C or
# error) and exits 0.
#
# The web dashboard (queue-dashboard, read-only, as a role that holds only
# queue_dashboard) serves the same farm at the URL printed at the start.
#
#   bash demo/run.sh            the demo, then everything is removed
#   bash demo/run.sh --keep     after the summary, cluster, workers and
#                               dashboard stay up until Ctrl-C
#
# Environment: DEMO_SECONDS (length of the workload, default 75),
# DEMO_PORT (first port tried, default 5530), DEMO_DASHBOARD_PORT (first
# port tried for the dashboard, default 8080), DEMO_SKIP_BUILD=1 (use the
# installed extension as is), QUEUE_WORKER and QUEUE_DASHBOARD (binaries to
# use instead of building them).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DEMO_SECONDS:-75}
FIRST_PORT=${DEMO_PORT:-5530}
FIRST_DASHBOARD_PORT=${DEMO_DASHBOARD_PORT:-8080}
KEEP=0
case ${1:-} in
  --keep) KEEP=1 ;;
  "") ;;
  *) printf 'usage: bash demo/run.sh [--keep]\n' >&2; exit 2 ;;
esac
# shellcheck source=../scripts/cluster.sh
source "$REPO/scripts/cluster.sh"
DB=render_farm

say() { printf '%s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

WORK=""
PIDS=()
DASHBOARD_PID=""  # runs until the end, so it is not among the PIDS waited for
cleanup() {
  local status=$? pid
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}" $DASHBOARD_PID; do kill "$pid" 2>/dev/null || true; done
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
-- What each student was told when their job was enqueued.
CREATE TABLE public.demo_estimates (
    job_id          bigint PRIMARY KEY,
    estimated_start timestamptz,
    recorded_at     timestamptz NOT NULL);
EOF
}

# Build queue-worker and queue-dashboard with CMake into build/demo (kept
# between runs, so a second run only rebuilds what changed), unless
# $QUEUE_WORKER and $QUEUE_DASHBOARD name them.
build_programs() {
  local targets=()
  [[ -n ${QUEUE_WORKER:-} ]] || targets+=(queue-worker)
  [[ -n ${QUEUE_DASHBOARD:-} ]] || targets+=(queue-dashboard)
  if ((${#targets[@]})); then
    printf 'building %s from %s\n' "${targets[*]}" "$REPO" >&2
    cmake -S "$REPO" -B "$REPO/build/demo" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$REPO/build/demo" --target "${targets[@]}" -j2 >/dev/null
  fi
  QUEUE_WORKER=${QUEUE_WORKER:-$REPO/build/demo/src/worker/queue-worker}
  QUEUE_DASHBOARD=${QUEUE_DASHBOARD:-$REPO/build/demo/src/dashboard/queue-dashboard}
  [[ -x $QUEUE_WORKER ]] || die "$QUEUE_WORKER is not an executable"
  [[ -x $QUEUE_DASHBOARD ]] || die "$QUEUE_DASHBOARD is not an executable"
}

# The web dashboard, read-only, as a login role that holds queue_dashboard.
start_dashboard() {
  local port
  port=$(free_port "$FIRST_DASHBOARD_PORT")
  sql -c "CREATE ROLE demo_dashboard LOGIN; GRANT queue_dashboard TO demo_dashboard"
  "$QUEUE_DASHBOARD" --db "host=$WORK port=$PORT user=demo_dashboard dbname=$DB" \
    --listen "127.0.0.1:$port" >"$WORK/dashboard.log" 2>&1 &
  DASHBOARD_PID=$!
  DASHBOARD_URL="http://127.0.0.1:$port/"
}

# ----------------------------------------------------------------------------
# Render workers: queue-worker processes that simulate renders. Each one
# registers, listens for wake-ups, claims up to its capacity, heartbeats every
# second (settings.worker_timeout is 5 s) and kills renders that were
# cancelled or ran past their deadline. Its log (one line per event) goes to
# $WORK/worker-<id>.log; the interesting events are echoed below.

# Seconds per job type (Manim 2 s more); 10% fail retryably, 2% for good.
RENDER_PROFILE="doubt=1-3,topic_short=2-5,default=2-6,@manim=+2,fail=0.1,permanent=0.02"
declare -A WORKER_PID WORKER_ARGS

# The worker runs under a subshell that waits for it with its stderr closed,
# so that bash's "Killed" notice for the crash below stays out of the output.
start_worker() {
  local worker=$1 resources=$2 capacity=$3 profile=$4
  WORKER_ARGS[$worker]="$resources $capacity $profile"
  : >"$WORK/worker-$worker.log"
  (
    "$QUEUE_WORKER" --dsn "host=$WORK port=$PORT user=postgres dbname=$DB" --worker-id "$worker" \
      --capacity "$capacity" --resources "$resources" --simulate "$profile" \
      --permanent-exit-codes 65 --heartbeat-interval 1s --poll-interval 1s --kill-grace 2s \
      --shutdown-grace 5s 2>>"$WORK/worker-$worker.log" &
    echo $! >"$WORK/worker-$worker.pid"
    wait
  ) 2>/dev/null &
  PIDS+=($!)
  until [[ -s $WORK/worker-$worker.pid ]]; do sleep 0.05; done
  WORKER_PID[$worker]=$(<"$WORK/worker-$worker.pid")
}

# Echo the workers' notable events as they happen.
watch_workers() {
  local file line worker event rest
  set +e
  tail -q -n +1 -F --pid="$WATCH_UNTIL" "$WORK"/worker-*.log 2>/dev/null |
    grep --line-buffered -E ' (cancel_requested|stopping|report_refused|failed|connection_lost|fatal) ' |
    grep --line-buffered -v 'status=retrying' |
    while read -r _ event worker rest; do
      event "${worker#worker=}: $event $rest"
    done
}

# ----------------------------------------------------------------------------
# The app: students ask doubts and request topic shorts at random intervals.

# For 20 s from a third of the way in comes the evening rush: requests arrive
# about three times faster than the farm renders them, and a backlog builds.
TOPICS=(monsoon-dynamics fiscal-deficit preamble photosynthesis plate-tectonics inflation)
RUSH_FROM=$((DURATION / 3)) RUSH_TO=$((DURATION / 3 + 20))

# Enqueue a student's job (type, payload, user, resource or '') and record the
# start the student is shown right after (queue.job_status().estimated_start),
# to compare with the real start at the end. Prints the job id.
enqueue_for_student() {
  sql -v type="$1" -v payload="$2" -v user="$3" -v resource="$4" <<'EOF'
SELECT queue.enqueue(:'type', :'payload'::jsonb, :'user', NULL, nullif(:'resource', '')) AS id \gset
INSERT INTO public.demo_estimates SELECT :id, estimated_start, clock_timestamp() FROM queue.job_status(:id);
SELECT :id;
EOF
}

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
      enqueue_for_student doubt "{\"question\": \"doubt #$n\"}" "$user" '' >/dev/null 2>>"$WORK/errors.log"
    else
      res=''
      ((RANDOM % 4 == 0)) && res=manim
      enqueue_for_student topic_short "{\"topic\": \"${TOPICS[RANDOM % ${#TOPICS[@]}]}\"}" "$user" "$res" \
        >/dev/null 2>>"$WORK/errors.log"
    fi
  done
}

# student-42 asks for a Manim topic short now and then; the dashboard follows it.
student_loop() {
  local id
  set +e
  while (($(date +%s) < END - 10)); do
    id=$(enqueue_for_student topic_short '{"topic": "big-bang-nucleosynthesis"}' student-42 manim)
    event "app: student-42 requested a Manim topic short -> job $id"
    sleep 25
  done
}

# Half-way, students withdraw two requests: one still waiting (cancelled at
# once) and one being rendered (its worker learns it from heartbeat() and
# kills the render's process group).
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

# cpu-3 dies in the middle of the rush with jobs in hand: kill -9 of its
# queue-worker (its renders run on as orphans and are never reported).
crash_cpu3() {
  set +e
  sleep $((RUSH_FROM + 8))
  kill -KILL "${WORKER_PID[cpu-3]}"
  event "cpu-3: CRASH, kill -9 (holding jobs $(sql -c "SELECT coalesce(string_agg(id::text, ', '), 'none') FROM queue.jobs WHERE worker_id = 'cpu-3' AND status = 'processing'")); no more heartbeats"
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
                    WHERE r.to_status = 'retrying' OR r.detail LIKE 'attempt timed out%'
                       OR r.detail LIKE 'worker % stopped%'
                    ORDER BY j.status = 'completed' DESC, r.detail LIKE 'worker%' DESC,
                             r.detail LIKE 'attempt timed out%' DESC, r.id LIMIT 1)
 ORDER BY e.id;
\pset title 'queue.stats() at the end'
SELECT queued, retrying, processing, completed, failed, cancelled,
       date_trunc('second', avg_wait) AS avg_wait, date_trunc('second', avg_run) AS avg_run,
       round(completed_per_minute::numeric, 1) AS per_min, round(failure_rate::numeric, 2) AS failure_rate
  FROM queue.stats();
EOF
  estimate_accuracy
}

# How good the students' estimates were: the estimated_start each was shown
# at enqueue against the job's first real start (its first claim, from
# queue.job_events), as a share of the real wait (waits under a second count
# as one second, so a job that started at once does not divide by zero).
ESTIMATE_ERRORS_SQL="
  SELECT j.job_type, started - j.enqueued_at AS wait,
         abs(extract(epoch FROM d.estimated_start - started))
           / greatest(extract(epoch FROM started - j.enqueued_at), 1) AS share
    FROM public.demo_estimates d JOIN queue.jobs j ON j.id = d.job_id
   CROSS JOIN LATERAL (SELECT min(e.at) AS started FROM queue.job_events e
                        WHERE e.job_id = d.job_id AND e.to_status = 'processing') first_claim
   WHERE started IS NOT NULL AND d.estimated_start IS NOT NULL"
estimate_accuracy() {
  show <<EOF
\pset title 'students'' estimates: estimated_start at enqueue vs the real start'
SELECT coalesce(job_type, 'all') AS "job type", count(*) AS jobs,
       date_trunc('second', avg(wait)) AS "avg real wait",
       round(100 * percentile_cont(0.5) WITHIN GROUP (ORDER BY share)) || '%' AS "median error",
       round(100 * percentile_cont(0.9) WITHIN GROUP (ORDER BY share)) || '%' AS "p90 error"
  FROM ($ESTIMATE_ERRORS_SQL) errors
 GROUP BY ROLLUP (job_type) ORDER BY grouping(job_type), job_type;
EOF
  sql <<EOF
SELECT format('estimates: %s student jobs started (%s never did), median error %s%% of the real wait, p90 %s%% (target: median <= 25%%)',
              count(*), (SELECT count(*) FROM public.demo_estimates) - count(*),
              round(100 * percentile_cont(0.5) WITHIN GROUP (ORDER BY share)),
              round(100 * percentile_cont(0.9) WITHIN GROUP (ORDER BY share)))
  FROM ($ESTIMATE_ERRORS_SQL) errors;
EOF
}

# ----------------------------------------------------------------------------

install_packages postgresql-15 postgresql-server-dev-15 postgresql-15-cron g++ make \
  cmake libpq-dev libcpp-httplib-dev nlohmann-json3-dev libgtest-dev
build_and_install "${DEMO_SKIP_BUILD:-0}"
build_programs
start_cluster queue-demo "$FIRST_PORT" <<CONF
queue.database = '$DB'
queue.enabled = on
queue.tick_interval = '1s'
log_min_messages = warning
CONF
setup_database
# The queue launcher finds the new database at its next check (every 10 s).
for ((i = 0; i < 60; i++)); do
  [[ $(sql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'queue worker'") == 1 ]] && break
  sleep 0.25
done
say "demo: PostgreSQL 15 on port $PORT (data in $WORK), queue preloaded, background worker every 1s"
start_dashboard
say "demo: the web dashboard is at $DASHBOARD_URL (read-only; the terminal view follows)"

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

start_worker gpu-1 manim 3 "$RENDER_PROFILE"
start_worker gpu-2 manim 2 "$RENDER_PROFILE,hang=0.2"  # a renderer that sometimes hangs
start_worker cpu-1 none 3 "$RENDER_PROFILE"
start_worker cpu-2 none 2 "$RENDER_PROFILE"
start_worker cpu-3 none 2 "$RENDER_PROFILE"
sleep 100000 &  # the worker-log watcher runs as long as this does
WATCH_UNTIL=$!
PIDS+=($!)
watch_workers &
PIDS+=($!)
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
event "demo: the workload is over; SIGTERM to the workers: they drain (5 s grace for running renders) ..."
for worker in "${!WORKER_PID[@]}"; do kill -TERM "${WORKER_PID[$worker]}" 2>/dev/null || true; done
for worker in "${!WORKER_PID[@]}"; do
  while kill -0 "${WORKER_PID[$worker]}" 2>/dev/null; do sleep 0.2; done
done
event "demo: every worker has stopped; jobs left processing: $(sql -c "SELECT count(*) FROM queue.jobs WHERE status = 'processing'")"
kill "$WATCH_UNTIL" 2>/dev/null || true
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
if ((KEEP)); then
  say "demo: --keep: the cluster (psql -h $WORK -p $PORT -U postgres $DB) and the dashboard"
  say "      ($DASHBOARD_URL) stay up until Ctrl-C; the render workers start again."
  for worker in "${!WORKER_PID[@]}"; do
    # shellcheck disable=SC2086 # the arguments saved by start_worker
    start_worker "$worker" ${WORKER_ARGS[$worker]}
  done
  while sleep 3600; do :; done
fi
exit 0
