#!/usr/bin/env bash
# Runs the seed user's NATS Streaming (STAN) programs (tests/stan/node/: publisher.js and
# listener.js with node-nats-streaming 0.3.2, driven by seed000.js) against a broker it
# starts itself: free loopback ports for clients and monitoring, the cluster id and the
# heartbeats of the seed's deployment with a shorter heartbeat (-cid ticketing -hbi 1s
# -hbt 1s -hbf 2, the seed's -hbi 5s -hbt 5s -hbf 2 made quick); stops it by its PID.
#
#   run_stan.sh [seed000]
#
# The broker is $IONATS_BIN (meson's test_env; also -sd with a fresh store directory;
# $IONATS_TEST_IO and $IONATS_TEST_SHARDS pass --io and --shards), or, with
# IONATS_STAN_REFERENCE=1, the reference nats-streaming-server that scripts/setup.sh builds
# into .venv-tests/bin/, started with the same flags (its default memory store).
#
# Downloads nothing: scripts/setup.sh installed the client (npm ci in tests/stan/node/) and
# built the reference server; a missing node or client makes the test skip (exit 77) saying
# what is missing. Exit 0 passed, 1 failed, 77 skipped.
set -uo pipefail

SKIP=77
# Bounds: a broker's start and stop, one run of the driver (its own waits are shorter).
START_WAIT_S=10
STOP_WAIT_S=10
CLIENT_TIMEOUT_S=200
# A port taken between choosing it and the broker's bind is retried on another, this often.
START_ATTEMPTS=3
CLIENT_VERSION=0.3.2

program=${1:-seed000}
root=$(cd "$(dirname "$0")/../.." && pwd)
nodedir=$root/tests/stan/node
venv=$root/.venv-tests

case $program in
    seed000) ;;
    *) echo "usage: $0 [seed000]" >&2; exit 2 ;;
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

stan_flags=(-cid ticketing -hbi 1s -hbt 1s -hbf 2)
if [ "${IONATS_STAN_REFERENCE:-0}" = 1 ]; then
    server_name="reference nats-streaming-server"
    server_bin=$venv/bin/nats-streaming-server
    [ -x "$server_bin" ] || fail "IONATS_STAN_REFERENCE=1 but $server_bin is missing:" \
        "run scripts/setup.sh (it builds it with Go)"
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

node_bin=$(command -v node || true)
[ -n "$node_bin" ] || skip "no node on PATH (node-nats-streaming needs Node.js)"
installed=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
    "$nodedir/node_modules/node-nats-streaming/package.json" 2>/dev/null | head -n 1)
[ -n "$installed" ] || skip "node-nats-streaming is not installed in $nodedir/node_modules:" \
    "run scripts/setup.sh"
[ "$installed" = "$CLIENT_VERSION" ] || skip "$nodedir/node_modules has node-nats-streaming" \
    "$installed, not $CLIENT_VERSION: run scripts/setup.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ionats-stan.XXXXXX") || fail "mktemp"
server_pid=
client_pid=
cleanup() {
    local i
    # The driver (under timeout) first: it stops its clients when told to (SIGTERM).
    if [ -n "$client_pid" ] && kill -0 "$client_pid" 2>/dev/null; then
        kill -TERM "$client_pid" 2>/dev/null
        for ((i = 0; i < 100; i++)); do
            kill -0 "$client_pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$client_pid" 2>/dev/null
        wait "$client_pid" 2>/dev/null
    fi
    if [ -n "$server_pid" ]; then
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "FAIL: stopped by a signal"; exit 1' TERM INT HUP

# ---- the broker ----

# free_port, port_open, server_log_show, stop_server; start_server is not used: these
# flags differ (-m, the STAN flags, no -sd for the reference server).
. "$root/tests/lib/broker.sh"

# start_stan_server LOG: the broker on fresh client and monitoring ports; sets server_pid,
# port and http_port.
start_stan_server() {
    local log=$1 attempt deadline rc store_args=()
    if [ "$server_name" = ionats ]; then
        mkdir -p "$tmp/store"
        store_args=(-sd "$tmp/store")
    fi
    for ((attempt = 1; attempt <= START_ATTEMPTS; attempt++)); do
        port=$(free_port) || fail "no free port"
        http_port=$(free_port) || fail "no free port"
        [ "$http_port" = "$port" ] && continue
        "$server_bin" -a 127.0.0.1 -p "$port" -m "$http_port" "${stan_flags[@]}" \
            "${store_args[@]}" "${server_extra[@]}" >"$log" 2>&1 &
        server_pid=$!
        deadline=$((SECONDS + START_WAIT_S))
        while ((SECONDS < deadline)); do
            if ! kill -0 "$server_pid" 2>/dev/null; then
                break
            fi
            if port_open "$port" && port_open "$http_port"; then
                return 0
            fi
            sleep 0.05
        done
        if kill -0 "$server_pid" 2>/dev/null; then
            server_log_show "$log"
            fail "$server_name did not accept on 127.0.0.1:$port and :$http_port within" \
                "${START_WAIT_S}s"
        fi
        wait "$server_pid"
        rc=$?
        server_pid=
        if ! grep -qi 'address already in use' "$log"; then
            server_log_show "$log"
            fail "$server_name exited at start (status $rc)"
        fi
    done
    fail "$server_name: $START_ATTEMPTS port pairs in a row were taken before it bound them"
}

echo "stan $program with node-nats-streaming $installed (node $("$node_bin" --version))" \
    "against $server_name ($server_bin ${stan_flags[*]} ${server_extra[*]})"
start_stan_server "$tmp/server.log"
# In the background, so that a signal to this script stops it (see cleanup) at once.
timeout --kill-after=5 "$CLIENT_TIMEOUT_S" "$node_bin" "$nodedir/$program.js" \
    --host 127.0.0.1 --port "$port" --http-port "$http_port" 2>&1 &
client_pid=$!
wait "$client_pid"
rc=$?
client_pid=
if [ "$rc" -ne 0 ]; then
    [ "$rc" -eq "$SKIP" ] && skip "$program skipped itself"
    [ "$rc" -eq 124 ] && echo "FAIL: the driver ran past ${CLIENT_TIMEOUT_S}s"
    server_log_show "$tmp/server.log"
    fail "node-nats-streaming $program against $server_name: status $rc"
fi
stop_server "$tmp/server.log"
echo "PASS: node-nats-streaming $program against $server_name"
