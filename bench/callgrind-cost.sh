#!/usr/bin/env bash
# Instructions the server executes per delivery, per write or per request, counted by callgrind:
# unlike CPU time, the count does not move when neighbours load the machine, so builds can be
# compared on a shared one. The load tool runs outside valgrind; callgrind's counters are zeroed
# once the subscribers are ready (or just before the requests) and dumped once the work is done,
# so connecting, starting and closing are left out, and so are keep-alive comments and WebSocket
# pings (an hour apart): they cost by the second, not by the delivery, and a slower build would
# be charged for more of them. Loopback only; the server is stopped at the end.
#
#   bench/callgrind-cost.sh MODE OUT-PREFIX     (EDDY, LOAD: the release binaries to use)
#
# MODE: fanout-sse | fanout-ws (SUBS subscribers of one resource, EVENTS writes at RATE/s),
#       writes (EVENTS writes at RATE/s from WRITERS writers, SUBS SSE subscribers; RATE=0: each
#       writer sends its next write when the last is answered, as bench/run.sh's writes workload),
#       get | healthz (REQUESTS keep-alive GETs of a small stored object or of /healthz).
# Prints ir=… and the figure per unit; the dump and the tool's report are kept at OUT-PREFIX.*.
#
# Valgrind 3.19 needs two work-arounds for Swift binaries: it cannot read DWARF 5, so it runs a
# copy without debug sections (symbols stay), and it faults on libdispatch's sigsuspend mask in
# read-only memory, so a preloaded shim passes the kernel a copy.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
EDDY="${EDDY:-$root/.build/release/eddy}"
LOAD="${LOAD:-$root/.build/release/eddy-load}"
MODE="$1"; OUT="$2"
PORT="${PORT:-8170}"
SUBS="${SUBS:-500}"; EVENTS="${EVENTS:-200}"; RATE="${RATE:-2}"; WRITERS="${WRITERS:-4}"
REQUESTS="${REQUESTS:-2000}"
# The load tool's worker processes, source addresses and seconds it waits after the last write
# before closing (it must outlast the fan-out: the dump is taken before the connections close).
WORKERS="${WORKERS:-1}"; SOURCES="${SOURCES:-1}"; DRAIN="${DRAIN:-20}"
work="$(mktemp -d /tmp/eddy-callgrind.XXXXXX)"
ulimit -n 20000

objcopy --strip-debug "$EDDY" "$work/eddy"
cat >"$work/shim.c" <<'C'
#define _GNU_SOURCE
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>
int sigsuspend(const sigset_t *mask) {
    sigset_t copy = *mask;
    return (int)syscall(SYS_rt_sigsuspend, &copy, (size_t)(_NSIG / 8));
}
C
cc -O2 -shared -fPIC -o "$work/shim.so" "$work/shim.c"

LD_PRELOAD="$work/shim.so" valgrind --tool=callgrind --callgrind-out-file="$OUT.cg" \
    "$work/eddy" serve --port "$PORT" --data "$work/data" --log-level warning \
    --max-connections-per-address 100000 --write-rate 1000000 --write-burst 1000000 \
    --keep-alive 3600 --ws-ping 3600 >"$OUT.server.log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 600); do
    curl -fs "http://127.0.0.1:$PORT/.well-known/solid" >/dev/null 2>&1 && break
    sleep 0.5
done
curl -fs "http://127.0.0.1:$PORT/.well-known/solid" >/dev/null

cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
zero() { callgrind_control -z "$server" >/dev/null; }
dump() { callgrind_control -d "$1" "$server" >/dev/null; }
# The dump that callgrind_control just asked for: the newest OUT.cg.N.
ir_of_dump() { grep -h '^summary:\|^totals:' "$(ls -t "$OUT".cg.* | head -1)" | head -1 | awk '{print $2}'; }

load_run() {  # KIND URL EXTRA…: runs the load tool in the background, reporting to OUT.load.txt
    local kind=$1 url=$2; shift 2
    "$LOAD" run --kind "$kind" --url "$url" "$@" --subscribers "$SUBS" --topics 1 --source-addresses "$SOURCES" \
        --workers "$WORKERS" --publish-url "http://127.0.0.1:$PORT/bench/topic" --publish-method PUT \
        --publish-body '{"t":{t},"n":{n}}' --events "$EVENTS" --rate "$RATE" --writers "$WRITERS" \
        --settle 4 --drain "$DRAIN" --server-pid "$server" >"$OUT.load.txt" 2>"$OUT.load.err" &
    tool=$!
    for _ in $(seq 1200); do grep -q "subscribers ready" "$OUT.load.err" && break; sleep 0.25; done
    grep -q "subscribers ready" "$OUT.load.err"
    zero
    for _ in $(seq 7200); do grep -q "published" "$OUT.load.err" && break; sleep 0.25; done
    # The last write's fan-out may still be running (RATE=0 writes as fast as the server answers):
    # wait until the server has used under a tenth of a CPU for 3 s, then dump.
    sleep 8
    local before now
    for _ in $(seq 200); do
        before=$(cpu_ticks); sleep 3; now=$(cpu_ticks)
        [ $((now - before)) -lt $((3 * $(getconf CLK_TCK) / 10)) ] && break
    done
    kill -0 "$tool" 2>/dev/null || echo "warning: the load tool ended before the dump; raise DRAIN" >&2
    dump measured
    wait "$tool"
}

case "$MODE" in
    fanout-sse|writes)
        load_run sse "http://127.0.0.1:$PORT/.eddy/value-stream/bench/topic" ;;
    fanout-ws)
        load_run ws "ws://127.0.0.1:$PORT/.eddy/ws" --ws-protocol liveresource \
            --ws-subscribe '{"id":1,"type":"subscribe","uri":"/bench/topic"}' ;;
    get|healthz)
        curl -fs -X PUT -H 'Content-Type: application/json' --data '{"t":1,"n":1}' \
            "http://127.0.0.1:$PORT/bench/small" >/dev/null
        path=/bench/small; [ "$MODE" = healthz ] && path=/healthz
        # One keep-alive connection; the client is outside valgrind and its cost is not counted.
        python3 - "$PORT" "$path" 20 <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for _ in range(int(sys.argv[3])):
    c.request("GET", sys.argv[2]); r = c.getresponse(); r.read(); assert r.status == 200, r.status
PY
        zero
        python3 - "$PORT" "$path" "$REQUESTS" <<'PY' >"$OUT.load.txt"
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for _ in range(int(sys.argv[3])):
    c.request("GET", sys.argv[2]); r = c.getresponse(); r.read(); assert r.status == 200, r.status
print(f"requests={sys.argv[3]}")
PY
        dump measured ;;
    *) echo "unknown mode $MODE" >&2; exit 2 ;;
esac

ir=$(ir_of_dump)
echo "ir=$ir"
get() { grep "^$1=" "$OUT.load.txt" | head -1 | cut -d= -f2; }
case "$MODE" in
    fanout-*) d=$(get deliveries); echo "deliveries=$d lost=$(get lost) published_ok=$(get published_ok) ir_per_delivery=$((ir / d))" ;;
    writes) w=$(get published_ok); echo "published_ok=$w deliveries=$(get deliveries) lost=$(get lost) ir_per_write=$((ir / w))" ;;
    get|healthz) echo "requests=$REQUESTS ir_per_request=$((ir / REQUESTS))" ;;
esac
