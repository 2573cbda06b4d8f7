#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time over its seeds; new inputs go to a scratch
# corpus in the build directory, never into the source tree. An optional fourth argument
# names a libFuzzer dictionary.
#
#   run_fuzz.sh TARGET SEEDS_DIR CORPUS_DIR [DICTIONARY]
#   IONATS_FUZZ_SECONDS=N   how long this target runs (default 30)
set -euo pipefail
target=$1 seeds=$2 corpus=$3
dictionary=()
if [ $# -ge 4 ]; then
  dictionary=(-dict="$4")
fi
mkdir -p "$corpus"
exec "$target" -max_total_time="${IONATS_FUZZ_SECONDS:-30}" -rss_limit_mb=2048 \
  -print_final_stats=1 ${dictionary[@]+"${dictionary[@]}"} "$corpus" "$seeds"
