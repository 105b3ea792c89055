#!/usr/bin/env bash
# A throwaway PostgreSQL server for the Postgres tests: `.ci/postgres.sh start|stop|status`.
#
# Installs Debian's `postgresql` package when no server binaries are present, creates a cluster
# in a temp directory (trust auth, listening on 127.0.0.1 only) and starts it on
# COSTLINE_PG_PORT (default 55432, away from a system server on 5432). Works as root (the server
# runs as the `postgres` user, which refuses to run as root) and as an ordinary user.
# The tests find it at the URL `start` prints (the default of COSTLINE_TEST_POSTGRES_URL).
set -euo pipefail

port="${COSTLINE_PG_PORT:-55432}"
data_dir="${COSTLINE_PG_DIR:-${TMPDIR:-/tmp}/costline-postgres-$port}"

find_bin_dir() {
    # Newest installed major version; Debian keeps server binaries off PATH.
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

as_server_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

install_server() {
    [ -n "$(find_bin_dir)" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "postgres.sh: PostgreSQL is not installed; run as root or: apt-get install -y postgresql" >&2
        exit 1
    fi
    echo "== installing PostgreSQL from Debian's packages"
    apt-get update -qq
    # policy-rc.d on CI images refuses to start the packaged cluster; we run our own anyway.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

start() {
    install_server
    local bin
    bin="$(find_bin_dir)"
    if [ -f "$data_dir/postmaster.pid" ] && as_server_user "$bin/pg_ctl" -D "$data_dir" status >/dev/null 2>&1; then
        echo "postgres.sh: already running on port $port ($data_dir)"
    else
        rm -rf "$data_dir"
        mkdir -p "$data_dir"
        chmod 700 "$data_dir"
        [ "$(id -u)" = 0 ] && chown postgres:postgres "$data_dir"
        as_server_user "$bin/initdb" -D "$data_dir" -U postgres --auth=trust --encoding=UTF8 \
            --locale=C.UTF-8 >"$data_dir.initdb.log" 2>&1 \
            || { cat "$data_dir.initdb.log" >&2; exit 1; }
        # fsync off: a test server holds nothing worth surviving a power cut, and it is much faster.
        as_server_user "$bin/pg_ctl" -D "$data_dir" -l "$data_dir/server.log" -w -t 60 start \
            -o "-p $port -k $data_dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            >/dev/null || { cat "$data_dir/server.log" >&2; exit 1; }
        echo "postgres.sh: started PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on port $port ($data_dir)"
    fi
    echo "COSTLINE_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:$port/postgres"
}

stop() {
    local bin
    bin="$(find_bin_dir)"
    if [ -n "$bin" ] && [ -f "$data_dir/postmaster.pid" ]; then
        as_server_user "$bin/pg_ctl" -D "$data_dir" -m fast -w stop >/dev/null
        echo "postgres.sh: stopped the server on port $port"
    else
        echo "postgres.sh: no server running from $data_dir"
    fi
    rm -rf "$data_dir" "$data_dir.initdb.log"
}

status() {
    local bin
    bin="$(find_bin_dir)"
    [ -n "$bin" ] && [ -d "$data_dir" ] && as_server_user "$bin/pg_ctl" -D "$data_dir" status
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
