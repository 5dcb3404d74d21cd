#!/usr/bin/env bash
# Runs the issue #7 workloads against Eddy (release build), nginx+Nchan and Pushpin in turn and
# prints one table with the ratios Eddy/peer. Loopback only; every server it starts is stopped
# when it ends. Raw summaries go to $OUT (default /tmp/eddy-bench/results).
#
#   swift build -c release --product eddy && swift build -c release --product eddy-load
#   bench/setup-peers.sh          # installs and starts Nchan and Pushpin
#   bench/run.sh                  # or: SCALE=0.1 bench/run.sh for a quick pass
#   bench/setup-peers.sh stop
#
# Environment: SCALE (fraction of the subscriber counts, default 1), WORKLOADS (subset of
# "fanout-sse fanout-ws rates saturation idle idle-ws writes topics"), SERVERS (subset of "eddy nchan pushpin"),
# RATES (the "subscribers×writes/s" pairs of the
# latency-against-rate workload, default "50x2 50x10 5000x2 5000x10 5000x50 5000x200"; subscriber
# counts are scaled), RATE_SECONDS (seconds of publishing per pair, default 30), SAT_RATES (writes/s tried for the saturation peak, default "5 10 20 40 80"; past them the rate
# doubles while deliveries grow by a tenth with nothing lost, up to SAT_MAX, default 10240), DURATION (seconds
# of publishing for fan-out and many topics, default 30), SAT_SECONDS (per saturation step, 10),
# SAT_WRITERS (concurrent publishing requests at the saturation steps, default 32: with fewer, a
# server's response time, not its fan-out, caps the write rate reached), SERIES (the name and date of
# a series worth recording, e.g. "15th series, 2026-12-08": the run's figures then replace their rows
# in bench/headline.csv and bench/chart.py redraws bench/headline.svg; ignored unless SCALE=1).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
EDDY="${EDDY:-$root/.build/release/eddy}"
LOAD="${LOAD:-$root/.build/release/eddy-load}"
OUT="${OUT:-/tmp/eddy-bench/results}"
SCALE="${SCALE:-1}"
WORKLOADS="${WORKLOADS:-fanout-sse fanout-ws rates saturation idle idle-ws writes topics}"
RATES="${RATES:-50x2 50x10 5000x2 5000x10 5000x50 5000x200}"
RATE_SECONDS="${RATE_SECONDS:-30}"
SERVERS="${SERVERS:-eddy nchan pushpin}"
SAT_RATES="${SAT_RATES:-5 10 20 40 80}"
SAT_MAX="${SAT_MAX:-10240}"
DURATION="${DURATION:-30}"
SAT_SECONDS="${SAT_SECONDS:-10}"
SAT_WRITERS="${SAT_WRITERS:-32}"
EDDY_PORT=8070
mkdir -p "$OUT"
ulimit -n 20000

scaled() { python3 -c "print(max(2, int($1 * $SCALE)))"; }
FANOUT=$(scaled 10000)
IDLE=$(scaled 15000)
WRITE_SUBS=$(scaled 1000)
# 500 connections per source address: under Eddy's raised per-address limit, and far from
# exhausting any address's ephemeral ports.
sources_for() { python3 -c "print(max(1, ($1 + 499) // 500))"; }

eddy_pid=""
eddy_data=""
start_eddy() {
    stop_eddy
    eddy_data="$(mktemp -d /tmp/eddy-bench/eddy-data.XXXXXX)"
    # The rate limit and the per-address connection cap would measure themselves, not Eddy.
    "$EDDY" serve --port "$EDDY_PORT" --data "$eddy_data" --log-level warning \
        --max-connections-per-address 100000 --write-rate 1000000 --write-burst 1000000 ${EDDY_ARGS:-} \
        >"$OUT/eddy-server.log" 2>&1 &
    eddy_pid=$!
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$EDDY_PORT/.well-known/solid" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "eddy did not start; see $OUT/eddy-server.log" >&2
    exit 1
}
stop_eddy() {
    if [ -n "$eddy_pid" ]; then
        kill "$eddy_pid" 2>/dev/null || true
        wait "$eddy_pid" 2>/dev/null || true
        eddy_pid=""
    fi
    if [ -n "$eddy_data" ]; then rm -rf "$eddy_data"; eddy_data=""; fi
}
trap stop_eddy EXIT

state=/tmp/eddy-bench
peer_pids() {
    case "$1" in
        eddy) echo "$eddy_pid" ;;
        # nginx: its workers hold the connections; the master is counted too.
        nchan) echo "$(cat "$state/nchan-nginx.pid") $(pgrep -P "$(cat "$state/nchan-nginx.pid")" | tr '\n' ' ')" ;;
        # Pushpin: the runner and every service it started (condure, zurl, proxy, handler).
        pushpin) echo "$(cat "$state/pushpin.pid") $(pgrep -P "$(cat "$state/pushpin.pid")" | tr '\n' ' ')" ;;
    esac
}

# URL and publish templates per server: sub_url KIND TOPIC-TEMPLATE, pub_args KIND TOPIC-TEMPLATE.
sub_args() {
    local server=$1 kind=$2 topic=$3
    case "$server/$kind" in
        eddy/sse) echo "--kind sse --url http://127.0.0.1:$EDDY_PORT/.eddy/value-stream/bench/$topic" ;;
        eddy/ws) echo "--kind ws --url ws://127.0.0.1:$EDDY_PORT/.eddy/ws --ws-protocol liveresource" ;;
        nchan/sse) echo "--kind sse --url http://127.0.0.1:8090/sub/$topic" ;;
        nchan/ws) echo "--kind ws --url ws://127.0.0.1:8090/sub/$topic" ;;
        pushpin/sse) echo "--kind sse --url http://127.0.0.1:7999/stream/$topic" ;;
        pushpin/ws) echo "--kind ws --url ws://127.0.0.1:7999/ws/$topic" ;;
    esac
}
pub_url() {
    case "$1" in
        eddy) echo "http://127.0.0.1:$EDDY_PORT/bench/$2" ;;
        nchan) echo "http://127.0.0.1:8090/pub/$2" ;;
        pushpin) echo "http://127.0.0.1:5561/publish/" ;;
    esac
}
pub_method() { case "$1" in eddy) echo PUT ;; *) echo POST ;; esac; }
pub_body() {
    local server=$1 kind=$2 topic=$3
    case "$server/$kind" in
        pushpin/sse) printf '%s' '{"items":[{"channel":"'"$topic"'","formats":{"http-stream":{"content":"data: {\"t\":{t},\"n\":{n}}\n\n"}}}]}' ;;
        pushpin/ws) printf '%s' '{"items":[{"channel":"'"$topic"'","formats":{"ws-message":{"content":"{\"t\":{t},\"n\":{n}}"}}}]}' ;;
        *) printf '%s' '{"t":{t},"n":{n}}' ;;
    esac
}

# load NAME SERVER KIND SUBSCRIBERS TOPICS EVENTS RATE [extra eddy-load args…]
load() {
    local name=$1 server=$2 kind=$3 subs=$4 topics=$5 events=$6 rate=$7
    shift 7
    local topic="topic"
    [ "$topics" -gt 1 ] && topic="t{topic}"
    local extra=()
    if [ "$server" = eddy ] && [ "$kind" = ws ]; then
        extra+=(--ws-subscribe "{\"id\":1,\"type\":\"subscribe\",\"uri\":\"/bench/$topic\"}")
    fi
    local pids=()
    for pid in $(peer_pids "$server"); do pids+=(--server-pid "$pid"); done
    local workers=2
    [ "$subs" -lt 2 ] && workers=1
    echo "== $name on $server: $subs $kind subscribers, $topics topic(s), $events events at $rate/s" >&2
    # Evidence of what limits the figure: who has the CPU (server, load tool, other builders).
    (while true; do date -u +%T; top -b -n 1 -w 160 | head -16; sleep 3; done) >"$OUT/$name-$server.top" 2>&1 &
    local sampler=$!
    # shellcheck disable=SC2046
    "$LOAD" run $(sub_args "$server" "$kind" "$topic") "${extra[@]}" \
        --subscribers "$subs" --topics "$topics" --source-addresses "$(sources_for "$subs")" --workers "$workers" \
        --publish-url "$(pub_url "$server" "$topic")" --publish-method "$(pub_method "$server")" \
        --publish-body "$(pub_body "$server" "$kind" "$topic")" --events "$events" --rate "$rate" \
        "${pids[@]}" "$@" | tee "$OUT/$name-$server.txt" >&2 || echo "!! $name on $server failed (exit $?)" >&2
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
}

get() { grep "^$2=" "$OUT/$1.txt" 2>/dev/null | head -1 | cut -d= -f2 || true; }
larger() { python3 -c "print(max(float('${1:-0}' or 0), float('${2:-0}' or 0)))"; }

saturation_step() {
    local server=$1 rate=$2
    load "saturation-$rate" "$server" sse "$FANOUT" 1 "$(python3 -c "print(int($rate * $SAT_SECONDS))")" "$rate" \
        --writers "$SAT_WRITERS" --drain 5
}

for server in $SERVERS; do
    for workload in $WORKLOADS; do
        # A fresh Eddy per workload, so RSS growth is this workload's alone.
        [ "$server" = eddy ] && start_eddy
        # A server that died during the previous workload is reported, not silently restarted.
        case "$workload" in
            fanout-sse) load fanout-sse "$server" sse "$FANOUT" 1 $((10 * DURATION)) 10 --drain 5 ;;
            rates)
                # Write-to-delivery latency against the write rate, one topic; a fresh Eddy per pair.
                for pair in $RATES; do
                    subs=$(scaled "${pair%x*}")
                    rate=${pair#*x}
                    [ "$server" = eddy ] && start_eddy
                    load "rates-${pair%x*}x$rate" "$server" sse "$subs" 1 $((rate * RATE_SECONDS)) "$rate" --drain 5
                done ;;
            fanout-ws)
                if [ "$server" = pushpin ] && [ "${PUSHPIN_WS:-1}" = 0 ]; then continue; fi
                load fanout-ws "$server" ws "$FANOUT" 1 $((10 * DURATION)) 10 --drain 5 ;;
            saturation)
                # Steps left by an earlier run in the same OUT would otherwise count towards the peak.
                rm -f "$OUT"/saturation-*-"$server".txt
                best=0
                previous=0
                rate=0
                for rate in $SAT_RATES; do
                    saturation_step "$server" "$rate"
                    previous=$best
                    best=$(larger "$best" "$(get "saturation-$rate-$server" deliveries_per_s)")
                done
                # Past the listed rates, the rate doubles for as long as deliveries keep growing
                # (by a tenth over the best before) with nothing lost: the peak is where they stop.
                while [ "$rate" -gt 0 ] && [ $((rate * 2)) -le "$SAT_MAX" ]; do
                    last=$(get "saturation-$rate-$server" deliveries_per_s)
                    lost=$(get "saturation-$rate-$server" lost)
                    [ "${lost:-1}" = 0 ] || break
                    python3 -c "import sys; sys.exit(0 if float('${last:-0}') >= 1.1 * float('$previous') else 1)" || break
                    previous=$best
                    rate=$((rate * 2))
                    saturation_step "$server" "$rate"
                    best=$(larger "$best" "$(get "saturation-$rate-$server" deliveries_per_s)")
                done ;;
            idle) load idle "$server" sse "$IDLE" 1 0 1 --hold 5 --drain 0 ;;
            idle-ws)
                if [ "$server" = pushpin ] && [ "${PUSHPIN_WS:-1}" = 0 ]; then continue; fi
                load idle-ws "$server" ws "$IDLE" 1 0 1 --hold 5 --drain 0 ;;
            writes)
                [ "$server" = eddy ] || continue
                load writes eddy sse "$WRITE_SUBS" 1 30000 0 --writers 64 --drain 5 ;;
            topics) load topics "$server" sse "$FANOUT" "$FANOUT" $((1000 * DURATION)) 1000 --writers 64 --drain 5 ;;
        esac
        [ "$server" = eddy ] && stop_eddy
    done
done

if [ -n "${SERIES:-}" ] && [ "$SCALE" = 1 ]; then
    python3 "$root/bench/table.py" "$OUT" --headline "$root/bench/headline.csv" --series "$SERIES"
    python3 "$root/bench/chart.py"
else
    python3 "$root/bench/table.py" "$OUT"
fi
