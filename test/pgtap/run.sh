#!/bin/bash
# Run every test/pgtap/*.sql with pg_prove against an already running server.
#
#   bash test/pgtap/run.sh <port> <socket-dir>
#
# Creates a fresh database (queue_pgtap) with the queue and pgtap extensions,
# runs the files in name order, drops the database, and exits non-zero when any
# test fails. The server must preload queue (shared_preload_libraries) and
# should run with queue.enabled = off so that only the tests call tick().
# Run as root (the commands are run as the postgres user) or as postgres.
set -u
port=${1:?usage: run.sh <port> <socket-dir>}
host=${2:?usage: run.sh <port> <socket-dir>}
db=${QUEUE_PGTAP_DB:-queue_pgtap}
here=$(cd "$(dirname "$0")" && pwd)

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

command -v pg_prove >/dev/null || { echo "pg_prove not found (apt-get install libtap-parser-sourcehandler-pgtap-perl)" >&2; exit 2; }

# pg_prove reads the files as postgres: hand it readable copies.
work=$(mktemp -d /tmp/queue-pgtap.XXXXXX)
trap 'as_postgres dropdb -h "$host" -p "$port" --if-exists "$db" >/dev/null 2>&1; rm -rf "$work"' EXIT
cp "$here"/*.sql "$work"/
chmod 755 "$work"; chmod 644 "$work"/*.sql

as_postgres dropdb -h "$host" -p "$port" --if-exists "$db" >/dev/null 2>&1
as_postgres createdb -h "$host" -p "$port" "$db" || exit 2
as_postgres psql -h "$host" -p "$port" -d "$db" -X -q -v ON_ERROR_STOP=1 \
  -c 'CREATE EXTENSION queue' -c 'CREATE EXTENSION pgtap' || exit 2

as_postgres pg_prove -h "$host" -p "$port" -d "$db" --failures "$work"/*.sql
status=$?
exit $status
