#!/usr/bin/env bash
# Multi-client stress run of queue against a running server that preloads it.
#
#   bash test/stress/run.sh <port> <socket-dir>
#
# Creates a fresh database, sets fixed limits (10 renders in total, 4 manim,
# no peak windows, retries without delay), enqueues a few thousand mixed
# jobs, then lets pgbench clients act as render workers (worker.sql: claim 1-3
# jobs, complete most, fail some) with an occasional queue.tick() among them
# (tick.sql), while a sampler records the processing jobs overall, on manim
# and of the busiest worker from queue.jobs. Afterwards it ticks and finishes
# whatever is left and checks the invariants:
#   - no sample above the global limit, the manim limit or a registered
#     worker's capacity;
#   - no worker was told it lost a job it held (complete() false, fail() NULL);
#   - every job ended exactly once: completed or failed, with exactly one
#     event into a finished state, the last event agreeing with the status;
#   - no job was claimed twice in one attempt: attempts = claim events = ended
#     attempts, each 'attempt N' claimed once, each event continuing the last;
#   - the shared-memory counters behind queue.stats() match the table.
# Prints a summary; exits 1 on any violation, 2 when the run itself broke.
#
# Environment: STRESS_DB (queue_stress), STRESS_CLIENTS (8), STRESS_SECONDS
# (20), STRESS_JOBS (3000). Needs psql and pgbench on PATH. Takes about
# STRESS_SECONDS + 15 seconds on 2 cores.
set -uo pipefail

if (($# != 2)); then
  echo "usage: $0 <port> <socket-dir>" >&2
  exit 2
fi
port=$1
host=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
db=${STRESS_DB:-queue_stress}
clients=${STRESS_CLIENTS:-8}
seconds=${STRESS_SECONDS:-20}
jobs=${STRESS_JOBS:-3000}
max_total=10
max_manim=4
capacity=3
sample_ms=20

export PGHOST=$host PGPORT=$port
psql_in() {  # psql_in <database> [psql args...]
  local database=$1
  shift
  psql -X -q -v ON_ERROR_STOP=1 -d "$database" "$@"
}
broken() {
  echo "stress: $*" >&2
  exit 2
}

started=$(date +%s)
echo "stress: database $db, $clients clients for ${seconds}s, $jobs jobs," \
  "limits: $max_total in total, $max_manim manim, worker capacity $capacity"

PGOPTIONS='-c client_min_messages=warning' \
  psql_in postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" ||
  broken "cannot create database $db"

psql_in "$db" -v clients="$clients" -v jobs="$jobs" -v max_total="$max_total" \
  -v max_manim="$max_manim" -v capacity="$capacity" <<'SQL' || broken "setup failed"
CREATE EXTENSION queue;
-- Fixed limits whatever the time of day; retries at once; nothing times out
-- and no worker is declared dead during the run.
DELETE FROM queue.peak_windows;
UPDATE queue.settings SET max_concurrent = :max_total, retry_delay = '0', retry_backoff = 1,
       max_retries = 3, job_timeout = '10 minutes', worker_timeout = '10 minutes';
UPDATE queue.resources SET max_concurrent = :max_manim, peak_scaling = false
 WHERE resource = 'manim';

CREATE TABLE stress_samples (
    n               serial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    processing      int NOT NULL,
    manim           int NOT NULL,
    busiest_worker  int NOT NULL);
CREATE TABLE stress_anomalies (
    worker_id   text,
    job_id      bigint,
    what        text,
    at          timestamptz DEFAULT clock_timestamp());
CREATE TABLE stress_stop (at timestamptz DEFAULT clock_timestamp());

-- pgbench clients 0..clients-1 are workers w0..wN. The even ones register
-- with `capacity` slots (checked by the sampler); the odd ones do not, so
-- they are bound by the global and resource limits only and keep those
-- saturated whatever share of the limit registered workers are given.
SELECT count(queue.register_worker('w' || c, NULL, :capacity))
  FROM generate_series(0, :clients - 1, 2) c \gset

-- A third each of doubt, topic_short, daily_ca; two in five on manim; one in
-- fifty not claimable for the first 5 seconds.
SELECT count(queue.enqueue(
           (ARRAY['doubt', 'topic_short', 'daily_ca'])[1 + g % 3],
           jsonb_build_object('n', g),
           'student' || g % 97,
           resource => CASE WHEN g % 5 IN (1, 2) THEN 'manim' END,
           run_at => CASE WHEN g % 50 = 7 THEN now() + interval '5 seconds' END)) AS enqueued
  FROM generate_series(1, :jobs) g \gset
SQL

# The sampler: one session, one statement per sample (a single snapshot of
# queue.jobs), until the stop row appears or the bounded count runs out.
max_samples=$(((seconds + 10) * 1000 / sample_ms))
pause=0.$(printf '%03d' "$sample_ms")
psql_in "$db" <<SQL &
DO \$sampler\$
BEGIN
  FOR i IN 1 .. $max_samples LOOP
    EXIT WHEN EXISTS (SELECT 1 FROM stress_stop);
    INSERT INTO stress_samples (processing, manim, busiest_worker)
    SELECT count(*), count(*) FILTER (WHERE resource = 'manim'),
           coalesce((SELECT max(held) FROM (
                       SELECT count(*) AS held FROM queue.jobs j
                        WHERE j.status = 'processing'
                          AND j.worker_id IN (SELECT worker_id FROM queue.workers)
                        GROUP BY j.worker_id) w), 0)
      FROM queue.jobs WHERE status = 'processing';
    COMMIT;
    PERFORM pg_sleep($pause);
  END LOOP;
END
\$sampler\$;
SQL
sampler=$!

bench_log=$(mktemp "${TMPDIR:-/tmp}/queue-stress-pgbench.XXXXXX")
pgbench -n -c "$clients" -j 2 -T "$seconds" -P 5 \
  -f "$here/worker.sql@20" -f "$here/tick.sql@1" "$db" >"$bench_log" 2>&1
bench_status=$?
sed 's/^/  pgbench: /' "$bench_log"
if ((bench_status != 0)) || grep -q -E "aborted|error" "$bench_log"; then
  rm -f "$bench_log"
  psql_in "$db" -c "INSERT INTO stress_stop DEFAULT VALUES" >/dev/null 2>&1
  wait "$sampler"
  broken "pgbench failed (exit status $bench_status)"
fi
rm -f "$bench_log"

psql_in "$db" -c "INSERT INTO stress_stop DEFAULT VALUES" || broken "cannot stop the sampler"
wait "$sampler" || broken "the sampler failed"

# Finish what is left: tick (releases retries, including future run_at once
# due), end attempts still held by their workers, claim the rest in batches
# as worker 'drain' and complete them. Each step commits, so freed slots count.
psql_in "$db" <<'SQL' || broken "finishing the remaining jobs failed"
DO $drain$
DECLARE
  rounds int := 0;
BEGIN
  LOOP
    PERFORM queue.tick();
    COMMIT;
    PERFORM queue.complete(id, worker_id) FROM queue.jobs WHERE status = 'processing';
    COMMIT;
    PERFORM queue.complete(j.id, 'drain') FROM queue.dequeue('drain', 10) j;
    COMMIT;
    EXIT WHEN NOT EXISTS (SELECT 1 FROM queue.jobs
                           WHERE status IN ('queued', 'retrying', 'processing'));
    rounds := rounds + 1;
    IF rounds > 3000 THEN
      RAISE EXCEPTION 'jobs still unfinished after % rounds', rounds;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM queue.jobs WHERE status IN ('queued', 'retrying')
                                              AND run_at <= now()) THEN
      PERFORM pg_sleep(0.1);
    END IF;
  END LOOP;
END
$drain$;
SQL

# Every check yields one line: name|violations|what it means.
checks=$(psql_in "$db" -At -F '|' -v max_total="$max_total" -v max_manim="$max_manim" \
  -v capacity="$capacity" -v jobs="$jobs" <<'SQL'
WITH
claims AS (
  SELECT job_id, detail FROM queue.job_events
   WHERE from_status = 'queued' AND to_status = 'processing'),
per_job AS (
  SELECT j.id, j.status, j.attempts, j.max_attempts,
         (SELECT count(*) FROM claims c WHERE c.job_id = j.id) AS claims,
         (SELECT count(*) FROM queue.job_events e WHERE e.job_id = j.id
             AND e.from_status = 'processing' AND e.to_status <> 'processing') AS attempt_ends,
         (SELECT count(*) FROM queue.job_events e WHERE e.job_id = j.id
             AND e.to_status IN ('completed', 'failed', 'cancelled')) AS finishes,
         (SELECT e.to_status FROM queue.job_events e WHERE e.job_id = j.id
           ORDER BY e.id DESC LIMIT 1) AS last_event
    FROM queue.jobs j),
chain AS (
  SELECT job_id, from_status, to_status,
         lag(to_status) OVER (PARTITION BY job_id ORDER BY id) AS previous,
         row_number() OVER (PARTITION BY job_id ORDER BY id) AS nth
    FROM queue.job_events),
table_counts AS (
  SELECT count(*) FILTER (WHERE status = 'queued') AS queued,
         count(*) FILTER (WHERE status = 'retrying') AS retrying,
         count(*) FILTER (WHERE status = 'processing') AS processing,
         count(*) FILTER (WHERE status = 'completed') AS completed,
         count(*) FILTER (WHERE status = 'failed') AS failed,
         count(*) FILTER (WHERE status = 'cancelled') AS cancelled
    FROM queue.jobs),
stats AS (SELECT * FROM queue.stats())
SELECT 'global limit', count(*) FILTER (WHERE processing > :max_total),
       'samples with more than ' || :max_total || ' processing jobs'
  FROM stress_samples
UNION ALL
SELECT 'manim limit', count(*) FILTER (WHERE manim > :max_manim),
       'samples with more than ' || :max_manim || ' processing manim jobs'
  FROM stress_samples
UNION ALL
SELECT 'worker capacity', count(*) FILTER (WHERE busiest_worker > :capacity),
       'samples with a registered worker holding more than ' || :capacity || ' jobs'
  FROM stress_samples
UNION ALL
SELECT 'lost jobs', count(*),
       'complete()/fail() said a worker no longer held a job it had claimed'
  FROM stress_anomalies
UNION ALL
SELECT 'all jobs kept', abs(count(*) - :jobs), 'jobs missing or extra in queue.jobs'
  FROM queue.jobs
UNION ALL
SELECT 'finished', count(*) FILTER (WHERE status NOT IN ('completed', 'failed')),
       'jobs neither completed nor failed'
  FROM per_job
UNION ALL
SELECT 'finished once', count(*) FILTER (WHERE finishes <> 1),
       'jobs without exactly one event into a finished state'
  FROM per_job
UNION ALL
SELECT 'last event', count(*) FILTER (WHERE last_event IS DISTINCT FROM status),
       'jobs whose last event does not lead to their status'
  FROM per_job
UNION ALL
SELECT 'attempts', count(*) FILTER (WHERE attempts <> claims OR claims <> attempt_ends
                                       OR attempts > max_attempts),
       'jobs whose attempts differ from their claims or ended attempts, or exceed max_attempts'
  FROM per_job
UNION ALL
SELECT 'claimed twice', count(*), 'attempts claimed more than once (same job, same attempt)'
  FROM (SELECT job_id, detail FROM claims GROUP BY job_id, detail HAVING count(*) > 1) twice
UNION ALL
SELECT 'event chain', count(*) FILTER (WHERE (nth = 1 AND (from_status IS NOT NULL
                                                          OR to_status <> 'queued'))
                                          OR (nth > 1 AND from_status IS DISTINCT FROM previous)),
       'events that do not start at enqueue or do not continue from the previous one'
  FROM chain
UNION ALL
SELECT 'stats counts',
       (s.queued <> t.queued)::int + (s.retrying <> t.retrying)::int
         + (s.processing <> t.processing)::int + (s.completed <> t.completed)::int
         + (s.failed <> t.failed)::int + (s.cancelled <> t.cancelled)::int,
       format('queue.stats() %s/%s/%s/%s/%s/%s vs table %s/%s/%s/%s/%s/%s'
              ' (queued/retrying/processing/completed/failed/cancelled)',
              s.queued, s.retrying, s.processing, s.completed, s.failed, s.cancelled,
              t.queued, t.retrying, t.processing, t.completed, t.failed, t.cancelled)
  FROM stats s, table_counts t
UNION ALL
SELECT 'stats queued by priority',
       (s.queued_high <> 0)::int + (s.queued_medium <> 0)::int + (s.queued_low <> 0)::int,
       format('queue.stats() queued high/medium/low %s/%s/%s, table 0/0/0',
              s.queued_high, s.queued_medium, s.queued_low)
  FROM stats s
UNION ALL
SELECT 'stats running', count(*) FILTER (WHERE (r.value ->> 'running')::int <> 0),
       'resources whose running count in queue.stats() is not 0 with nothing processing'
  FROM stats s, jsonb_each(s.processing_by_resource) r;
SQL
) || broken "the checks failed to run"

summary=$(psql_in "$db" -At -F ' ' -v max_total="$max_total" -v max_manim="$max_manim" <<'SQL'
SELECT format('jobs: %s completed, %s failed; %s attempts, %s retries',
              count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed'),
              sum(attempts), sum(attempts) - count(*))
  FROM queue.jobs;
SELECT format('claims during the run: %s by workers w*, %s by drain',
              count(*) FILTER (WHERE worker_id LIKE 'w%'), count(*) FILTER (WHERE worker_id = 'drain'))
  FROM queue.job_events WHERE to_status = 'processing';
SELECT format('samples: %s; at most %s processing (%s samples at the limit), %s manim (%s at the'
              ' limit), %s on one registered worker',
              count(*), max(processing), count(*) FILTER (WHERE processing = :max_total),
              max(manim), count(*) FILTER (WHERE manim = :max_manim), max(busiest_worker))
  FROM stress_samples;
SQL
) || broken "the summary failed"
echo "$summary" | sed 's/^/stress: /'

violations=0
echo "stress: checks (violations):"
while IFS='|' read -r name count what; do
  [[ -z $name ]] && continue
  if [[ $count != 0 ]]; then
    violations=$((violations + 1))
    printf '  FAIL %-26s %6s  %s\n' "$name" "$count" "$what"
  else
    printf '  ok   %-26s %6s  %s\n' "$name" "$count" "$what"
  fi
done <<<"$checks"

echo "stress: finished in $(($(date +%s) - started))s"
if ((violations > 0)); then
  echo "stress: $violations check(s) FAILED (database $db kept for inspection)"
  exit 1
fi
psql_in postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
echo "stress: all checks passed"
