#!/usr/bin/env python3
"""A minimal render worker for queue, in Python with psycopg 3 (Debian: python3-psycopg).

    python3 worker.py 'dbname=render_farm' py-box-1 [--once]

Claims one job at a time, "renders" it, and completes it with its attempt (or fails
it when the render raises). Wakes on NOTIFY queue_jobs, polls every 5 s as a fallback.
Heartbeats between jobs (renders longer than settings.worker_timeout need a heartbeat
beside them, as queue-worker does). --once: exit when idle. See docs/workers.md.
"""
import select
import sys

import psycopg
from psycopg.types.json import Jsonb


def render(job_type, payload):
    if payload.get("fail"):
        raise RuntimeError("renderer crashed")
    return {"url": f"https://cdn.example/v/{job_type}.mp4", "input": payload}


def main():
    dsn, worker_id = sys.argv[1], sys.argv[2]
    once = "--once" in sys.argv[3:]
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("SELECT queue.register_worker(%s, NULL, 1)", (worker_id,))
        db.execute("LISTEN queue_jobs")
        while True:
            db.execute("SELECT queue.heartbeat(%s)", (worker_id,))
            job = db.execute("SELECT id, attempts, job_type, payload FROM queue.dequeue(%s, 1)",
                             (worker_id,)).fetchone()
            if job is None:
                if once:
                    return
                select.select([db.fileno()], [], [], 5)  # a wake-up, or the poll interval
                continue
            job_id, attempt, job_type, payload = job
            try:
                result = render(job_type, payload)
            except Exception as error:  # the attempt fails, retryably
                status = db.execute("SELECT queue.fail(%s, %s, %s, true, %s)::text",
                                    (job_id, worker_id, str(error), attempt)).fetchone()[0]
                print(f"job {job_id} attempt {attempt} failed: {error} -> {status}", flush=True)
                continue
            taken = db.execute("SELECT queue.complete(%s, %s, %s, %s)",
                               (job_id, worker_id, Jsonb(result), attempt)).fetchone()[0]
            print(f"job {job_id} attempt {attempt} " +
                  ("completed" if taken else "refused: no longer ours"), flush=True)


if __name__ == "__main__":
    main()
