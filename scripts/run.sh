#!/usr/bin/env bash
# Builds ionats (release) and runs it on 127.0.0.1:4222 with the defaults. Extra arguments
# are passed to the broker, e.g. scripts/run.sh -p 4333 -D
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ ! -d build-release ]; then
  meson setup build-release --buildtype=release -Dtests=disabled >/dev/null
fi
ninja -C build-release engine/ionats >/dev/null
exec build-release/engine/ionats -a 127.0.0.1 -p 4222 "$@"
