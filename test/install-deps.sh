#!/usr/bin/env bash
# Installs what building and testing queue needs on Debian 12, when missing.
set -euo pipefail
die() { printf 'install-deps: %s\n' "$*" >&2; exit 1; }
# shellcheck source=../scripts/cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/cluster.sh"
install_packages postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-15-pgtap \
  postgresql-contrib libtap-parser-sourcehandler-pgtap-perl libipc-run-perl \
  g++ make cmake libgtest-dev libpq-dev libpqxx-dev libcpp-httplib-dev nlohmann-json3-dev \
  python3-psycopg golang-go golang-github-jackc-pgx-v4-dev prometheus chromium
