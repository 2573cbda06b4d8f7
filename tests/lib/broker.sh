# The broker a client-flow test runs (sourced by tests/seeds/run_seed.sh and
# tests/kv/run_kv.sh): a free loopback port, started and stopped by PID, its log shown on a
# failure. The caller sets, before start_server: server_bin, server_name, server_args (the
# flags before -sd, e.g. -js), server_extra, tmp, START_ATTEMPTS, START_WAIT_S, STOP_WAIT_S,
# and defines fail. Sets server_pid and port.

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

server_log_show() {
    echo "---- $server_name log ($1) ----"
    tail -c 20000 "$1"
    echo "----"
}

# start_server LOG: starts the broker on a fresh port with the store in $tmp/store; sets
# server_pid and port.
start_server() {
    local log=$1 attempt deadline
    for ((attempt = 1; attempt <= START_ATTEMPTS; attempt++)); do
        port=$(free_port) || fail "no free port"
        "$server_bin" "${server_args[@]}" -sd "$tmp/store" -a 127.0.0.1 -p "$port" \
            "${server_extra[@]}" \
            >"$log" 2>&1 &
        server_pid=$!
        deadline=$((SECONDS + START_WAIT_S))
        while ((SECONDS < deadline)); do
            if ! kill -0 "$server_pid" 2>/dev/null; then
                break
            fi
            if port_open "$port"; then
                return 0
            fi
            sleep 0.05
        done
        if kill -0 "$server_pid" 2>/dev/null; then
            server_log_show "$log"
            fail "$server_name did not accept on 127.0.0.1:$port within ${START_WAIT_S}s"
        fi
        wait "$server_pid"
        local rc=$?
        server_pid=
        if ! grep -qi 'address already in use' "$log"; then
            server_log_show "$log"
            fail "$server_name exited at start (status $rc)"
        fi
    done
    fail "$server_name: $START_ATTEMPTS ports in a row were taken before it bound them"
}

# stop_server LOG: SIGTERM by PID; the broker must still be running, and must exit within
# STOP_WAIT_S (ionats: with status 0, as its README says of SIGTERM).
stop_server() {
    local log=$1 deadline rc
    if ! kill -0 "$server_pid" 2>/dev/null; then
        wait "$server_pid"
        rc=$?
        server_pid=
        server_log_show "$log"
        fail "$server_name exited (status $rc) before it was stopped"
    fi
    kill -TERM "$server_pid"
    deadline=$((SECONDS + STOP_WAIT_S))
    while kill -0 "$server_pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.05
    done
    if kill -0 "$server_pid" 2>/dev/null; then
        server_log_show "$log"
        fail "$server_name still running ${STOP_WAIT_S}s after SIGTERM"
    fi
    wait "$server_pid"
    rc=$?
    server_pid=
    if [ "$server_name" = ionats ] && [ "$rc" -ne 0 ]; then
        server_log_show "$log"
        fail "ionats exited with status $rc after SIGTERM"
    fi
}

