#!/usr/bin/env bash
# Reads per second under `wrk -t2 -c64` on loopback: Eddy's own /healthz, a GET of a small stored
# object, and its 304 revalidation (If-None-Match with the current ETag), on the embedded SQLite
# store and on PostgreSQL; nginx serving the same bytes as a static file beside them.
#
#   swift build -c release --product eddy
#   bench/setup-peers.sh          # nginx (static file) on 127.0.0.1:8090
#   bench/reads.sh                # POSTGRES=postgres://… to name the database (default below)
#
# Environment: DURATION (seconds per wrk run, default 10), POSTGRES (a database the run may
# create a schema in; "none" skips that store). Installs wrk from Debian if it is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
EDDY="${EDDY:-$root/.build/release/eddy}"
DURATION="${DURATION:-10}"
POSTGRES="${POSTGRES:-postgres://eddy:eddy@127.0.0.1:5432/eddy_test}"
PORT=8071
OBJECT='{"n":1,"text":"hello world"}'
command -v wrk >/dev/null || apt-get -o DPkg::Lock::Timeout=600 install -y -q wrk >/dev/null

rate() { # url [header]
    local args=(-t2 -c64 "-d${DURATION}s")
    [ -n "${2:-}" ] && args+=(-H "$2")
    wrk "${args[@]}" "$1" | awk '/Requests\/sec/ { printf "%d", $2 } /Non-2xx/ { bad = 1 } END { if (bad) print " (errors)" }'
}

etag_of() { curl -fsI "$1" | tr -d '\r' | awk 'tolower($1) == "etag:" { print $2 }'; }

measure() { # label base-url object-path
    local object="$2$3"
    local tag
    tag="$(etag_of "$object")"
    printf '| %s | %s | %s | %s |\n' "$1" "$(rate "$2/healthz" 2>/dev/null || echo -)" "$(rate "$object")" "$(rate "$object" "If-None-Match: $tag")"
}

eddy_pid=""
data=""
stop_eddy() {
    [ -n "$eddy_pid" ] && { kill "$eddy_pid" 2>/dev/null || true; wait "$eddy_pid" 2>/dev/null || true; }
    eddy_pid=""
    [ -n "$data" ] && rm -rf "$data"
    data=""
}
trap stop_eddy EXIT

eddy() { # label [serve options…]
    local label="$1"
    shift
    data="$(mktemp -d /tmp/eddy-reads.XXXXXX)"
    "$EDDY" serve --port "$PORT" --data "$data" --log-level warning --max-connections-per-address 100000 "$@" >"$data.log" 2>&1 &
    eddy_pid=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -fs -X PUT "http://127.0.0.1:$PORT/notes/a" -H 'Content-Type: application/json' -d "$OBJECT" -o /dev/null
    measure "$label" "http://127.0.0.1:$PORT" /notes/a
    stop_eddy
}

echo "| server | /healthz | GET object | 304 |"
echo "| --- | ---: | ---: | ---: |"
eddy "Eddy, SQLite"
eddy "Eddy, SQLite, no read cache" --read-cache-bytes 0
if [ "$POSTGRES" != none ] && psql "$POSTGRES" -qc "SELECT 1" >/dev/null 2>&1; then
    schema="reads_$$"
    sep='?'; [[ "$POSTGRES" == *\?* ]] && sep='&'
    eddy "Eddy, PostgreSQL" --store "$POSTGRES${sep}schema=$schema"
    eddy "Eddy, PostgreSQL, no read cache" --store "$POSTGRES${sep}schema=${schema}_off" --read-cache-bytes 0
    psql "$POSTGRES" -qc "DROP SCHEMA $schema CASCADE; DROP SCHEMA ${schema}_off CASCADE" >/dev/null 2>&1 || true
else
    echo "(PostgreSQL at $POSTGRES not reachable: skipped)" >&2
fi
if curl -fs http://127.0.0.1:8090/static/object.json >/dev/null 2>&1; then
    printf '| nginx, static file | – | %s | %s |\n' "$(rate http://127.0.0.1:8090/static/object.json)" \
        "$(rate http://127.0.0.1:8090/static/object.json "If-None-Match: $(etag_of http://127.0.0.1:8090/static/object.json)")"
else
    echo "(nginx not running on 8090: run bench/setup-peers.sh)" >&2
fi
