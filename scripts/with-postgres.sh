#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL 15 (the legacy order database the
# migration reads) on a free loopback port, exported as ACME_TEST_LEGACY_URL,
# and stops it after. Installs Debian's `postgresql` when initdb is missing.
#   scripts/with-postgres.sh cargo test -p acme-migrate
set -euo pipefail

find_bindir() {
    for d in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/15/bin; do
        if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    return 1
}

if ! bindir=$(find_bindir); then
    echo "installing PostgreSQL 15 (Debian package postgresql)..." >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: PostgreSQL is not installed and this is not root; run: sudo apt-get install -y postgresql" >&2
        exit 1
    fi
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    bindir=$(find_bindir) || { echo "error: initdb not found after installing postgresql" >&2; exit 1; }
fi

# As root, the server runs as the `postgres` user (initdb refuses root).
as_owner=()
dir=$(mktemp -d "${TMPDIR:-/tmp}/acme-pg.XXXXXX")
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
    chown postgres "$dir"
    as_owner=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log="$dir/server.log"

"${as_owner[@]}" "$bindir/initdb" -D "$dir/data" --no-sync -A trust -U postgres -E UTF8 >/dev/null
stop() {
    "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT
# wal_level=logical: the change capture reads a logical replication slot.
"${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$log" -w -o \
    "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c wal_level=logical -c max_replication_slots=8 -c max_wal_senders=8" \
    start >/dev/null || { cat "$log" >&2; exit 1; }

export ACME_TEST_LEGACY_URL="postgres://postgres@127.0.0.1:$port/postgres"
# Tests restart the server under a running sync: they need its tools and data directory.
export ACME_TEST_PG_BINDIR="$bindir" ACME_TEST_PG_DATA="$dir/data" ACME_TEST_PG_PORT="$port"
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (log: $log)" >&2
set +e
"$@"
exit $?
