# Sourced by Tests/test.sh: a PostgreSQL server for the tests of the shared store, from Debian's
# packages, run as the unprivileged `postgres` user on a free loopback port, with a password, in a
# directory of its own; stopped and removed when the tests end. Exports LGSP_TEST_POSTGRES_URL.

start_test_postgres() {
  ensure_apt_packages postgresql
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  [ -x "$bin/initdb" ] || { echo "PostgreSQL's initdb is not in /usr/lib/postgresql/*/bin" >&2; return 1; }
  id postgres >/dev/null 2>&1 || { echo "the postgres user is missing (the package makes it)" >&2; return 1; }
  local as_postgres=(runuser -u postgres --)
  [ "$(id -u)" -ne 0 ] && as_postgres=(sudo -u postgres)

  LGSP_TEST_POSTGRES_DIR="$(mktemp -d /tmp/lgsp-test-postgres.XXXXXX)"
  chown postgres "$LGSP_TEST_POSTGRES_DIR"
  local port password
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  password="test-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  printf '%s\n' "$password" > "$LGSP_TEST_POSTGRES_DIR/password"
  chown postgres "$LGSP_TEST_POSTGRES_DIR/password"
  "${as_postgres[@]}" "$bin/initdb" -D "$LGSP_TEST_POSTGRES_DIR/data" -U lgsp --pwfile="$LGSP_TEST_POSTGRES_DIR/password" \
    --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$LGSP_TEST_POSTGRES_DIR/initdb.log" 2>&1 \
    || { cat "$LGSP_TEST_POSTGRES_DIR/initdb.log" >&2; return 1; }
  "${as_postgres[@]}" "$bin/pg_ctl" -D "$LGSP_TEST_POSTGRES_DIR/data" -l "$LGSP_TEST_POSTGRES_DIR/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $LGSP_TEST_POSTGRES_DIR -c max_connections=200 -c fsync=on" start >/dev/null \
    || { cat "$LGSP_TEST_POSTGRES_DIR/server.log" >&2; return 1; }
  LGSP_TEST_POSTGRES_BIN="$bin"
  export LGSP_TEST_POSTGRES_URL="postgres://lgsp:$password@127.0.0.1:$port/postgres?sslmode=disable"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') for the tests on 127.0.0.1:$port" >&2
}

stop_test_postgres() {
  [ -n "${LGSP_TEST_POSTGRES_DIR:-}" ] || return 0
  local as_postgres=(runuser -u postgres --)
  [ "$(id -u)" -ne 0 ] && as_postgres=(sudo -u postgres)
  "${as_postgres[@]}" "$LGSP_TEST_POSTGRES_BIN/pg_ctl" -D "$LGSP_TEST_POSTGRES_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$LGSP_TEST_POSTGRES_DIR"
  unset LGSP_TEST_POSTGRES_DIR LGSP_TEST_POSTGRES_URL
}
