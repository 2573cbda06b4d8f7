#!/usr/bin/env bash
# Live test of ionats-bench js-consume against ionats with JetStream: in each consumer and
# ack mode (pull with batches that divide the stream and that do not, push, ack none and
# explicit, file and memory storage) a short run must consume every message once and in
# order, and its report must say so: the consumer delivered the whole stream, with explicit
# acks every delivery acked (ack floor at the last message, nothing pending), pull requests
# as many as the batches need, the consumer's config as the server echoed it. The stream
# must be gone from the store afterwards; a server without JetStream must give exit status
# 3, and refused command lines status 2.
#
#   bench/js_consume_test.sh PATH/TO/ionats-bench PATH/TO/ionats
set -uo pipefail
bench=${1:?usage: js_consume_test.sh PATH/TO/ionats-bench PATH/TO/ionats}
server=${2:?usage: js_consume_test.sh PATH/TO/ionats-bench PATH/TO/ionats}

readonly START_TIMEOUT_S=5
readonly RUN_TIMEOUT_S=30 # each run below takes well under a second
dir=$(mktemp -d "${TMPDIR:-/tmp}/ionats-js-consume-test.XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}
trap 'cleanup; rm -rf "$dir"' EXIT

failed=0
check() { # check WHAT COMMAND...: a failure when COMMAND fails
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; failed=$((failed + 1)); fi
}

# Starts ionats with extra flags $@ on a port of its choosing (-p -1); sets pid and port.
start() {
  : >"$dir/server.log"
  "$server" -a 127.0.0.1 -p -1 "$@" >"$dir/server.log" 2>&1 &
  pid=$!
  local deadline=$((SECONDS + START_TIMEOUT_S))
  port=""
  while [ -z "$port" ] && [ $SECONDS -lt $deadline ] && kill -0 "$pid" 2>/dev/null; do
    sleep 0.05
    port=$(sed -n 's/.*Listening for client connections on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
      "$dir/server.log")
  done
  [ -n "$port" ] || { cat "$dir/server.log"; echo "FAIL: ionats did not start"; exit 1; }
}

# The number after "key": in the JSON report $2 (the keys read here are unique in it).
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$2"; }
# The string after "key": in $2, the last one when the key repeats.
text() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" <<<"$2"; }

start -js -sd "$dir/store"
url="nats://127.0.0.1:$port"

# consume NAME MSGS ACK ARGS...: one run of MSGS messages, checked; ACK is the policy the
# run should have (none or explicit); ARGS go to ionats-bench.
consume() {
  local name=$1 msgs=$2 ack=$3
  shift 3
  local out rc
  out=$(timeout "$RUN_TIMEOUT_S" "$bench" js-consume -s "$url" --msgs "$msgs" --size 32 --json \
    "$@"); rc=$?
  echo "$out"
  check "$name: exit status 0 (got $rc)" [ "$rc" -eq 0 ]
  check "$name: ok" grep -q '"ok":true' <<<"$out"
  check "$name: filled with $msgs" [ "$(field filled "$out")" = "$msgs" ]
  check "$name: consumed $msgs" [ "$(field msgs "$out")" = "$msgs" ]
  check "$name: the stream held $msgs" [ "$(field stored "$out")" = "$msgs" ]
  check "$name: delivered to the last sequence" [ "$(field delivered "$out")" = "$msgs" ]
  check "$name: nothing left to deliver" [ "$(field pending "$out")" = 0 ]
  check "$name: ack policy $ack, as the server echoed it" \
    [ "$(text ack "$out")/$(text ack_policy "$out")" = "$ack/$ack" ]
  if [ "$ack" = explicit ]; then
    check "$name: $msgs acks" [ "$(field acks "$out")" = "$msgs" ]
    check "$name: ack floor at the last message" [ "$(field ack_floor "$out")" = "$msgs" ]
    check "$name: no ack pending" [ "$(field ack_pending "$out")" = 0 ]
  else
    check "$name: no acks" [ "$(field acks "$out")" = 0 ]
  fi
  last=$out
}

# Pull: requests of --batch, the last one the stream's rest; without a 404 / 408 status
# (none is expected in runs this short) exactly ceil(msgs / batch) of them.
pull() {
  local name=$1 msgs=$2 batch=$3 ack=$4
  shift 4
  consume "$name" "$msgs" "$ack" --consumer pull --batch "$batch" --ack "$ack" "$@"
  local statuses requests needed=$(( (msgs + batch - 1) / batch ))
  statuses=$(field request_statuses "$last")
  requests=$(field requests "$last")
  check "$name: pull consumer, durable" \
    grep -q '"type":"pull","name":"ionats_bench","durable":true' <<<"$last"
  if [ "${statuses:-0}" -eq 0 ]; then
    check "$name: $needed requests (got $requests)" [ "$requests" = "$needed" ]
  else
    check "$name: $needed requests and more (got $requests, $statuses ended early)" \
      [ "$requests" -gt "$needed" ]
  fi
}

pull "pull 100, ack none" 5000 100 none
pull "pull 100, ack explicit" 5000 100 explicit
pull "pull 1000, ack explicit, a short last batch" 2500 1000 explicit
pull "pull 7, ack explicit, odd batches" 3001 7 explicit
pull "pull 1, ack none, no pipelining" 300 1 none
pull "pull 100, memory storage, another stream" 4000 100 explicit --storage memory \
  --stream BENCH_MEM --window 16
# The default ack policy of a pull consumer is explicit.
consume "pull, default ack" 1000 explicit

consume "push, ack none" 5000 none --consumer push
check "push: ephemeral, with a deliver subject and memory state" \
  grep -q '"durable":false.*"deliver_subject":"_INBOX.ionats_bench.*"mem_storage":true' <<<"$last"
check "push: no requests" [ "$(field requests "$last")" = 0 ]
consume "push, ack explicit" 5000 explicit --consumer push --ack explicit

# ionats keeps a stream in <store>/jetstream/<account>/streams/<name>.
left=$(find "$dir/store" -type d \( -name BENCH -o -name BENCH_MEM \) | head -1)
check "streams deleted after the runs ${left:+(left: $left)}" [ -z "$left" ]

"$bench" js-consume -s "$url" --duration 1 >/dev/null 2>&1; rc=$?
check "js-consume without --msgs: refused (got $rc)" [ "$rc" -eq 2 ]
"$bench" js-consume -s "$url" --msgs 10 --consumer push --batch 10 >/dev/null 2>&1; rc=$?
check "--batch with a push consumer: refused (got $rc)" [ "$rc" -eq 2 ]
"$bench" js-pub -s "$url" --count 10 --ack none >/dev/null 2>&1; rc=$?
check "--ack outside js-consume: refused (got $rc)" [ "$rc" -eq 2 ]
cleanup

start
"$bench" js-consume -s "nats://127.0.0.1:$port" --msgs 10 >/dev/null 2>&1; rc=$?
check "a server without JetStream: exit status 3 (got $rc)" [ "$rc" -eq 3 ]
cleanup

echo "$failed failed"
[ "$failed" -eq 0 ]
