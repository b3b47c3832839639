#!/usr/bin/env bash
# Runs every test of queue and ends with the tally line "N passed, N failed".
#
#   bash test/run-all.sh            (as root on Debian 12; installs what it needs)
#
# Suites: GoogleTest unit tests (built by CMake with the programs beside the
# extension, whose binaries the TAP tests find in $QUEUE_BUILD_DIR); pg_regress and isolation
# specs (make installcheck, temporary instances); pgTAP; a multi-client
# stress run; TAP tests of the background worker, crashes and replication.
# PostgreSQL refuses to run as root, so servers run as the postgres user
# from a copy of the tree that user owns.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=/usr/lib/postgresql/15/bin
work=$(mktemp -d /tmp/queue-tests.XXXXXX)
tree=$work/tree  # a copy the postgres user owns: servers and test outputs live there
passed=0
failed=0
failures=()

cleanup() {
  [[ -f $work/data/postmaster.pid ]] && runuser -u postgres -- "$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# Run one suite: its name, then the command; its output is shown as it runs.
suite() {
  local name=$1
  shift
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "--- $name: ok"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "--- $name: FAILED"
  fi
}

as_postgres() { runuser -u postgres -- env PATH="$bin:$PATH" "$@"; }

# The CMake build (programs and unit tests) of "build and install".
unit_tests() { ctest --test-dir "$work/cmake" --output-on-failure; }

regress_and_isolation() {
  as_postgres make -C "$tree" -s installcheck ||
    { cat "$tree"/regression.diffs "$tree"/output_iso/regression.diffs 2>/dev/null; return 1; }
}

# A cluster with queue preloaded and the background worker off, for the
# suites that drive it themselves.
start_cluster() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_postgres initdb -D "$work/data" -A trust >/dev/null &&
    cat >>"$work/data/postgresql.conf" <<CONF &&
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
shared_preload_libraries = 'queue'
queue.enabled = off
max_connections = 60
CONF
    as_postgres pg_ctl -D "$work/data" -l "$work/server.log" -w start >/dev/null
}

"$root/test/install-deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
rsync -a --exclude .git --exclude build "$root/" "$tree/" 2>/dev/null || cp -r "$root/." "$tree"
chown -R postgres "$work"
suite "build and install" bash -c "make -C '$root' -s -j2 && make -C '$root' -s install PROGRAMS_BUILD='$work/cmake' >/dev/null"
suite "unit tests (GoogleTest)" unit_tests
suite "pg_regress and isolation specs" regress_and_isolation
if start_cluster; then
  suite "pgTAP" as_postgres bash "$tree/test/pgtap/run.sh" "$port" "$work"
  suite "stress" as_postgres bash "$tree/test/stress/run.sh" "$port" "$work"
else
  failed=$((failed + 1)); failures+=("test cluster")
fi
# The upgrade test builds the old versions it upgrades from, each from its
# last commit: 1.0, the first release, and 1.12, the one before the current.
# Without the history (a shallow clone) it says so and skips.
old_releases="1.0:ee351d8 1.12:f0dfc65"
tap_tests() {
  local old_sources=$work/old release
  mkdir -p "$old_sources"
  for release in $old_releases; do
    git -C "$root" archive --prefix="queue-${release%%:*}/" "${release#*:}" 2>/dev/null |
      tar -x -C "$old_sources" 2>/dev/null || rm -rf "$old_sources/queue-${release%%:*}"
  done
  chown -R postgres "$old_sources"
  (cd "$tree" && as_postgres env PG_REGRESS=/usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress \
    QUEUE_OLD_SOURCES="$old_sources" QUEUE_BUILD_DIR="$work/cmake" \
    prove -I /usr/lib/postgresql/15/lib/pgxs/src/test/perl test/tap/*.pl) && return 0
  show_failed_tap_logs
  return 1
}

# The end of each failed TAP test's log and of its servers' logs: the work
# directory goes when the run ends, and a failure in CI must say why.
show_failed_tap_logs() {
  local log test server
  for log in "$tree"/tmp_check/log/regress_log_*; do
    [[ -f $log ]] && grep -q -E 'not ok|Looks like your test|Died|died at' "$log" || continue
    test=${log##*/regress_log_}
    echo "----- $test: the end of its log"
    tail -n 40 "$log"
    for server in "$tree"/tmp_check/log/"${test}"_*.log; do
      [[ -f $server ]] || continue
      echo "----- $test: the end of ${server##*/}"
      tail -n 25 "$server"
    done
  done
}
suite "TAP: worker, crashes, replication, dump/restore, upgrade" tap_tests

((failed)) && printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
((failed == 0))
