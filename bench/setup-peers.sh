#!/usr/bin/env bash
# Installs and starts the peers Eddy is measured against, on loopback:
#   nginx + Nchan on 127.0.0.1:8090  (subscribe GET /sub/<ch>, publish POST /pub/<ch>)
#   Pushpin       on 127.0.0.1:7999  (publish POST 127.0.0.1:5561/publish/), origin on :9100
# State and logs live under /tmp/eddy-bench; `bench/setup-peers.sh stop` ends everything it started.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state=/tmp/eddy-bench
mkdir -p "$state"

stop() {
    for name in nchan-nginx pushpin origin; do
        if [ -f "$state/$name.pid" ]; then
            pid="$(cat "$state/$name.pid")"
            # Pushpin stops its condure/proxy/handler children when it gets TERM.
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            rm -f "$state/$name.pid"
        fi
    done
}

if [ "${1:-start}" = stop ]; then stop; exit 0; fi

missing=()
for package in nginx libnginx-mod-nchan pushpin; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}"
fi

stop
ulimit -n 20000

mkdir -p "$state/nchan/tmp" "$state/nchan/static-root/static"
printf '%s' '{"n":1,"text":"hello world"}' >"$state/nchan/static-root/static/object.json"
nginx -p "$state/nchan" -c "$here/nchan/nginx.conf"
for _ in $(seq 50); do [ -s "$state/nchan/nginx.pid" ] && break; sleep 0.1; done
cp "$state/nchan/nginx.pid" "$state/nchan-nginx.pid"

python3 "$here/pushpin/origin.py" 9100 >"$state/origin.log" 2>&1 &
echo $! >"$state/origin.pid"

mkdir -p "$state/pushpin/run" "$state/pushpin/log"
pushpin --config "$here/pushpin/pushpin.conf" >"$state/pushpin.log" 2>&1 &
echo $! >"$state/pushpin.pid"

# Ready when each answers on its port.
for port in 8090 7999 5561 9100; do
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.2
    done
done
echo "nchan  pid $(cat "$state/nchan-nginx.pid") on 127.0.0.1:8090"
echo "pushpin pid $(cat "$state/pushpin.pid") on 127.0.0.1:7999 (publish :5561), origin pid $(cat "$state/origin.pid") on :9100"
