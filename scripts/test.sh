#!/usr/bin/env bash
# Runs every test of ionats: set-up, build, the meson suites (unit, wire, integration),
# the wire and integration suites on each I/O backend (io_uring, epoll) with 1 and 4
# shards, again against the reference nats-server, the suites under ASan+UBSan (clang) on
# both backends, the fuzz targets (parser, CONNECT JSON, a whole client connection, the
# configuration file) for a short while each, and the cross-shard suite (xshard) under TSan
# on both backends.
#
#   IONATS_TEST_QUICK=1       skip the sanitizer and fuzz stages
#   IONATS_FUZZ_SECONDS=N     how long each fuzz target runs (default 30; two run at a time,
#                             one per CPU: four targets, a minute in all)
#   IONATS_TEST_SERIAL=1      one thing at a time: no stage beside another, the sanitizer
#                             builds in the foreground (to time a stage alone, or to rule the
#                             overlap out when a test fails)
#
# Made to fit CI's 25 minutes on 2 CPUs. Most stages wait more than they compute (brokers
# started and stopped, timeouts that must pass, clients that sleep), so:
#   - the ASan and TSan builds run in the background at nice 19 while the gcc stages after
#     the first run: they take the CPU the tests leave idle and give it back at once when a
#     test wants it;
#   - the per-backend variants of a stage run two at a time (io_uring beside epoll; with gcc
#     and ASan one with 1 shard and one with 4), each on its own brokers and ports, its own
#     meson log (meson-logs/testlog-NN.*); each stage's output is printed once it has ended.
# Each stage says how long it took.
set -uo pipefail
serial=${IONATS_TEST_SERIAL:-0}
cd "$(dirname "$0")/.."
scripts/setup.sh || { echo "setup failed"; exit 1; }

passed=0
failed=0
skipped=0
stage_failed=()

# Adds a finished meson test run's counts to the totals and prints Check's summary lines.
tally() {
  local stage=$1 output=$2 log=$3
  local ok fail timeout skip
  ok=$(sed -n 's/^Ok: *\([0-9]*\) *$/\1/p' "$output" | tail -1)
  fail=$(sed -n 's/^Fail: *\([0-9]*\) *$/\1/p' "$output" | tail -1)
  timeout=$(sed -n 's/^Timeout: *\([0-9]*\) *$/\1/p' "$output" | tail -1)
  skip=$(sed -n 's/^Skipped: *\([0-9]*\) *$/\1/p' "$output" | tail -1)
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${fail:-0} + ${timeout:-0}))
  skipped=$((skipped + ${skip:-0}))
  echo "== $stage: Check summaries"
  grep -hE '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" \
    | sed 's/^/   /' || true
}

# Stages started and not yet reported: "pid|build|stage|output|logbase" each.
stage_count=0
stages_running=()

# stage_start BUILD STAGE [meson test args...]: starts a stage in the background, with its
# own meson log (meson-logs/testlog-NN.*); the build must be complete (no rebuild, so two
# stages never run ninja at once on one build directory).
stage_start() {
  local build=$1 stage=$2
  shift 2
  local output logbase
  stage_count=$((stage_count + 1))
  logbase=$(printf 'testlog-%02d' "$stage_count")
  output=$(mktemp)
  (
    begin=$(date +%s)
    meson test -C "$build" --no-rebuild --print-errorlogs --logbase "$logbase" "$@" \
      > "$output" 2>&1
    rc=$?
    echo "== $stage: took $(( $(date +%s) - begin )) s" >> "$output"
    exit $rc
  ) &
  stages_running+=("$!|$build|$stage|$output|$logbase")
  if [ "$serial" = 1 ]; then
    stages_finish
  fi
}

# Waits for every stage started and reports each, in the order they were started.
stages_finish() {
  local entry pid build stage output logbase
  for entry in "${stages_running[@]}"; do
    IFS='|' read -r pid build stage output logbase <<< "$entry"
    echo "== $stage"
    if ! wait "$pid"; then
      stage_failed+=("$stage")
    fi
    grep -v '^== .*: took [0-9]* s$' "$output" | tail -n 12
    if grep -qE '^(Fail|Timeout): *[1-9]' "$output"; then
      stage_failed+=("$stage")
      # which check failed, and where: the lines Check and the sanitizers print
      grep -E ':[FE]:|runtime error|ERROR: [A-Za-z]*Sanitizer|^FAIL' "$output" | head -n 20
    fi
    tally "$stage" "$output" "$build/meson-logs/$logbase.txt"
    grep '^== .*: took [0-9]* s$' "$output"
    rm -f "$output"
  done
  stages_running=()
}

# run_suites BUILD STAGE [meson test args...]: one stage, alone.
run_suites() {
  stage_start "$@"
  stages_finish
}

build_dir() {
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null || return 1
  fi
  ninja -C "$dir" >/dev/null || { ninja -C "$dir" | tail -n 30; return 1; }
}

# build_start NAME DIR [meson setup args...]: builds DIR with clang in the background at
# nice 19 (IONATS_TEST_SERIAL=1: at once, in the foreground), its output kept for
# build_finish.
declare -A build_pid build_output build_status
build_start() {
  local name=$1
  shift
  build_output[$name]=$(mktemp)
  (
    begin=$(date +%s)
    [ "$serial" = 1 ] || renice -n 19 -p "$BASHPID" >/dev/null
    CC=clang CXX=clang++ build_dir "$@" || exit 1
    echo "== $1: built in $(( $(date +%s) - begin )) s"
  ) > "${build_output[$name]}" 2>&1 &
  build_pid[$name]=$!
  if [ "$serial" = 1 ]; then
    wait "${build_pid[$name]}"
    build_status[$name]=$?
  fi
}

# build_finish NAME: waits for its build; its output is shown; false when it failed.
build_finish() {
  local name=$1 rc=0
  if [ -n "${build_status[$name]:-}" ]; then
    rc=${build_status[$name]}
  else
    wait "${build_pid[$name]}" || rc=$?
  fi
  cat "${build_output[$name]}"
  rm -f "${build_output[$name]}"
  return "$rc"
}

start=$(date +%s)
if ! build_dir build-test; then
  echo "build failed"
  exit 1
fi
run_suites build-test "ionats (gcc, default shards: one per CPU)"
# after the first stage, whose crash suite waits on fdatasync, which the builds' writes slow
if [ "${IONATS_TEST_QUICK:-0}" != 1 ]; then
  build_start asan build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=true
  build_start tsan build-tsan -Db_sanitize=thread -Db_lundef=false -Djemalloc=disabled
fi
for pair in "uring 1 epoll 4" "epoll 1 uring 4"; do
  read -r io1 shards1 io2 shards2 <<< "$pair"
  IONATS_TEST_IO=$io1 IONATS_TEST_SHARDS=$shards1 \
    stage_start build-test "ionats (gcc, --io $io1 --shards $shards1)" \
    --suite integration --suite wire
  IONATS_TEST_IO=$io2 IONATS_TEST_SHARDS=$shards2 \
    stage_start build-test "ionats (gcc, --io $io2 --shards $shards2)" \
    --suite integration --suite wire
  stages_finish
done
IONATS_TEST_SERVER=nats-server run_suites build-test "reference nats-server" \
  --suite integration --suite wire
# the users' client code (tests/seeds) against the current nats-server release too
IONATS_SEEDS_REFERENCE=1 run_suites build-test "reference nats-server (seeds, current release)" \
  --suite seeds
# NATS Streaming against nats-streaming-server 0.25.6 is not a stage (CI must stay under
# 25 minutes on 2 cores; it took ~50 s): IONATS_STAN_REFERENCE=1
# IONATS_TEST_SERVER=nats-streaming-server meson test -C build-test --suite stan

if [ "${IONATS_TEST_QUICK:-0}" != 1 ]; then
  if build_finish asan; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    run_suites build-asan "ionats (clang, ASan+UBSan)" --no-suite fuzz
    # each backend once, one with 1 shard and one with 4: every backend and every shard
    # count under ASan; the gcc stages run all four pairings (the other two under ASan
    # cost 115 s of CI's 25 minutes)
    IONATS_TEST_IO=uring IONATS_TEST_SHARDS=1 \
      stage_start build-asan "ionats (clang, ASan+UBSan, --io uring --shards 1)" \
      --suite integration --suite wire
    IONATS_TEST_IO=epoll IONATS_TEST_SHARDS=4 \
      stage_start build-asan "ionats (clang, ASan+UBSan, --io epoll --shards 4)" \
      --suite integration --suite wire
    stages_finish
    unset ASAN_OPTIONS UBSAN_OPTIONS
    # CPU-bound: two targets at a time, one per CPU (tests/fuzz/meson.build)
    run_suites build-asan "fuzzing (parser, CONNECT JSON, client connection, config file)" \
      --suite fuzz
  else
    echo "sanitizer build failed"
    stage_failed+=("sanitizer build")
    failed=$((failed + 1))
  fi

  # Cross-shard code (rings, atomics) under ThreadSanitizer, both backends at once.
  # atexit_sleep_ms=0: TSan otherwise sleeps a second at the exit of every process that
  # still has threads, which is every forked Check test of a libnats client (libnats's
  # threads live on), 46 s of the jetstream suite; the brokers join their threads before
  # they exit, so it never applied to them.
  if build_finish tsan; then
    for io in uring epoll; do
      IONATS_TEST_IO=$io TSAN_OPTIONS=halt_on_error=1:atexit_sleep_ms=0 \
        stage_start build-tsan "cross-shard (clang, TSan, --io $io)" --suite xshard
    done
    stages_finish
  else
    echo "TSan build failed"
    stage_failed+=("TSan build")
    failed=$((failed + 1))
  fi
fi

echo "== took $(( $(date +%s) - start )) s"
if [ ${#stage_failed[@]} -gt 0 ]; then
  echo "failed stages: ${stage_failed[*]}"
  [ "$failed" -eq 0 ] && failed=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
