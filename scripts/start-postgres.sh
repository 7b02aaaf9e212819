#!/usr/bin/env bash
# Starts a throwaway PostgreSQL on 127.0.0.1:${LIVEGATE_TEST_PG_PORT:-55432} for the test suite
# (idempotent: reuses a running one) and prints its URL. Needs Debian's `postgresql` package.
# `scripts/start-postgres.sh stop` stops the one it started (run-tests.sh does, so the test
# command leaves nothing running); one that was already running is left alone.
set -euo pipefail
port="${LIVEGATE_TEST_PG_PORT:-55432}"
dir="${LIVEGATE_TEST_PG_DIR:-/tmp/livegate-test-pg}"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-}" = "stop" ]; then
  if [ -f "$dir/.started-by-livegate" ]; then
    as_pg "$bin/pg_ctl" -D "$dir" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    rm -f "$dir/.started-by-livegate"
  fi
  exit 0
fi

if ! as_pg "$bin/pg_isready" -h 127.0.0.1 -p "$port" -q 2>/dev/null; then
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    as_pg "$bin/initdb" -D "$dir" -U livegate --auth=trust -E UTF8 >/dev/null
  fi
  as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k /tmp -c fsync=off -c max_connections=200" start >/dev/null
  as_pg touch "$dir/.started-by-livegate"
fi
as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U livegate -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='livegate_test'" | grep -q 1 \
  || as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U livegate livegate_test
echo "postgres://livegate@127.0.0.1:$port/livegate_test"
