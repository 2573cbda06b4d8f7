#!/usr/bin/env bash
# Installs what ionats needs to build, test and benchmark on Debian 12, from Debian's
# packages only. Idempotent and quiet when everything is already there.
set -euo pipefail

packages=(
  gcc g++ clang libclang-rt-14-dev meson ninja-build pkg-config
  liburing-dev libxxhash-dev libjemalloc-dev libjansson-dev
  check libsubunit-dev libnats-dev nats-server libbenchmark-dev libseccomp-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
