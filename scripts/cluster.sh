# Shell helpers shared by demo/run.sh and bench/run.sh (sourced, not run):
# install what is missing, build and install the extension, and run a
# throwaway PostgreSQL 15 cluster as the postgres user on a free port.
#
# The caller defines die() and sets REPO; start_cluster sets WORK and PORT.

PG_BIN=/usr/lib/postgresql/15/bin

# Run a command as root: directly, or through sudo.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# Run a server-side command as the cluster owner (PostgreSQL refuses root).
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Install the Debian packages given that are not installed yet.
install_packages() {
  local package missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  ((${#missing[@]})) || return 0
  printf 'installing %s\n' "${missing[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Build the extension in $REPO and install it, unless $1 is 1 (skip).
build_and_install() {
  if [[ ${1:-0} == 1 ]]; then
    printf 'using the installed extension (build skipped)\n' >&2
    return
  fi
  printf 'building and installing the queue extension from %s\n' "$REPO" >&2
  make -C "$REPO" -j2 PG_CONFIG=$PG_BIN/pg_config >/dev/null
  as_root make -C "$REPO" install PG_CONFIG=$PG_BIN/pg_config >/dev/null
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The first port from $1 on with no server and no stale socket.
free_port() {
  local port
  for ((port = $1; port < $1 + 500; port++)); do
    if ! port_in_use "$port" && [[ ! -e /tmp/.s.PGSQL.$port && ! -e /var/run/postgresql/.s.PGSQL.$port ]]; then
      echo "$port"
      return
    fi
  done
  die "no free port from $1"
}

# Start a cluster in a new directory /tmp/<$1>.XXXXXX on a port from $2 on,
# with queue preloaded and the postgresql.conf lines read from stdin.
start_cluster() {
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$WORK"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$WORK"
  PORT=$(free_port "$2")
  as_owner "$PG_BIN/initdb" -D "$WORK/data" --auth=trust -U postgres --no-sync >/dev/null
  {
    printf "port = %s\nlisten_addresses = 'localhost'\nunix_socket_directories = '%s'\n" "$PORT" "$WORK"
    printf "shared_preload_libraries = 'queue'\n"
    cat
  } >>"$WORK/data/postgresql.conf"
  as_owner "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null ||
    { cat "$WORK/server.log" >&2; die "the server did not start"; }
}

# Stop the cluster (fast, else immediate) and remove its directory.
remove_cluster() {
  [[ -n ${WORK:-} && -d $WORK ]] || return 0
  if [[ -f $WORK/data/postmaster.pid ]]; then
    as_owner "$PG_BIN/pg_ctl" -D "$WORK/data" -m fast stop >/dev/null 2>&1 ||
      as_owner "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
