#!/bin/bash
# Run the extension's pg_regress + isolation suite (make installcheck) on an
# assert-enabled PostgreSQL 15, to catch what a release build hides: Assert
# failures (TRAP), use after free (CLOBBER_FREED_MEMORY fills freed memory with
# 0x7f), writes past a chunk's end (MEMORY_CONTEXT_CHECKING), and leaked
# relcache/plancache/snapshot/buffer references (WARNING ... leak).
#
#   bash scripts/cassert-check.sh [TREE]      as root on Debian 12
#
# TREE defaults to the repository this script lives in. It is copied to a
# temporary directory owned by postgres; nothing in TREE is written.
#
# First run: builds PostgreSQL 15 from Debian's source package (apt-get
# source postgresql-15; the installed version's source when the archive still
# serves it, else the newest 15.x it does, e.g. 15.18 for an installed 15.20;
# unpacked without Debian's patches, which would point pkglibdir at the system
# server) with --enable-cassert --enable-debug CFLAGS=-O0 into
# $PG_CASSERT_PREFIX (default /opt/pg15-cassert). On this machine (2 cores
# shared, nice -n 10, -j2) that took about 5 minutes: 1 to fetch and unpack,
# 4 to compile. Later runs reuse the prefix when its postgres has the same
# version and was configured with --enable-cassert; the extension's build and
# both suites then take under a minute.
#
# If Debian's sources cannot be had, the script says so and falls back to the
# release build (a copy in /opt/pg15-valgrind) with the server under valgrind:
# about 5 minutes, no Assert checks, and blind to use after free inside
# palloc'd memory (a release build does not tell valgrind about palloc), so it
# misses what CLOBBER_FREED_MEMORY shows.
#
# A bug shows here only when a test looks at the affected value: freed memory
# reads as 0x7f bytes, which passes a test like "estimated_wait >= '0'".
#
# Environment:
#   PG_CASSERT_PREFIX  install prefix of the cassert build (/opt/pg15-cassert)
#   PG_CASSERT_SRC     where the Debian source is unpacked (/opt/pg15-cassert-src)
#   JOBS               make -j for the PostgreSQL build (2)
#   KEEP=1             keep the temporary work directory (printed at the end)
#   FORCE_VALGRIND=1   use the valgrind fallback even when sources are there
#
# Exit status: 0 when the suites pass and the server logs show no TRAP, crash,
# memory-context or leak warning; 1 on any failure; 2 on a setup problem.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
tree=$(cd "${1:-$here}" && pwd)
prefix=${PG_CASSERT_PREFIX:-/opt/pg15-cassert}
srcroot=${PG_CASSERT_SRC:-/opt/pg15-cassert-src}
jobs=${JOBS:-2}
system_bin=/usr/lib/postgresql/15/bin

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'cassert-check: %s\n' "$*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "run as root (the tests themselves run as postgres)"
id postgres >/dev/null 2>&1 || die "no postgres user"

# Upstream version of the installed server, e.g. 15.20: the cassert build
# matches it so that results compare with the release build others use.
wanted_version() {
  "$system_bin/postgres" --version | sed -n 's/.*PostgreSQL) \([0-9.]*\).*/\1/p'
}

have_cassert_build() {
  local want=$1
  [ -x "$prefix/bin/postgres" ] && [ -x "$prefix/bin/pg_config" ] || return 1
  "$prefix/bin/postgres" --version 2>/dev/null | grep -q "PostgreSQL) $want\b" || return 1
  "$prefix/bin/pg_config" --configure | grep -q -- '--enable-cassert' || return 1
  case "$("$prefix/bin/pg_config" --pkglibdir)" in "$prefix"/*) ;; *) return 1 ;; esac
  [ -x "$("$prefix/bin/pg_config" --pkglibdir)/pgxs/src/test/isolation/pg_isolation_regress" ] \
    || return 1
}

enable_deb_src() {
  local f=/etc/apt/sources.list.d/debian.sources
  if [ -f "$f" ] && grep -q '^Types: deb$' "$f"; then
    log "enabling deb-src in $f"
    sed -i 's/^Types: deb$/Types: deb deb-src/' "$f"
    apt-get update -qq >&2
  elif ! apt-cache showsrc postgresql-15 2>/dev/null | grep -q '^Package:'; then
    apt-get update -qq >&2
  fi
}

# Unpacks Debian's postgresql-15 source into $srcroot and prints its directory.
# The installed version's source comes first; when the archive no longer serves
# it (security updates lose their sources early), the newest other 15.x does.
fetch_source() {
  local want=$1 dir version
  dir=$(unpacked_source "$want")
  if [ -n "$dir" ]; then echo "$dir"; return 0; fi
  enable_deb_src || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-dev bison flex \
    libreadline-dev zlib1g-dev pkg-config perl libipc-run-perl make gcc >&2 || return 1
  mkdir -p "$srcroot"
  chown _apt "$srcroot" 2>/dev/null || true   # apt drops to _apt to download
  for version in $( (apt-cache showsrc postgresql-15 | sed -n 's/^Version: //p' \
      | grep "^$want-"; apt-cache showsrc postgresql-15 | sed -n 's/^Version: //p' \
      | grep -v "^$want-" | sort -rV) | awk '!seen[$0]++'); do
    log "apt-get source postgresql-15=$version"
    # --skip-patches: Debian's patches hard-wire pkglibdir and pgxs to
    # /usr/lib/postgresql/15/lib for any prefix without "postgres" in it, so a
    # patched build would install over the system server's modules.
    if (cd "$srcroot" && apt-get source -qq --download-only "postgresql-15=$version" >&2 \
        && dpkg-source -x --skip-patches "postgresql-15_${version}.dsc" \
             "postgresql-15-${version%%-*}" >&2); then
      dir=$(unpacked_source "${version%%-*}")
      if [ -n "$dir" ]; then
        [ "${version%%-*}" = "$want" ] || log "NOTE: building $version, not the installed $want"
        echo "$dir"; return 0
      fi
    fi
  done
  return 1
}

# Directory of an unpacked postgresql-15 source of upstream version $1, if any.
unpacked_source() {
  local d
  for d in "$srcroot"/postgresql-15-"$1"; do
    [ -f "$d/configure" ] && { echo "$d"; return 0; }
  done
  return 0
}

build_postgres() {
  local src=$1 start=$SECONDS
  log "building PostgreSQL from $src into $prefix (cassert, -O0, nice -n 10, -j$jobs)"
  local build=$src/build-cassert
  rm -rf "$build"; mkdir -p "$build"
  (
    cd "$build"
    # Minimal: no llvm, ssl, icu, gssapi; TAP support for PostgreSQL::Test::Cluster.
    CFLAGS='-O0 -ggdb3 -fno-omit-frame-pointer' nice -n 10 "$src/configure" \
      --prefix="$prefix" --enable-cassert --enable-debug --enable-tap-tests \
      --without-llvm --without-openssl --without-icu --without-gssapi --with-zlib \
      --with-readline >configure.log 2>&1 || { tail -30 configure.log; exit 1; }
    nice -n 10 make -s -j"$jobs" >make.log 2>&1 || { tail -40 make.log; exit 1; }
    # Install into a staging directory first and refuse anything that would
    # land outside $prefix: the system server in /usr/lib/postgresql is shared.
    rm -rf stage
    make -s install DESTDIR="$build/stage" >install.log 2>&1 || { tail -20 install.log; exit 1; }
    # pgxs's installcheck needs pg_isolation_regress; contrib is not needed.
    make -s -C src/test/isolation install DESTDIR="$build/stage" >>install.log 2>&1 \
      || { tail -20 install.log; exit 1; }
    stray=$(cd stage && find . -type f | grep -v "^\.$prefix/" | head -5)
    if [ -n "$stray" ]; then echo "files outside $prefix: $stray"; exit 1; fi
    rm -rf "$prefix"; mkdir -p "$prefix"
    cp -a "stage$prefix/." "$prefix/"
  ) || die "PostgreSQL build failed (logs in $build)"
  # pgTAP is plain SQL: let the pgTAP suite run against this build too.
  cp -n /usr/share/postgresql/15/extension/pgtap* "$("$prefix/bin/pg_config" --sharedir)/extension/" \
    2>/dev/null || true
  log "PostgreSQL built in $((SECONDS - start)) s"
}

mode=cassert
want=$(wanted_version)
[ -n "$want" ] || die "cannot read the installed PostgreSQL 15 version from $system_bin/postgres"
if [ "${FORCE_VALGRIND:-0}" = 1 ]; then
  mode=valgrind
elif have_cassert_build "$want"; then
  log "reusing the cassert build in $prefix ($("$prefix/bin/postgres" --version))"
elif built=$("$prefix/bin/postgres" --version 2>/dev/null | sed -n 's/.*PostgreSQL) \([0-9.]*\).*/\1/p') \
    && [ -n "$built" ] && [ -n "$(unpacked_source "$built")" ] && have_cassert_build "$built"; then
  log "reusing the cassert build in $prefix ($built; the $want source was not available)"
elif src=$(fetch_source "$want"); then
  build_postgres "$src"
  built=$(basename "$src"); built=${built#postgresql-15-}
  have_cassert_build "$built" || die "the build in $prefix does not look right"
else
  log "Debian's postgresql-15 source could not be had: falling back to valgrind on the release build"
  mode=valgrind
fi

# ---------------------------------------------------------------------------
# Extension build and tests, from a copy owned by postgres.
work=$(mktemp -d /tmp/cassert-check.XXXXXX)
chmod 755 "$work"
cleanup() {
  [ -d "$work/tree" ] && find "$work/tree" -maxdepth 2 -name postmaster.pid -path '*tmp_check*' \
    -exec sh -c 'kill -9 "$(head -1 "$1")" 2>/dev/null' _ {} \; || true
  if [ "${KEEP:-0}" = 1 ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

mkdir "$work/tree"
tar -C "$tree" -cf - --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
  --exclude=tmp_check --exclude=tmp_check_iso --exclude=./results --exclude=output_iso \
  --exclude=regression.diffs --exclude=regression.out . | tar -C "$work/tree" -xf -
chown -R postgres: "$work"
as_pg() { runuser -u postgres -- "$@"; }

if [ "$mode" = cassert ]; then
  pgbin=$prefix/bin
  pg_config=$prefix/bin/pg_config
else
  # Valgrind fallback: a private copy of the release build whose postgres is a
  # wrapper that runs the real binary under valgrind.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >&2
  vg=/opt/pg15-valgrind
  if [ ! -x "$vg/usr/lib/postgresql/15/bin/postgres.real" ]; then
    mkdir -p "$vg/usr/lib/postgresql" "$vg/usr/share/postgresql" "$vg/usr/include"
    cp -a /usr/lib/postgresql/15 "$vg/usr/lib/postgresql/"
    cp -a /usr/share/postgresql/15 "$vg/usr/share/postgresql/"
    cp -a /usr/include/postgresql "$vg/usr/include/"
    mv "$vg/usr/lib/postgresql/15/bin/postgres" "$vg/usr/lib/postgresql/15/bin/postgres.real"
  fi
  supp=$(find "$srcroot" -path '*src/tools/valgrind.supp' 2>/dev/null | head -1 || true)
  mkdir -p "$work/valgrind"; chown postgres: "$work/valgrind"
  # No --error-exitcode: the release binary has no symbols for its static
  # functions, so valgrind.supp misses some of PostgreSQL's own known reports
  # (XLogWrite's padding) and a startup process exiting on them stops the server.
  cat >"$vg/usr/lib/postgresql/15/bin/postgres" <<EOF
#!/bin/sh
# initdb and pg_ctl call postgres -V / --single: only the server runs under valgrind.
case "\$1" in -V|--version|--single|--boot|--check|-C) exec "\$0.real" "\$@";; esac
exec valgrind --quiet --trace-children=yes --leak-check=no --track-origins=yes --num-callers=40 \
  ${supp:+--suppressions=$supp} --log-file=$work/valgrind/%p.log "\$0.real" "\$@"
EOF
  chmod 755 "$vg/usr/lib/postgresql/15/bin/postgres"
  pgbin=$vg/usr/lib/postgresql/15/bin
  pg_config=$pgbin/pg_config
fi

case "$("$pg_config" --pkglibdir)" in
  /usr/*) die "$pg_config installs modules into $("$pg_config" --pkglibdir): refusing" ;;
esac
log "building the extension from $tree against $pg_config"
as_pg make -s -C "$work/tree" -j1 PG_CONFIG="$pg_config" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log"; exit 1; }
make -s -C "$work/tree" install PG_CONFIG="$pg_config" >>"$work/build.log" 2>&1 \
  || { cat "$work/build.log"; exit 1; }
grep -i 'warning' "$work/build.log" || true

# The two suites run as separate make calls so that a crash in the first does
# not hide what the second finds (pgxs runs them in one recipe).
status=0
for suite in regress isolation; do
  if [ "$suite" = regress ]; then only="ISOLATION="; else only="REGRESS="; fi
  log "make installcheck: $suite ($mode)"
  # Cores land in the data directory (core_pattern permitting) for gdb below.
  as_pg bash -c "ulimit -c unlimited 2>/dev/null; cd '$work/tree' && \
    PATH='$pgbin':\$PATH make installcheck PG_CONFIG='$pg_config' $only" 2>&1 \
    | tee -a "$work/installcheck.log" || status=1
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
done

# ---------------------------------------------------------------------------
# Findings: diffs, then what the servers said that the diffs may not show.
for d in "$work/tree/regression.diffs" "$work/tree/output_iso/regression.diffs"; do
  if [ -s "$d" ]; then
    status=1
    log "diffs: ${d#"$work"/tree/} (first 400 lines of $(wc -l <"$d"))"
    head -n 400 "$d"
  fi
done

# TRAP: Assert; signals: crashes; the rest are the WARNINGs of
# MEMORY_CONTEXT_CHECKING and of resource owners at end of transaction
# (relcache/plancache/snapshot/TupleDesc reference leak, buffer refcount leak,
# temporary file leak, "... was not closed"), and lock trouble.
suspicious='TRAP:|terminated by signal|was terminated by|PANIC|problem in alloc set|problem in memory context|problem in Generation|problem in slab|detected write past chunk end|reference leak|refcount leak|file leak|leaked|was not closed|not released|still pinned|held at (error|exit)|stuck spinlock'
# pg_regress keeps each server's log in <outputdir>/log, also after success.
logs=$(find "$work/tree/log" "$work/tree/output_iso/log" -name 'postmaster.log' 2>/dev/null || true)
if [ "$(echo "$logs" | grep -c postmaster.log)" != 2 ]; then
  status=1
  log "expected two server logs (regress, isolation), found: ${logs:-none}"
fi
for l in $logs; do
  if grep -Eq "$suspicious" "$l"; then
    status=1
    log "server log ${l#"$work"/tree/}: suspicious lines (with context)"
    grep -E -B3 -A25 "$suspicious" "$l" | cut -c1-300
  fi
done
if [ "$mode" = valgrind ]; then
  # Reports whose stack passes through queue.so are findings; the others are
  # PostgreSQL's own (listed, not failing the run).
  for l in "$work"/valgrind/*.log; do
    [ -s "$l" ] || continue
    if grep -q 'queue\.so' "$l"; then
      status=1
      log "valgrind report involving queue.so: $l"
      cat "$l"
    else
      log "valgrind report outside the extension (not counted): $l"
    fi
  done
fi

# Backtraces from cores (they exist when kernel.core_pattern is a plain file name).
for core in $(find "$work/tree" -path '*tmp_check*' -name 'core*' -type f 2>/dev/null); do
  status=1
  log "backtrace from $core"
  binary=$pgbin/postgres
  [ -x "$binary.real" ] && binary=$binary.real   # the valgrind wrapper's target
  gdb -q -batch -ex 'bt full' "$binary" "$core" 2>&1 | head -120 || true
done

if [ "$status" = 0 ]; then
  log "PASS: installcheck on the $mode build, no TRAP/crash/leak in the server logs"
else
  log "FAIL: see the diffs and log lines above"
  KEEP=1
fi
exit "$status"
