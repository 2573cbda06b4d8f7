#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time over its seeds; new inputs go to a scratch
# corpus in the build directory, never into the source tree.
set -euo pipefail
target=$1 seeds=$2 corpus=$3
mkdir -p "$corpus"
exec "$target" -max_total_time="${IONATS_FUZZ_SECONDS:-30}" -rss_limit_mb=2048 \
  -print_final_stats=1 "$corpus" "$seeds"
