#!/usr/bin/env bash
# Live test of ionats-bench js-pub against the reference nats-server with JetStream (ionats
# has none yet): a short file-storage run and a counted memory-storage run with several
# publishers and a small window must have every publish acked, the stream must hold exactly
# the acked messages (on as many subjects as --subjects spreads them over), and it must be
# gone from the store afterwards. A server without
# JetStream must give exit status 3. Exits 77 (meson: SKIP) when nats-server is missing.
#
#   bench/js_pub_test.sh PATH/TO/ionats-bench
set -uo pipefail
bench=${1:?usage: js_pub_test.sh PATH/TO/ionats-bench}

server=$(command -v nats-server || true)
if [ -z "$server" ] && [ -x /usr/sbin/nats-server ]; then
  server=/usr/sbin/nats-server # Debian's package, outside a non-root PATH
fi
if [ -z "$server" ]; then
  echo "nats-server is not installed: js-pub needs a JetStream server (skipped)"
  exit 77
fi

readonly START_TIMEOUT_S=5
dir=$(mktemp -d "${TMPDIR:-/tmp}/ionats-js-pub-test.XXXXXX")
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

# Starts nats-server with extra flags $@ on a port of its choosing; sets pid and port.
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
  [ -n "$port" ] || { cat "$dir/server.log"; echo "FAIL: nats-server did not start"; exit 1; }
}

# The number after "key": in the JSON report $2.
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$2"; }

start -js -sd "$dir/store"
url="nats://127.0.0.1:$port"

out=$("$bench" js-pub -s "$url" --duration 0.5 --json); rc=$?
echo "$out"
acked=$(field acked "$out")
check "file storage: exit status 0" [ "$rc" -eq 0 ]
check "file storage: publishes acked" [ "${acked:-0}" -gt 0 ]
check "file storage: every publish acked" [ "$(field published "$out")" = "$acked" ]
check "file storage: the stream held what was acked" [ "$(field stored "$out")" = "$acked" ]

out=$("$bench" js-pub -s "$url" --storage memory --count 5000 --pubs 3 --window 7 --size 16 \
  --stream BENCH_MEM --json); rc=$?
echo "$out"
check "memory storage, 3 publishers: exit status 0" [ "$rc" -eq 0 ]
check "memory storage, 3 publishers: all 5000 acked" [ "$(field acked "$out")" = 5000 ]
check "memory storage, 3 publishers: all 5000 stored" [ "$(field stored "$out")" = 5000 ]

# --subjects: a window of 7 that 5 does not divide (the subject tokens are rewritten per
# send), 3 publishers each going round bench.0..4: the stream holds 5 subjects; 400 of
# --subjects 1000 reach 400 subjects, each publish a subject of its own.
out=$("$bench" js-pub -s "$url" --count 3000 --pubs 3 --window 7 --subjects 5 --json); rc=$?
echo "$out"
check "5 subjects: exit status 0" [ "$rc" -eq 0 ]
check "5 subjects: all 3000 stored" [ "$(field stored "$out")" = 3000 ]
check "5 subjects: on 5 subjects" [ "$(field stored_subjects "$out")" = 5 ]
out=$("$bench" js-pub -s "$url" --count 400 --window 64 --subjects 1000 --json); rc=$?
echo "$out"
check "1000 subjects, 400 publishes: exit status 0" [ "$rc" -eq 0 ]
check "1000 subjects, 400 publishes: on 400 subjects" [ "$(field stored_subjects "$out")" = 400 ]

# nats-server keeps a file stream in <store>/jetstream/<account>/streams/<name>.
left=$(find "$dir/store" -type d \( -name BENCH -o -name BENCH_MEM \) | head -1)
check "streams deleted after the runs ${left:+(left: $left)}" [ -z "$left" ]
cleanup

start
"$bench" js-pub -s "nats://127.0.0.1:$port" --duration 0.2 >/dev/null 2>&1; rc=$?
check "a server without JetStream: exit status 3 (got $rc)" [ "$rc" -eq 3 ]
cleanup

echo "$failed failed"
[ "$failed" -eq 0 ]
