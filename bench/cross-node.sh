#!/usr/bin/env bash
# Cross-node delivery latency: two Eddy nodes on one PostgreSQL database, SSE subscribers on
# node B, writes made on node A; then the same with writes on B, for the single-node baseline.
# Loopback only. Needs release builds of eddy and eddy-load and a PostgreSQL the URL reaches.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${STORE_BASE:-postgres://eddy:eddy@127.0.0.1:5432/eddy}
schema="bench_$(date +%s)"
store="$base?schema=$schema"
eddy=${EDDY:-.build/release/eddy}
load=${LOAD:-.build/release/eddy-load}
subscribers=${SUBSCRIBERS:-1000}
events=${EVENTS:-300}
rate=${RATE:-10}
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

start_node() { # name port
    "$eddy" serve --port "$2" --data "$work/$1" --store "$store" --max-connections-per-address 100000 \
        --write-rate 1000000 --write-burst 1000000 --log-level warning > "$work/$1.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do grep -q "Eddy listening" "$work/$1.log" && return; sleep 0.1; done
    echo "node $1 did not start:"; cat "$work/$1.log"; exit 1
}

ulimit -n 20000
start_node a 8071
start_node b 8072
curl -sf -X PUT http://127.0.0.1:8071/bench/topic -H 'Content-Type: application/json' -d '{"t":0,"n":0}' > /dev/null

measure() { # label publish-port
    echo "== $1"
    "$load" run --kind sse --url 'http://127.0.0.1:8072/.eddy/value-stream/bench/topic' \
        --subscribers "$subscribers" --source-addresses 4 \
        --publish-url "http://127.0.0.1:$2/bench/topic" --publish-method PUT \
        --events "$events" --rate "$rate" --writers 4 --drain 3
}
measure "subscribers on B, writes on A (cross-node)" 8071
measure "subscribers on B, writes on B (same node)" 8072
