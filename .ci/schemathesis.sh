#!/usr/bin/env bash
# API property tests: Schemathesis generates requests from /.eddy/openapi.json (valid and invalid
# ones) and checks every answer: no 5xx, and status code, Content-Type and body as documented.
# It runs against a debug `eddy serve` on loopback, with a policy and a bearer token, and is
# bounded in time (a fixed seed and 40 examples per operation: about 2 minutes after the suite's build).
#
#   .ci/schemathesis.sh                 # what CI runs
#   EXAMPLES=200 .ci/schemathesis.sh    # a longer run (SEED=… for another sequence)
#   CHECKS=all .ci/schemathesis.sh      # every check Schemathesis has, beyond what CI asks
set -euo pipefail
cd "$(dirname "$0")/.."

examples=${EXAMPLES:-40}
seed=${SEED:-20}
checks=${CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance}
version=4.32.5

if [ "${1:-}" != --isolated ]; then
    # Schemathesis from PyPI, in a virtual environment of its own beside the build.
    venv=.build/schemathesis-$version
    if [ ! -x "$venv/bin/schemathesis" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q "schemathesis==$version"
    fi
    # The flags of `swift test`'s build, so after the test suite this builds nothing.
    swift build --build-tests
    bin=$(swift build --build-tests --show-bin-path)
    export SCHEMATHESIS="$PWD/$venv/bin/schemathesis" EDDY="$bin/eddy"
    # The rest runs in a network namespace of its own where only loopback exists: whatever
    # URL the generated requests name (webhook targets, channel topics), nothing leaves the machine.
    if unshare --net true 2>/dev/null; then
        exec unshare --net bash "$PWD/.ci/schemathesis.sh" --isolated
    fi
    echo "schemathesis: no network namespace (not root?); running on the host's loopback"
else
    ip link set lo up
fi

work=$(mktemp -d)
server=
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/policy.json" <<'EOF'
{"rules":[
  {"path":"/",             "read":"anyone", "write":"authenticated"},
  {"path":"/public/",      "read":"anyone", "write":"anyone"},
  {"path":"/users/{sub}/", "read":"owner",  "write":"owner"}
]}
EOF
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

# Port 0: the kernel picks a free loopback port, which the server prints once it listens.
# Waits are capped at one second and writes are not rate-limited, so generated long-polls and
# bursts neither stall the run nor turn into 429s.
: >"$work/server.out"
"$EDDY" serve --host 127.0.0.1 --port 0 --data "$work/data" --policy "$work/policy.json" --jwt-secret "$secret" \
    --max-wait 1 --write-rate 100000 --write-burst 100000 --log-level error >"$work/server.out" 2>"$work/server.err" &
server=$!
base=
for _ in $(seq 1 100); do
    base=$(sed -n 's/^Eddy listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$work/server.out")
    [ -n "$base" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.err"; exit 1; }
    sleep 0.1
done
[ -n "$base" ] || { echo "eddy did not start"; cat "$work/server.err"; exit 1; }
case "$base" in http://127.0.0.1:*) ;; *) echo "refusing a target off loopback: $base"; exit 1 ;; esac

token=$("$EDDY" token --sub alice --secret "$secret")
for path in /note /public/note /users/alice/note; do
    curl -fsS -o /dev/null -X PUT "$base$path" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"text":"seed"}'
done

# Streaming operations answer 200 and stay open, which no request timeout can tell from a hang:
# the Swift suite covers them. Everything else runs twice: anonymous and as alice.
# From the scratch folder: Schemathesis keeps state in .schemathesis/ of where it runs.
run() {
    cd "$work" && "$SCHEMATHESIS" run "$base/.eddy/openapi.json" \
        --checks "$checks" \
        --exclude-tag stream --phases examples,coverage,fuzzing \
        --max-examples "$examples" --seed "$seed" --generation-database none \
        --request-timeout 10 --workers 1 --no-color --suppress-health-check all "$@"
}
status=0
(run) || status=1
(run -H "Authorization: Bearer $token") || status=1
if ! kill -0 "$server" 2>/dev/null; then
    echo "eddy died during the run"
    cat "$work/server.err"
    status=1
fi
exit $status
