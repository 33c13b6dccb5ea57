#!/usr/bin/env bash
# Starts a throw-away PostgreSQL on loopback for the database and race tests and prints its URL.
# Uses the Debian packages' binaries (.ci/run installs them); prints nothing when they are absent.
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || exit 0
PORT=${TEST_PG_PORT:-54329}
DIR=${TEST_PG_DIR:-/tmp/seller-test-pg}
as_owner() {  # PostgreSQL refuses to run as root
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}
if [ ! -f "$DIR/PG_VERSION" ]; then
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$DIR"
  as_owner "'$PGBIN/initdb' -D '$DIR' -A trust -U postgres" >/dev/null
fi
if ! as_owner "'$PGBIN/pg_ctl' -D '$DIR' status" >/dev/null 2>&1; then
  as_owner "'$PGBIN/pg_ctl' -D '$DIR' -w -l '$DIR/server.log' -o \"-p $PORT -k /tmp -c listen_addresses=127.0.0.1\" start" >/dev/null
fi
as_owner "'$PGBIN/psql' -h 127.0.0.1 -p $PORT -U postgres -tAc \"SELECT 1 FROM pg_database WHERE datname='seller_test'\"" | grep -q 1 \
  || as_owner "'$PGBIN/createdb' -h 127.0.0.1 -p $PORT -U postgres seller_test"
echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/seller_test"
