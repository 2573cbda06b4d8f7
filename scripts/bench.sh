#!/usr/bin/env bash
# Side-by-side benchmark of ionats against the reference nats-server, in one run, with the
# same load generator (build-release/bench/ionats-bench) on loopback.
#
# Servers: nats-server; ionats on io_uring (started with --io uring, so that a fallback to
# epoll cannot pass for it); ionats-epoll, the same binary started with --io epoll. Each
# ionats column gets its ratio to nats-server.
#
# For every scenario and repetition it starts a fresh server on a free port, records its
# idle RSS, runs one bounded load, records the server's CPU time (utime+stime from
# /proc/PID/stat) and peak RSS (VmHWM), and stops it by PID. Servers alternate, and their
# order rotates every repetition (A B C, B C A, C A B, ...; with two, A B, B A) so that
# drift on a shared machine hurts none more. Medians go into results/<timestamp>/table.md,
# table.csv and chart.png (gnuplot), raw runs into runs.csv and runs.jsonl; the table is
# printed at the end.
#
# fanout16b is fanout16 with a naive client: every subscriber a thread of its own reading a
# blocking socket into 32 KiB (ionats-bench --blocking-subs), where fanout16 reads all 16
# from one io_uring thread.
#
# JetStream scenarios (js-pub*) start nats-server with -js -sd <fresh temporary dir>,
# removed after each run; ionats gets the same two flags when its --help lists
# --jetstream. The generator first asks $JS.API.INFO: a server that does not answer makes
# it exit with status 3, which is reported as "n/a", not as a failure.
#
# js-pub-subj1m publishes 1,000,000 messages (file storage, 128 B), each to a subject of its
# own (bench.000000 .. bench.999999, ionats-bench --subjects 1000000), into a stream taking
# bench.>: the stream ends holding 1,000,000 subjects, the case where nats-server issue 4043
# saw the publish rate collapse. js-pub-subj1 is the same run on one subject (bench.0, same
# stream), to compare with. Both are bound by that count, not by --duration (at most
# COUNT_TIMEOUT_S each), and are not in the default list.
#
# js-consume-* (ionats-bench js-consume) fill a fresh file stream with 1,000,000 messages of
# 128 B (--consume-msgs; 300,000 with --quick) through js-pub's path, untimed, then time one
# consumer draining it, each delivery checked to come once and in stream order:
# pull100-none / pull100-explicit / pull1000-none / pull1000-explicit are a durable pull
# consumer fetching batches of 100 or 1000 (the next request sent when half a batch has
# arrived) with ack policy none or explicit (every delivery acked by a plain publish of
# +ACK); push is an ephemeral push consumer configured as nats.go's ordered consumer (ack
# none, deliver all, memory state, one replica) but without flow control. The rate counts
# deliveries from the first request to the last delivery; their CPU is the server's during
# that part only (ionats-bench --server-pid), not while filling. Bound by the count (at most
# CONSUME_TIMEOUT_S for the filling and again for the draining); not in the default list:
# --scenarios js-consume runs all five.
#
# stan-* (NATS Streaming, the legacy STAN protocol; not in the default list: --scenarios stan
# runs all four) use stan.go's own load generator, stan-bench (examples/stan-bench of
# stan.go v0.10.4, built by scripts/setup.sh into .venv-tests/bin/), and take the reference
# nats-streaming-server 0.25.6 (also built by scripts/setup.sh) in the nats-server slot of
# --servers. Each run starts a fresh broker with a fresh store: nats-streaming-server
# -cid ionats-bench -st FILE --dir <dir> (its default file_sync: a publish is acked after
# its batch is fsync'd) or -st MEMORY; ionats -cid ionats-bench -sd <dir> with --sync always
# (acked once on disk) or -st MEMORY. Every run carries --stan-msgs messages of 128 B
# (default 100000; 50000 with --quick) on the channel "bench":
#   stan-pub / stan-pub-mem  one publisher, async publishes, 512 acks in flight (stan-bench's
#                            default), FILE / MEMORY store: the rate counts acked publishes,
#                            from the first publish to the last ack (-np 1 -ns 0);
#   stan-sub                 catch-up: the channel is first filled as in stan-pub (untimed,
#                            not in the CPU), then one new subscriber with DeliverAllAvailable
#                            (stan.go auto-acks each message; 1024 in flight) receives all of
#                            it (-np 0 -ns 1). stan-bench has no durable-subscription option,
#                            so the subscription is not durable; the rate counts deliveries
#                            from the first to the last, the CPU is the broker's over the whole
#                            subscriber run (connect, subscribe, deliveries and acks, close);
#   stan-pubsub              live: that subscriber is in place first, then one publisher as in
#                            stan-pub (-np 1 -ns 1); rows for deliveries and acked publishes.
# stan-bench checks no order or duplicates: it stops at the Nth ack or delivery, and a
# broker that loses one makes the run time out (STAN_TIMEOUT_S) and count as failed.
#
#   scripts/bench.sh [--quick] [--reps N] [--duration S] [--servers LIST]
#                    [--scenarios LIST] [--consume-msgs N] [--stan-msgs N]
#     --quick            3 repetitions of 2 s loads: about 4 minutes for the three servers
#                        (js-consume-*: streams of 300,000)
#     --reps N           repetitions per scenario and server (default 5)
#     --duration S       seconds of load per run (default 3)
#     --servers LIST     comma-separated, from nats-server,ionats,ionats-epoll (default all)
#     --scenarios LIST   comma-separated subset of: pub16 pub128 pubsub fanout16 fanout16b
#                        queue4 reqrep js-pub js-pub16 js-pub-mem js-pub-mem16
#                        js-pub-subj1 js-pub-subj1m js-consume-pull100-none
#                        js-consume-pull100-explicit js-consume-pull1000-none
#                        js-consume-pull1000-explicit js-consume-push stan-pub
#                        stan-pub-mem stan-sub stan-pubsub (default: all up to
#                        js-pub; js-pub is file storage 128 B, -mem memory storage, 16:
#                        16 B, -subj1m 1,000,000 subjects and -subj1 one, see above);
#                        js-consume stands for the five js-consume-* scenarios, stan for
#                        the four stan-* ones; tls (or tls-pubsub16, tls-pubsub128,
#                        tls-fanout4, tls-fanout8) runs bench/tls_bench.sh after the others:
#                        the same servers over TLS, with a nats.go generator of its own
#                        (ionats-bench speaks no TLS), results and table in <out>/tls/;
#                        leaf runs bench/leaf_bench.sh: ionats and nats-server as the
#                        leaf of a nats-server hub, results and table in <out>/leaf/
#                        mirror runs bench/mirror_bench.sh: a new mirror copying a
#                        stream of 200000 messages, ionats against nats-server, results
#                        and table in <out>/mirror/
#                        consumer-scale runs bench/consumer_scale_bench.sh: filtered
#                        CONSUMER.CREATE and 1/100-filter pull delivery on a stream of
#                        10,000,000 messages, KV put/get/list at 100 and 1,000,000 keys
#                        (--quick: 1,000,000 messages, 100,000 keys), ionats against
#                        nats-server, results and table in <out>/consumer-scale/
#     --consume-msgs N   messages in a js-consume-* stream (default 1000000)
#     --stan-msgs N      messages per stan-* run (default 100000, at most 1000000: the
#                        channel limit of both brokers)
#   IONATS_BIN=PATH      benchmark this ionats binary instead of <build dir>/engine/ionats
#   IONATS_BUILD_DIR=DIR build and use the generator (and ionats) in DIR, not build-release
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

reps=5
duration=3
servers="nats-server,ionats,ionats-epoll"
scenarios="pub16,pub128,pubsub,fanout16,fanout16b,queue4,reqrep,js-pub"
consume_msgs=1000000
consume_msgs_given=""
stan_msgs=100000
stan_msgs_given=""
quick_flag=()
readonly CONSUME_SCENARIOS="js-consume-pull100-none,js-consume-pull100-explicit,\
js-consume-pull1000-none,js-consume-pull1000-explicit,js-consume-push"
readonly STAN_SCENARIOS="stan-pub,stan-pub-mem,stan-sub,stan-pubsub"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --quick)
      reps=3; duration=2; quick_flag=(--quick)
      [ -n "$consume_msgs_given" ] || consume_msgs=300000
      [ -n "$stan_msgs_given" ] || stan_msgs=50000 ;;
    --reps) reps=${2:?--reps needs a number}; shift ;;
    --duration) duration=${2:?--duration needs seconds}; shift ;;
    --servers) servers=${2:?--servers needs a list}; shift ;;
    --scenarios) scenarios=${2:?--scenarios needs a list}; shift ;;
    --consume-msgs)
      consume_msgs=${2:?--consume-msgs needs a number}; consume_msgs_given=yes; shift ;;
    --stan-msgs) stan_msgs=${2:?--stan-msgs needs a number}; stan_msgs_given=yes; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --reps must be >= 1" >&2; exit 2; }
[[ "$duration" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "bench.sh: bad --duration" >&2; exit 2; }
[[ "$consume_msgs" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: bad --consume-msgs" >&2; exit 2; }
if ! [[ "$stan_msgs" =~ ^[1-9][0-9]*$ ]] || [ "$stan_msgs" -gt 1000000 ]; then
  echo "bench.sh: --stan-msgs must be from 1 to 1000000" >&2; exit 2
fi
IFS=, read -r -a server_list <<< "$servers"
# "js-consume" stands for the five js-consume-* scenarios.
scenarios=$(sed -E "s/(^|,)js-consume(,|$)/\1$CONSUME_SCENARIOS\2/g" <<< "$scenarios")
# "stan" stands for the four stan-* scenarios.
scenarios=$(sed -E "s/(^|,)stan(,|$)/\1$STAN_SCENARIOS\2/g" <<< "$scenarios")
# "tls" and tls-* go to bench/tls_bench.sh, run after the others (see --scenarios).
tls_scenarios=$(tr ',' '\n' <<< "$scenarios" | { grep -E '^tls(-|$)' || true; } | paste -sd, -)
scenarios=$(tr ',' '\n' <<< "$scenarios" | { grep -Ev '^tls(-|$)' || true; } | paste -sd, -)
# "leaf" goes to bench/leaf_bench.sh, run after the others.
leaf_scenario=$(tr ',' '\n' <<< "$scenarios" | { grep -Ex 'leaf' || true; })
scenarios=$(tr ',' '\n' <<< "$scenarios" | { grep -Evx 'leaf' || true; } | paste -sd, -)
# "mirror" goes to bench/mirror_bench.sh, run after the others.
mirror_scenario=$(tr ',' '\n' <<< "$scenarios" | { grep -Ex 'mirror' || true; })
scenarios=$(tr ',' '\n' <<< "$scenarios" | { grep -Evx 'mirror' || true; } | paste -sd, -)
# "consumer-scale" goes to bench/consumer_scale_bench.sh, run after the others.
consumer_scale_scenario=$(tr ',' '\n' <<< "$scenarios" | { grep -Ex 'consumer-scale' || true; })
scenarios=$(tr ',' '\n' <<< "$scenarios" | { grep -Evx 'consumer-scale' || true; } | paste -sd, -)
IFS=, read -r -a scenario_list <<< "$scenarios"
# Every server the script knows, in the order of the table's columns.
readonly KNOWN_SERVERS=(nats-server ionats ionats-epoll)
for s in "${server_list[@]}"; do
  case "$s" in
    nats-server|ionats|ionats-epoll) ;;
    *) echo "bench.sh: unknown server $s (see --help)" >&2; exit 2 ;;
  esac
done

# Every bound is explicit: server start-up, settling before the idle RSS, one load run
# (the generator has its own --timeout; `timeout` is the backstop), server shutdown.
readonly START_TIMEOUT_S=5
readonly SETTLE_S=0.3
readonly RUN_MARGIN_S=30
readonly STOP_TIMEOUT_S=3
CLK_TCK=$(getconf CLK_TCK)
readonly CLK_TCK
# The generator stops itself at its --timeout; `timeout` kills it 10 s after that.
bench_timeout_s=$(awk -v d="$duration" -v m=$RUN_MARGIN_S 'BEGIN { print d + m }')
run_timeout_s=$(awk -v t="$bench_timeout_s" 'BEGIN { print t + 10 }')
readonly bench_timeout_s run_timeout_s
# js-pub-subj*: publishes per run, one per subject with --subjects 1000000, and the bound on
# such a run: 1,000,000 publishes at 10 k msg/s, a tenth of what either server does on one
# subject here, so that a collapse like issue 4043's (2.4 k msg/s) fails the run within
# 100 s instead of holding the script for minutes.
readonly SUBJECTS_COUNT=1000000
readonly COUNT_TIMEOUT_S=100
readonly COUNT_RUN_TIMEOUT_S=$(( COUNT_TIMEOUT_S + 10 ))
# js-consume-*: the generator's --timeout bounds the filling and the draining each (a run of
# 1,000,000 takes a few seconds of each here); the backstop adds the stream's delete, which
# the generator bounds at 30 s, and the consumer checks.
readonly CONSUME_TIMEOUT_S=100
readonly CONSUME_RUN_TIMEOUT_S=$(( 2 * CONSUME_TIMEOUT_S + 40 ))
# stan-*: stan-bench has no timeout of its own (it waits for the last ack or delivery), so
# `timeout` bounds each of its runs: 60 s plus the time of --stan-msgs at 5 k msg/s.
readonly STAN_TIMEOUT_S=$(( 60 + stan_msgs / 5000 ))
readonly STAN_CLUSTER=ionats-bench
readonly STAN_CHANNEL=bench
readonly STAN_SIZE=128
# Built by scripts/setup.sh (go install, pinned versions).
readonly STAN_BENCH_BIN=.venv-tests/bin/stan-bench
readonly NSS_BIN=.venv-tests/bin/nats-streaming-server
# IONATS_BIN=path benchmarks another ionats binary instead of building one.
ionats_bin_given=${IONATS_BIN:+yes}
readonly BUILD_DIR=${IONATS_BUILD_DIR:-build-release}
readonly IONATS_BIN=${IONATS_BIN:-$BUILD_DIR/engine/ionats}
readonly BENCH_BIN=$BUILD_DIR/bench/ionats-bench
# ionats-bench js-pub's exit status when the server does not answer $JS.API.INFO.
readonly EXIT_NO_JETSTREAM=3

log() { echo "bench.sh: $*" >&2; }

# --- installation and build --------------------------------------------------------------

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  local sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null && \
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_tools() {
  if [ -x scripts/setup.sh ]; then
    scripts/setup.sh
  fi
  local missing=()
  command -v nats-server >/dev/null || missing+=(nats-server)
  command -v jq >/dev/null || missing+=(jq)
  command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}" || log "could not install ${missing[*]}"
  fi
  local tool
  for tool in nats-server jq; do
    command -v "$tool" >/dev/null || { log "$tool is missing and could not be installed"; exit 1; }
  done
  if wants_stan; then
    for tool in "$STAN_BENCH_BIN" "$NSS_BIN"; do
      [ -x "$tool" ] || {
        log "$tool is missing: scripts/setup.sh builds it with Go (go install), see its warnings"
        exit 1
      }
    done
  fi
}

build() {
  local build_log=$1
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    meson setup "$BUILD_DIR" --buildtype=release -Dtests=disabled >"$build_log" 2>&1 || {
      cat "$build_log" >&2; log "meson setup $BUILD_DIR failed"; exit 1; }
  fi
  ninja -C "$BUILD_DIR" bench/ionats-bench >>"$build_log" 2>&1 || {
    tail -40 "$build_log" >&2; log "building ionats-bench failed"; exit 1; }
  if wants_ionats; then
    if [ -z "$ionats_bin_given" ]; then
      # A failed build may leave an older binary behind: never benchmark that one.
      ninja -C "$BUILD_DIR" engine/ionats >>"$build_log" 2>&1 || {
        tail -20 "$build_log" >&2
        log "building ionats failed (log: $build_log)."
        log "run with --servers nats-server to benchmark the reference alone."
        exit 1
      }
    fi
    if [ ! -x "$IONATS_BIN" ]; then
      log "the ionats binary $IONATS_BIN is missing (not built yet?)."
      log "run with --servers nats-server to benchmark the reference alone."
      exit 1
    fi
    if wants_server ionats-epoll && ! ionats_has_io_flag; then
      log "$IONATS_BIN has no --io flag: it cannot be run as ionats-epoll."
      exit 1
    fi
  fi
}

wants_server() {
  local s
  for s in "${server_list[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}

# True when some server to run is an ionats binary.
wants_ionats() { wants_server ionats || wants_server ionats-epoll; }

# True when some scenario to run is a stan-* one.
wants_stan() { printf '%s\n' "${scenario_list[@]}" | grep '^stan-' >/dev/null; }

# The broker that runs in server slot $2 for scenario $1: the nats-server slot of a stan-*
# scenario is nats-streaming-server. Runs are recorded (runs.csv, runs.jsonl, logs/) under it.
run_server_name() {
  case "$1,$2" in
    stan-*,nats-server) echo nats-streaming-server ;;
    *) echo "$2" ;;
  esac
}

# --- servers -----------------------------------------------------------------------------

server_pid=""
store_dir="" # the running server's JetStream store, a fresh temporary directory per run
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
  if [ -n "$store_dir" ]; then
    rm -rf "$store_dir"
    store_dir=""
  fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# A port no socket uses, below the kernel's ephemeral range: the load generator's own
# client sockets (and their TIME_WAIT leftovers) take ports from that range, and a server
# port picked inside it was found taken between runs ("address already in use").
free_port() {
  local port _ low
  low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 12000 ] || low=32768
  for _ in $(seq 50); do
    port=$(( 10000 + RANDOM % (low - 10000) ))
    if [ -z "$(ss -Htan "sport = :$port" 2>/dev/null)" ]; then
      echo "$port"; return 0
    fi
  done
  log "no free port found"; exit 1
}

# True when the ionats binary offers JetStream (its --help lists --jetstream); until then it
# is started without the flags and js-pub finds no JetStream there.
# (grep reads all of --help: with -q it could stop early, and the SIGPIPE that the writer
# then gets would fail the pipeline under pipefail, at random.)
ionats_has_jetstream() {
  "$IONATS_BIN" --help 2>&1 | grep -E -- '--jetstream([^a-z_]|$)' >/dev/null
}

# True when the ionats binary picks its I/O backend (its --help lists -io or --io).
ionats_has_io_flag() {
  "$IONATS_BIN" --help 2>&1 | grep -E -- '(^|[[:space:],])--?io[[:space:]=<]' >/dev/null
}

# Starts server $1 on port $2, logging to $3, with JetStream in a fresh store when $4 is
# "js", or NATS Streaming when $4 is "stan-file" (FILE store in a fresh directory) or
# "stan-mem" (MEMORY store), where the nats-server slot runs nats-streaming-server; sets
# server_pid (and store_dir) and waits until it listens (and, for nats-streaming-server,
# until it logs that streaming is ready: it listens before its store is open).
server_start() {
  local name=$1 port=$2 server_log=$3 js=${4:-}
  local js_args=()
  if [ "$js" = js ] && { [ "$name" = nats-server ] || ionats_has_jetstream; }; then
    store_dir=$(mktemp -d "${TMPDIR:-/tmp}/ionats-bench-js.XXXXXX")
    js_args=(-js -sd "$store_dir")
  fi
  local stan_ready=""
  case "$js" in
    stan-*)
      store_dir=$(mktemp -d "${TMPDIR:-/tmp}/ionats-bench-stan.XXXXXX")
      case "$name,$js" in
        nats-server,stan-file) js_args=(-cid "$STAN_CLUSTER" -st FILE --dir "$store_dir") ;;
        nats-server,stan-mem) js_args=(-cid "$STAN_CLUSTER" -st MEMORY) ;;
        *,stan-file) js_args=(-cid "$STAN_CLUSTER" -sd "$store_dir" --sync always) ;;
        *,stan-mem) js_args=(-cid "$STAN_CLUSTER" -sd "$store_dir" -st MEMORY) ;;
      esac
      [ "$name" != nats-server ] || stan_ready="Streaming Server is ready" ;;
  esac
  # ionats asks for io_uring outright where it can choose: under --io auto a refused
  # io_uring would fall back to epoll and be reported as io_uring.
  local io_args=()
  case "$name" in
    ionats) ! ionats_has_io_flag || io_args=(--io uring) ;;
    ionats-epoll) io_args=(--io epoll) ;;
  esac
  case "$name" in
    nats-server)
      if [ -n "$stan_ready" ]; then
        "$NSS_BIN" -a 127.0.0.1 -p "$port" "${js_args[@]}" >"$server_log" 2>&1 &
      else
        nats-server -a 127.0.0.1 -p "$port" "${js_args[@]}" >"$server_log" 2>&1 &
      fi ;;
    ionats|ionats-epoll)
      "$IONATS_BIN" -a 127.0.0.1 -p "$port" "${io_args[@]}" "${js_args[@]}" \
        >"$server_log" 2>&1 & ;;
  esac
  server_pid=$!
  local deadline=$(( SECONDS + START_TIMEOUT_S ))
  until [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ] &&
      { [ -z "$stan_ready" ] || grep -F "$stan_ready" "$server_log" >/dev/null; }; do
    if ! kill -0 "$server_pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      log "$name did not start listening on port $port (log: $server_log)"
      tail -5 "$server_log" >&2 || true
      cleanup
      return 1
    fi
    sleep 0.05
  done
  sleep "$SETTLE_S"
}

server_stop() {
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  local deadline=$(( SECONDS + STOP_TIMEOUT_S ))
  while kill -0 "$server_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  cleanup
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
status_kb() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }

# --- scenarios ---------------------------------------------------------------------------

# Generator arguments of each scenario.
scenario_args() {
  case "$1" in
    pub16) echo "pub --size 16" ;;
    pub128) echo "pub --size 128" ;;
    pubsub) echo "pubsub --size 128" ;;
    fanout16) echo "fanout --subs 16 --size 128" ;;
    fanout16b) echo "fanout --subs 16 --size 128 --blocking-subs" ;;
    queue4) echo "queue --subs 4 --size 128" ;;
    reqrep) echo "reqrep --size 128" ;;
    js-pub) echo "js-pub --storage file --size 128" ;;
    js-pub16) echo "js-pub --storage file --size 16" ;;
    js-pub-mem) echo "js-pub --storage memory --size 128" ;;
    js-pub-mem16) echo "js-pub --storage memory --size 16" ;;
    js-pub-subj1) echo "js-pub --storage file --size 128 --subjects 1" ;;
    js-pub-subj1m) echo "js-pub --storage file --size 128 --subjects $SUBJECTS_COUNT" ;;
    js-consume-pull100-none) echo "js-consume --storage file --size 128 --batch 100 --ack none" ;;
    js-consume-pull100-explicit)
      echo "js-consume --storage file --size 128 --batch 100 --ack explicit" ;;
    js-consume-pull1000-none)
      echo "js-consume --storage file --size 128 --batch 1000 --ack none" ;;
    js-consume-pull1000-explicit)
      echo "js-consume --storage file --size 128 --batch 1000 --ack explicit" ;;
    js-consume-push) echo "js-consume --storage file --size 128 --consumer push --ack none" ;;
    # stan-*: stan-bench's publishers and subscribers (run_one_stan adds the rest).
    stan-pub|stan-pub-mem) echo "-np 1 -ns 0" ;;
    stan-sub) echo "-np 0 -ns 1" ;;
    stan-pubsub) echo "-np 1 -ns 1" ;;
    *) log "unknown scenario $1"; exit 2 ;;
  esac
}

# How long a scenario's load lasts: --duration, or a fixed count for js-pub-subj* and
# js-consume-*; with the generator's own --timeout.
scenario_load_args() {
  case "$1" in
    js-pub-subj*) echo "--count $SUBJECTS_COUNT --timeout $COUNT_TIMEOUT_S" ;;
    js-consume-*) echo "--count $consume_msgs --timeout $CONSUME_TIMEOUT_S" ;;
    *) echo "--duration $duration --timeout $bench_timeout_s" ;;
  esac
}

# The backstop `timeout` of a scenario's generator run.
scenario_run_timeout() {
  case "$1" in
    js-pub-subj*) echo "$COUNT_RUN_TIMEOUT_S" ;;
    js-consume-*) echo "$CONSUME_RUN_TIMEOUT_S" ;;
    *) echo "$run_timeout_s" ;;
  esac
}

# "js" for the scenarios that need a JetStream server.
scenario_server_kind() {
  case "$1" in
    js-pub*|js-consume-*) echo js ;;
    stan-*-mem) echo stan-mem ;;
    stan-*) echo stan-file ;;
    *) echo core ;;
  esac
}

# Rows a scenario reports: "row label|unit|jq value|better|resources" (resources: whether
# the row shows CPU and RSS, once per scenario). CPU per million counts the deliveries,
# publishes or round trips that the scenario's rate counts.
scenario_rows() {
  case "$1" in
    pub16) echo "pub 16 B|M msg/s|.pub.msgs_per_s/1e6|higher|yes" ;;
    pub128) echo "pub 128 B|M msg/s|.pub.msgs_per_s/1e6|higher|yes" ;;
    pubsub) echo "pubsub 1->1 128 B|M msg/s|.sub.msgs_per_s/1e6|higher|yes" ;;
    fanout16) echo "fanout 1->16 128 B (deliveries)|M msg/s|.sub.msgs_per_s/1e6|higher|yes" ;;
    fanout16b)
      echo "fanout 1->16 128 B, blocking subscriber threads (deliveries)|M msg/s|\
.sub.msgs_per_s/1e6|higher|yes" ;;
    queue4) echo "queue group of 4 128 B|M msg/s|.sub.msgs_per_s/1e6|higher|yes" ;;
    reqrep)
      echo "reqrep 1 requester|k req/s|.pub.msgs_per_s/1e3|higher|yes"
      echo "reqrep p50|us|.latency_us.p50|lower|no"
      echo "reqrep p99|us|.latency_us.p99|lower|no" ;;
    js-pub*)
      local what
      case "$1" in
        js-pub) what="file 128 B" ;;
        js-pub16) what="file 16 B" ;;
        js-pub-mem) what="memory 128 B" ;;
        js-pub-mem16) what="memory 16 B" ;;
        js-pub-subj1) what="file 128 B, 1M publishes to 1 subject (bench.>)" ;;
        js-pub-subj1m) what="file 128 B, 1M publishes to 1M subjects (bench.>)" ;;
      esac
      echo "js-pub $what (acked)|k msg/s|.pub.msgs_per_s/1e3|higher|yes"
      echo "js-pub $what ack p50|us|.latency_us.p50|lower|no"
      echo "js-pub $what ack p99|us|.latency_us.p99|lower|no"
      # The proof that the subjects were distinct: the stream's own count (state.num_subjects).
      case "$1" in
        js-pub-subj*)
          echo "js-pub $what: subjects in the stream|subjects|.js.stored_subjects|same|no" ;;
      esac ;;
    js-consume-*)
      local what
      case "$1" in
        js-consume-pull100-none) what="pull batch 100, ack none" ;;
        js-consume-pull100-explicit) what="pull batch 100, ack explicit" ;;
        js-consume-pull1000-none) what="pull batch 1000, ack none" ;;
        js-consume-pull1000-explicit) what="pull batch 1000, ack explicit" ;;
        js-consume-push) what="push ordered-style (ack none, no flow control)" ;;
      esac
      echo "js-consume $what, file 128 B (deliveries)|k msg/s|.sub.msgs_per_s/1e3|higher|yes" ;;
    stan-pub) echo "STAN publish, FILE, 128 B (acked)|k msg/s|.pub.msgs_per_s/1e3|higher|yes" ;;
    stan-pub-mem)
      echo "STAN publish, MEMORY, 128 B (acked)|k msg/s|.pub.msgs_per_s/1e3|higher|yes" ;;
    stan-sub)
      echo "STAN catch-up, 1 new subscriber, FILE, 128 B (deliveries)|k msg/s|\
.sub.msgs_per_s/1e3|higher|yes" ;;
    stan-pubsub)
      echo "STAN live 1 -> 1, FILE, 128 B (deliveries)|k msg/s|.sub.msgs_per_s/1e3|higher|yes"
      echo "STAN live 1 -> 1, FILE, 128 B (acked publishes)|k msg/s|.pub.msgs_per_s/1e3|higher|no"
      ;;
  esac
}

# Messages a scenario's CPU is counted per: acked publishes for js-pub.
scenario_msgs_query() {
  case "$1" in
    pub16|pub128|reqrep|js-pub*|stan-pub|stan-pub-mem) echo ".pub.msgs" ;;
    *) echo ".sub.msgs" ;;
  esac
}

# One run: prints "value-json|msgs|cpu_s|idle_kb|peak_kb|rc" and appends to the raw files.
run_one() {
  local scenario=$1 server=$2 rep=$3
  case "$scenario" in stan-*) run_one_stan "$@"; return ;; esac
  local port; port=$(free_port)
  local server_log="$out/logs/$scenario-$server-$rep.log"
  if ! server_start "$server" "$port" "$server_log" "$(scenario_server_kind "$scenario")"; then
    echo "$scenario,$server,$rep,$port,,,,,start-failed" >>"$out/runs.csv"
    return 0
  fi
  local idle_kb; idle_kb=$(status_kb "$server_pid" VmRSS)
  local cpu_before; cpu_before=$(cpu_ticks "$server_pid")
  local json="" rc=0
  # js-consume: the generator reads the server's CPU around the draining only, not the filling.
  local cpu_args=()
  case "$scenario" in js-consume-*) cpu_args=(--server-pid "$server_pid") ;; esac
  # shellcheck disable=SC2046 # the scenario's arguments are meant to split
  json=$(timeout --kill-after=5 "$(scenario_run_timeout "$scenario")" \
    "$BENCH_BIN" $(scenario_args "$scenario") $(scenario_load_args "$scenario") \
    "${cpu_args[@]}" -s "nats://127.0.0.1:$port" --json \
    2>>"$out/logs/$scenario-$server-$rep.bench.err") || rc=$?
  if [ -n "$json" ] && ! jq -e . <<<"$json" >/dev/null 2>&1; then
    echo "$json" >>"$out/logs/$scenario-$server-$rep.bench.err"
    json=""
    [ $rc -ne 0 ] || rc=1
  fi
  local cpu_after peak_kb
  cpu_after=$(cpu_ticks "$server_pid" 2>/dev/null || echo "$cpu_before")
  peak_kb=$(status_kb "$server_pid" VmHWM 2>/dev/null || echo "")
  server_stop
  local cpu_s
  cpu_s=$(awk -v a="$cpu_before" -v b="$cpu_after" -v t="$CLK_TCK" 'BEGIN{printf "%.3f", (b-a)/t}')
  if [ ${#cpu_args[@]} -gt 0 ] && [ -n "$json" ]; then
    local measured
    measured=$(jq -r '.server_cpu_s // empty' <<<"$json" 2>/dev/null || true)
    if [ -n "$measured" ]; then
      cpu_s=$measured
    else
      log "$scenario on $server: no server_cpu_s from the generator; CPU includes the filling"
    fi
  fi
  local msgs=""
  if [ -n "$json" ]; then
    printf '{"scenario":"%s","server":"%s","rep":%d,"rc":%d,"server_cpu_s":%s,' \
      "$scenario" "$server" "$rep" "$rc" "$cpu_s" >>"$out/runs.jsonl"
    printf '"idle_rss_kb":%d,"peak_rss_kb":%d,"bench":%s}\n' \
      "${idle_kb:-0}" "${peak_kb:-0}" "$json" >>"$out/runs.jsonl"
    msgs=$(jq -r "$(scenario_msgs_query "$scenario")" <<<"$json" 2>/dev/null || true)
  fi
  if [ $rc -eq $EXIT_NO_JETSTREAM ] && [ "$(scenario_server_kind "$scenario")" = js ]; then
    log "$scenario on $server: n/a, $(tail -1 "$out/logs/$scenario-$server-$rep.bench.err")"
  elif [ $rc -ne 0 ]; then
    local why
    why=$(jq -r .error <<<"$json" 2>/dev/null || cat "$out/logs/$scenario-$server-$rep.bench.err")
    log "$scenario on $server (rep $rep) failed with status $rc: $why"
  fi
  echo "$scenario,$server,$rep,$port,$msgs,$cpu_s,$idle_kb,$peak_kb,$rc" >>"$out/runs.csv"
}

# One stan-bench run against the broker at URL $1, writing its report to $2.out, its log to
# $2.err and its samples to $2.csv; the remaining arguments go to stan-bench. Returns its
# status (124: killed by `timeout`).
stan_bench() {
  local url=$1 prefix=$2
  shift 2
  timeout --kill-after=5 "$STAN_TIMEOUT_S" "$STAN_BENCH_BIN" -s "$url" -c "$STAN_CLUSTER" \
    -n "$stan_msgs" -ms "$STAN_SIZE" -csv "$prefix.csv" "$@" "$STAN_CHANNEL" \
    >"$prefix.out" 2>"$prefix.err"
}

# stan-bench's samples (-csv: #RunID,ClientID,MsgCount,MsgBytes,MsgsPerSec,BytesPerSec,
# DurationSecs; ClientID S0 for the subscriber, P0 for the publisher) as the generator JSON
# that the tables read: {"pub":{"msgs":..,"msgs_per_s":..,"duration_s":..},"sub":{..}}.
# MsgCount counts every NATS message of the connection, acks included, so msgs is
# --stan-msgs (stan-bench ends a sample at the --stan-msgs-th ack or delivery) and the rate
# is that over DurationSecs.
stan_json() {
  awk -F, -v n="$stan_msgs" '
    $2 == "P0" || $2 == "S0" {
      key = $2 == "P0" ? "pub" : "sub"
      if ($7 + 0 <= 0) next
      part[key] = sprintf("\"%s\":{\"msgs\":%d,\"msgs_per_s\":%.1f,\"duration_s\":%s}",
                          key, n, n / $7, $7)
    }
    END {
      if (!("pub" in part) && !("sub" in part)) exit 1
      out = ""
      if ("pub" in part) out = part["pub"]
      if ("sub" in part) out = out (out == "" ? "" : ",") part["sub"]
      print "{" out "}"
    }' "$1"
}

# One stan-* run, recorded as run_one records one (server: the broker that ran, so
# nats-streaming-server for the nats-server slot). stan-sub first fills the channel with
# the same publisher as stan-pub, untimed and outside the CPU count.
run_one_stan() {
  local scenario=$1 server=$2 rep=$3
  local name; name=$(run_server_name "$scenario" "$server")
  local port; port=$(free_port)
  local prefix="$out/logs/$scenario-$name-$rep"
  local url="nats://127.0.0.1:$port"
  if ! server_start "$server" "$port" "$prefix.log" "$(scenario_server_kind "$scenario")"; then
    echo "$scenario,$name,$rep,$port,,,,,start-failed" >>"$out/runs.csv"
    return 0
  fi
  local idle_kb; idle_kb=$(status_kb "$server_pid" VmRSS)
  local rc=0 failed_step=""
  if [ "$scenario" = stan-sub ]; then
    stan_bench "$url" "$prefix.fill" -id stan-bench-fill -np 1 -ns 0 || {
      rc=$?; failed_step=fill; }
  fi
  local cpu_before cpu_after=""
  cpu_before=$(cpu_ticks "$server_pid")
  if [ $rc -eq 0 ]; then
    # shellcheck disable=SC2046 # the scenario's arguments are meant to split
    stan_bench "$url" "$prefix" -id stan-bench $(scenario_args "$scenario") || rc=$?
  fi
  cpu_after=$(cpu_ticks "$server_pid" 2>/dev/null || echo "$cpu_before")
  local peak_kb; peak_kb=$(status_kb "$server_pid" VmHWM 2>/dev/null || echo "")
  server_stop
  local cpu_s
  cpu_s=$(awk -v a="$cpu_before" -v b="$cpu_after" -v t="$CLK_TCK" 'BEGIN{printf "%.3f", (b-a)/t}')
  local json=""
  if [ $rc -eq 0 ]; then
    json=$(stan_json "$prefix.csv" 2>/dev/null) || { json=""; rc=1; }
  fi
  local msgs=""
  if [ -n "$json" ]; then
    printf '{"scenario":"%s","server":"%s","rep":%d,"rc":%d,"server_cpu_s":%s,' \
      "$scenario" "$name" "$rep" "$rc" "$cpu_s" >>"$out/runs.jsonl"
    printf '"idle_rss_kb":%d,"peak_rss_kb":%d,"bench":%s}\n' \
      "${idle_kb:-0}" "${peak_kb:-0}" "$json" >>"$out/runs.jsonl"
    msgs=$(jq -r "$(scenario_msgs_query "$scenario")" <<<"$json" 2>/dev/null || true)
  else
    local step=${failed_step:+$prefix.fill} why
    step=${step:-$prefix}
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
      why="stan-bench timed out after ${STAN_TIMEOUT_S} s (not every ack or delivery came)"
    else
      why=$(tail -3 "$step.err" 2>/dev/null | tr '\n' ' ')
    fi
    log "$scenario on $name (rep $rep${failed_step:+, filling}) failed with status $rc: $why" \
      "(logs: $step.err, $prefix.log)"
  fi
  echo "$scenario,$name,$rep,$port,$msgs,$cpu_s,$idle_kb,$peak_kb,$rc" >>"$out/runs.csv"
}

# --- tables ------------------------------------------------------------------------------

median() {
  sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) print ""; else if (NR % 2) print v[(NR+1)/2];
          else print (v[NR/2] + v[NR/2+1]) / 2 }'
}

# Median of jq expression $3 over the successful runs of scenario $1 on server $2.
runs_median() {
  jq -r --arg sc "$1" --arg sv "$2" \
    "select(.scenario == \$sc and .server == \$sv and .rc == 0) | $3" \
    "$out/runs.jsonl" 2>/dev/null | median
}

# True when server $2 ran scenario $1 and every run found no JetStream there.
runs_not_applicable() {
  awk -F, -v sc="$1" -v sv="$2" -v na="$EXIT_NO_JETSTREAM" '
    $1 == sc && $2 == sv { runs++; if ($9 == na) skipped++ }
    END { exit !(runs > 0 && skipped == runs) }' "$out/runs.csv"
}

fmt() {
  if [ "$1" = n/a ]; then echo "n/a"; return; fi
  [ -n "$1" ] && awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }' || echo "-"
}

# The servers of this run in the table's column order (KNOWN_SERVERS), and those that get a
# ratio column: every ionats one, when nats-server ran too.
table_servers=()
ratio_servers=()
for s in "${KNOWN_SERVERS[@]}"; do
  if wants_server "$s"; then table_servers+=("$s"); fi
done
if wants_server nats-server; then
  for s in "${table_servers[@]}"; do
    [ "$s" = nats-server ] || ratio_servers+=("$s")
  done
fi

# A server name as a CSV column suffix: nats-server -> nats_server.
csv_name() { echo "${1//-/_}"; }

# One row of table.md, table.csv and chart.dat: medians per server, in KNOWN_SERVERS order
# in table.csv (empty for servers not run), in table_servers order in table.md and the chart.
# A server without JetStream: "n/a" in the table, empty in table.csv, 0 in the chart.
table_row() {
  local scenario=$1 label=$2 unit=$3 query=$4 better=$5 resources=$6
  local msgs; msgs=$(scenario_msgs_query "$scenario")
  # value, na and ratio by server; resource by "cpu|peak|idle,server".
  local -A value=() na=() ratio=() resource=()
  local s run
  for s in "${KNOWN_SERVERS[@]}"; do
    value[$s]="" na[$s]="" ratio[$s]=""
    resource[cpu,$s]="" resource[peak,$s]="" resource[idle,$s]=""
    wants_server "$s" || continue
    run=$(run_server_name "$scenario" "$s")
    value[$s]=$(runs_median "$scenario" "$run" ".bench | $query")
    if runs_not_applicable "$scenario" "$run"; then na[$s]=n/a; fi
    if [ "$resources" = yes ]; then
      resource[cpu,$s]=$(runs_median "$scenario" "$run" \
        ".server_cpu_s / ((.bench | $msgs) / 1e6)")
      resource[peak,$s]=$(runs_median "$scenario" "$run" ".peak_rss_kb / 1024")
      resource[idle,$s]=$(runs_median "$scenario" "$run" ".idle_rss_kb / 1024")
    fi
  done
  local reference=${value[nats-server]}
  for s in "${ratio_servers[@]}"; do
    if [ -n "$reference" ] && [ -n "${value[$s]}" ]; then
      ratio[$s]=$(awk -v a="${value[$s]}" -v b="$reference" \
        'BEGIN { if (b > 0) printf "%.2f", a / b }')
    fi
  done
  # table.csv: values, the ionats servers' ratios, CPU, peak RSS, idle RSS.
  local csv="\"$label\",$unit,$better"
  for s in "${KNOWN_SERVERS[@]}"; do csv+=",${value[$s]}"; done
  for s in "${KNOWN_SERVERS[@]:1}"; do csv+=",${ratio[$s]}"; done
  local kind
  for kind in cpu peak idle; do
    for s in "${KNOWN_SERVERS[@]}"; do csv+=",${resource[$kind,$s]}"; done
  done
  echo "$csv" >>"$out/table.csv"
  # table.md: a ratio is n/a where either server is; resources where the server is.
  local md="| $label | $unit" chart="\"$label ($unit)\"" resource_na
  for s in "${table_servers[@]}"; do
    md+=" | $(fmt "${na[$s]:-${value[$s]}}" %.2f)"
    chart+=" ${value[$s]:-0}"
  done
  for s in "${ratio_servers[@]}"; do
    md+=" | $(fmt "${na[nats-server]:-${na[$s]:-${ratio[$s]}}}" %.2f)"
  done
  md+=" | $better"
  local -A resource_format=([cpu]=%.3f [peak]=%.1f [idle]=%.1f)
  for kind in cpu peak idle; do
    for s in "${table_servers[@]}"; do
      resource_na=""
      if [ "$resources" = yes ]; then resource_na=${na[$s]}; fi
      md+=" | $(fmt "${resource_na:-${resource[$kind,$s]}}" "${resource_format[$kind]}")"
    done
  done
  echo "$md |" >>"$out/table.md"
  echo "$chart $better" >>"$out/chart.dat"
}

# The table.csv header, in the column order of table_row.
table_csv_header() {
  local header="scenario,unit,better" s
  for s in "${KNOWN_SERVERS[@]}"; do header+=",$(csv_name "$s")"; done
  for s in "${KNOWN_SERVERS[@]:1}"; do header+=",ratio_$(csv_name "$s")_over_nats_server"; done
  for s in "${KNOWN_SERVERS[@]}"; do header+=",cpu_s_per_M_$(csv_name "$s")"; done
  for s in "${KNOWN_SERVERS[@]}"; do header+=",peak_rss_mb_$(csv_name "$s")"; done
  for s in "${KNOWN_SERVERS[@]}"; do header+=",idle_rss_mb_$(csv_name "$s")"; done
  echo "$header"
}

# The table.md header and its alignment line, in the column order of table_row; for the
# stan-* table ($1 = stan), nats-streaming-server in the nats-server slot and CPU in us per
# message (the same number as s per million).
table_md_header() {
  local header="| scenario | unit" align="| --- | ---" s cpu="CPU s/M" ref=nats-server
  local -A shown=()
  for s in "${table_servers[@]}"; do shown[$s]=$s; done
  if [ "${1:-}" = stan ]; then
    for s in "${table_servers[@]}"; do shown[$s]=$(run_server_name stan- "$s"); done
    cpu="CPU us/msg" ref=$(run_server_name stan- nats-server)
  fi
  for s in "${table_servers[@]}"; do header+=" | ${shown[$s]}"; align+=" | ---:"; done
  for s in "${ratio_servers[@]}"; do header+=" | $s/$ref"; align+=" | ---:"; done
  header+=" | better"
  align+=" | ---"
  for s in "${table_servers[@]}"; do header+=" | $cpu ${shown[$s]}"; align+=" | ---:"; done
  for s in "${table_servers[@]}"; do header+=" | peak RSS ${shown[$s]}"; align+=" | ---:"; done
  for s in "${table_servers[@]}"; do header+=" | idle RSS ${shown[$s]}"; align+=" | ---:"; done
  echo "$header |"
  echo "$align |"
}

# The paragraph before the stan-* table.
stan_table_notes() {
  local tmp=${TMPDIR:-/tmp} device
  device=$(df -P "$tmp" | awk 'NR == 2 { print $1 }')
  [ "$(tail -c 1 "$out/table.md")" = "" ] || echo
  echo "NATS Streaming (stan-*): $("$NSS_BIN" --version 2>/dev/null | head -1) in the"
  echo "nats-server slot, ionats -cid $STAN_CLUSTER; load from stan-bench (stan.go"
  echo "v0.10.4 examples/stan-bench), $stan_msgs messages of $STAN_SIZE B per run (not"
  echo "${duration} s), medians of $reps runs; a fresh broker and store (under $tmp, on"
  echo "$device) per run. FILE: nats-streaming-server -st FILE --dir (default file_sync),"
  echo "ionats -sd --sync always: a publish is acked once on disk in both; MEMORY: -st MEMORY."
  echo "Publish: 1 publisher, async, 512 acks in flight; rate = acked publishes, first"
  echo "publish to last ack. Catch-up: the channel filled first (untimed, outside the CPU),"
  echo "then 1 new, non-durable subscriber (DeliverAllAvailable, auto-ack, 1024 in flight);"
  echo "rate = deliveries, first to last. Live 1 -> 1: that subscriber in place, then the"
  echo "publisher. CPU = broker user+sys us per message of the rate (the same number as s per"
  echo "million), over the whole stan-bench run; ratio = that ionats / nats-streaming-server."
  echo
}

make_tables() {
  local csv="$out/table.csv" md="$out/table.md"
  local revision
  revision=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')
  table_csv_header >"$csv"
  {
    echo "# ionats vs nats-server — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "$(nproc) CPUs, kernel $(uname -r), $(nats-server --version 2>/dev/null), ionats $revision."
    echo "Medians of $reps runs of ${duration} s per server; a fresh server per run; servers"
    echo "alternate, their order rotating every repetition. ionats runs with --io uring,"
    echo "ionats-epoll with --io epoll. Ratio = that ionats / nats-server: above 1 is better for"
    echo "rates (better = higher), below 1 for latencies (better = lower). CPU = server"
    echo "CPU-seconds (user+sys) per million messages counted by the scenario's rate; RSS"
    echo "(VmHWM peak, VmRSS idle) in MB."
    if printf '%s\n' "${scenario_list[@]}" | grep -x fanout16b >/dev/null; then
      echo "Blocking subscriber threads (fanout16b): the 16 subscribers of fanout16, each a"
      echo "thread of its own reading a blocking socket into 32 KiB."
    fi
    if printf '%s\n' "${scenario_list[@]}" | grep '^js-pub' >/dev/null; then
      echo "js-pub: a fresh stream (limits retention, discard old) per run, created by a"
      local tmp=${TMPDIR:-/tmp} device
      device=$(df -P "$tmp" | awk 'NR == 2 { print $1 }')
      echo "\$JS.API request, in a fresh -sd store under $tmp (on $device);"
      echo "1 publisher, 256 publishes in flight awaiting acks; the rate counts acked publishes,"
      echo "so CPU s/M is server CPU-us per acked publish; ack latency is from the send of a"
      echo "publish to the read that brought its ack. n/a: the server has no JetStream."
    fi
    if printf '%s\n' "${scenario_list[@]}" | grep '^js-consume-' >/dev/null; then
      echo "js-consume: a fresh file stream per run, filled untimed with $consume_msgs messages"
      echo "of 128 B (1 publisher, 1024 publishes in flight), then drained by one consumer"
      echo "connection, every delivery checked to come once and in stream order: a durable pull"
      echo "consumer fetching batches of 100 or 1000 (the next request sent once half a batch"
      echo "has arrived), ack policy none or explicit (a +ACK publish per delivery; after the"
      echo "run the consumer's ack floor must be the last message), or an ephemeral push"
      echo "consumer as nats.go's ordered consumer configures it, without flow control. The rate"
      echo "counts deliveries from the first request (push: the SUB) to the last delivery; CPU"
      echo "s/M is the server's CPU during that part only (not the filling), per million"
      echo "deliveries; peak RSS includes the filling."
    fi
    if printf '%s\n' "${scenario_list[@]}" | grep '^js-pub-subj' >/dev/null; then
      echo "js-pub-subj1m / -subj1: $SUBJECTS_COUNT publishes per run (not ${duration} s), to"
      echo "bench.<i> with i from 0 to $((SUBJECTS_COUNT - 1)), zero-padded (1M subjects), or"
      echo "all to bench.0 (1 subject), into a stream taking bench.>; \"subjects in the stream\""
      echo "is the stream's state.num_subjects after the run (better = same)."
    fi
    echo
  } >"$md"
  : >"$out/chart.dat"
  # The stan-* rows come in a table of their own, after the others.
  local scenario label unit query better resources part
  for part in core stan; do
    local part_scenarios=()
    for scenario in "${scenario_list[@]}"; do
      case "$scenario" in
        stan-*) [ "$part" = core ] || part_scenarios+=("$scenario") ;;
        *) [ "$part" = stan ] || part_scenarios+=("$scenario") ;;
      esac
    done
    [ ${#part_scenarios[@]} -gt 0 ] || continue
    [ "$part" = core ] || stan_table_notes >>"$md"
    table_md_header "$part" >>"$md"
    for scenario in "${part_scenarios[@]}"; do
      while IFS='|' read -r label unit query better resources; do
        table_row "$scenario" "$label" "$unit" "$query" "$better" "$resources"
      done < <(scenario_rows "$scenario")
    done
  done
  local failed
  failed=$(awk -F, -v na="$EXIT_NO_JETSTREAM" \
    'NR > 1 && $9 != 0 && !($1 ~ /^js-/ && $9 == na)' "$out/runs.csv" | wc -l)
  [ "$failed" -eq 0 ] || echo -e "\n$failed run(s) failed: see runs.csv and logs/." >>"$md"
}

# gnuplot's plot command for the chart.dat lines ending in " $1": a bar per server.
chart_plot() {
  local plot="plot \"< grep ' $1\$' $out/chart.dat\"" column=2 s
  for s in "${table_servers[@]}"; do
    if [ $column -eq 2 ]; then
      plot+=" using 2:xtic(1) title \"$s\""
    else
      plot+=", '' using $column title \"$s\""
    fi
    column=$(( column + 1 ))
  done
  echo "$plot"
}

make_chart() {
  command -v gnuplot >/dev/null || { log "gnuplot missing: no chart"; return 0; }
  # Rates and latencies side by side, a panel only where there are rows for it (gnuplot
  # refuses an empty one); each bar is a median, grouped per scenario.
  local panels=() better
  for better in higher lower; do
    if grep -q " $better\$" "$out/chart.dat"; then panels+=("$better"); fi
  done
  [ ${#panels[@]} -gt 0 ] || return 0
  local plots=""
  for better in "${panels[@]}"; do
    case "$better" in
      higher) plots+=$'set title "rates (higher is better)"\n' ;;
      lower) plots+=$'set title "latencies, us (lower is better)"\n' ;;
    esac
    plots+="$(chart_plot "$better")"$'\n'
  done
  gnuplot <<EOF 2>>"$out/logs/gnuplot.err" || log "gnuplot failed: see logs/gnuplot.err"
set terminal pngcairo size 1400,600 noenhanced font ",10"
set output "$out/chart.png"
set multiplot layout 1,${#panels[@]} title "ionats vs nats-server (medians of $reps runs)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30 left
set grid ytics
set key top right
$plots
unset multiplot
EOF
}

# --- main --------------------------------------------------------------------------------

install_tools
out="results/$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$out/logs"
build "$out/logs/build.log"
echo "scenario,server,rep,port,msgs,server_cpu_s,idle_rss_kb,peak_rss_kb,rc" >"$out/runs.csv"
: >"$out/runs.jsonl"

started=$SECONDS
for scenario in "${scenario_list[@]}"; do
  scenario_args "$scenario" >/dev/null
  for rep in $(seq "$reps"); do
    # Repetition r starts with server (r - 1) mod n and goes round: over n repetitions each
    # server takes each place in the order once.
    order=()
    for i in "${!server_list[@]}"; do
      order+=("${server_list[$(( (rep - 1 + i) % ${#server_list[@]} ))]}")
    done
    for server in "${order[@]}"; do
      log "$scenario rep $rep/$reps on $(run_server_name "$scenario" "$server")"
      run_one "$scenario" "$server" "$rep"
    done
  done
done

if [ -n "$tls_scenarios" ]; then
  log "TLS scenarios: bench/tls_bench.sh (log: $out/logs/tls_bench.log)"
  bench/tls_bench.sh --reps "$reps" --duration "$duration" --servers "$servers" \
    --scenarios "$tls_scenarios" --out "$out/tls" >"$out/logs/tls_bench.log" 2>&1 ||
    log "bench/tls_bench.sh failed: see $out/logs/tls_bench.log"
fi
if [ -n "$leaf_scenario" ]; then
  log "leafnode scenarios: bench/leaf_bench.sh (log: $out/logs/leaf_bench.log)"
  bench/leaf_bench.sh --reps "$reps" --duration "$duration" --out "$out/leaf" \
    >"$out/logs/leaf_bench.log" 2>&1 || log "bench/leaf_bench.sh failed: see $out/logs/leaf_bench.log"
fi
if [ -n "$mirror_scenario" ]; then
  log "mirror scenario: bench/mirror_bench.sh (log: $out/logs/mirror_bench.log)"
  bench/mirror_bench.sh --reps "$reps" --out "$out/mirror" \
    >"$out/logs/mirror_bench.log" 2>&1 || log "bench/mirror_bench.sh failed: see $out/logs/mirror_bench.log"
fi
if [ -n "$consumer_scale_scenario" ]; then
  log "consumer-scale scenario: bench/consumer_scale_bench.sh (log: $out/logs/consumer_scale_bench.log)"
  bench/consumer_scale_bench.sh "${quick_flag[@]}" --reps "$(( reps < 3 ? reps : 3 ))" \
    --out "$out/consumer-scale" >"$out/logs/consumer_scale_bench.log" 2>&1 ||
    log "bench/consumer_scale_bench.sh failed: see $out/logs/consumer_scale_bench.log"
fi
make_tables
make_chart
echo
cat "$out/table.md"
if [ -f "$out/tls/table.md" ]; then echo; cat "$out/tls/table.md"; fi
if [ -f "$out/leaf/table.md" ]; then echo; cat "$out/leaf/table.md"; fi
if [ -f "$out/mirror/table.md" ]; then echo; cat "$out/mirror/table.md"; fi
if [ -f "$out/consumer-scale/table.md" ]; then echo; cat "$out/consumer-scale/table.md"; fi
echo
echo "results in $out: table.md table.csv chart.png runs.csv runs.jsonl logs/"
echo "($(( SECONDS - started )) s of runs)"
