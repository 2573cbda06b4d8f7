#!/usr/bin/env bash
# Builds the ionats Debian package, ionats_<version>_<arch>.deb, with dpkg-deb (no debhelper):
# a release build of the broker (meson, buildtype=release, in build-pkg/), stripped, in
# /usr/bin; its man page made from `ionats --help` (packaging/debian/mkman.sh); the systemd
# unit (packaging/systemd/ionats.service: user ionats, LimitNOFILE, StateDirectory=ionats for
# the JetStream store, hardening that leaves io_uring allowed); the default configuration
# /etc/ionats/ionats.conf (a conffile, checked with `ionats -t -c` before it is packaged);
# maintainer scripts that make the system user and enable the unit (packaging/debian/).
# Depends: is what dpkg-shlibdeps finds the binary needs, plus adduser.
#
# Usage: scripts/package.sh [--binary PATH] [--out DIR] [--build-dir DIR] [--version V]
#                           [--no-install]
#   --binary PATH   package this ionats instead of building one (the package test passes the
#                   binary meson built for the test run)
#   --out DIR       where the .deb and its staging tree go (default: the build directory)
#   --build-dir DIR the release build directory (default: build-pkg)
#   --version V     the package version (default: the binary's, with +git<commit time>.<hash>
#                   appended in a git checkout)
#   --no-install    install nothing (the test passes this); without dpkg-shlibdeps the
#                   Depends: are the library packages unversioned
# It installs what it needs itself (Debian packages through apt-get, with sudo when not
# root), idempotently and quietly, as scripts/setup.sh does. The last line of its output is
# the path of the .deb.
set -euo pipefail

binary=
out_dir=
build_dir=build-pkg
version=
install_missing=1
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$(realpath "$2"); shift 2 ;;
    --out) out_dir=$(realpath -m "$2"); shift 2 ;;
    --build-dir) build_dir=$(realpath -m "$2"); shift 2 ;;
    --version) version=$2; shift 2 ;;
    --no-install) install_missing=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "package: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
source_dir=$PWD
case $build_dir in /*) ;; *) build_dir=$source_dir/$build_dir ;; esac
packaging=$source_dir/packaging

# What building the broker needs: the dependency() calls of meson.build and its subdirs,
# without the test suites' (keep in step; a missing one stops meson setup, naming it).
build_packages=(
  gcc g++ meson ninja-build pkg-config
  liburing-dev libxxhash-dev libjemalloc-dev libjansson-dev libsodium-dev libcrypt-dev libssl-dev
  protobuf-c-compiler libprotobuf-c-dev
)
# What packaging needs: dpkg-deb (dpkg), dpkg-shlibdeps (dpkg-dev), strip (binutils).
package_packages=(dpkg-dev binutils gzip)

install_debian_packages() {
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep "install ok installed" >/dev/null; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "package: installing ${missing[*]}"
  local sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The release binary from build-pkg/ (configured once; ninja rebuilds what changed), with
# Debian's hardening flags but _FORTIFY_SOURCE, which the -Werror build does not pass yet
# (warn_unused_result on getrandom, read, write). `meson configure` re-applies the options to
# a build directory set up before, and changes nothing when they are already so.
build_release() {
  local log options=(--buildtype=release -Dtests=disabled
    -Dc_args=-fstack-protector-strong -Dcpp_args=-fstack-protector-strong
    "-Dc_link_args=-Wl,-z,relro -Wl,-z,now" "-Dcpp_link_args=-Wl,-z,relro -Wl,-z,now")
  if [ -f "$build_dir/build.ninja" ]; then
    log=$(meson configure "$build_dir" "${options[@]}" 2>&1) || { echo "$log" >&2; return 1; }
  else
    log=$(meson setup "$build_dir" "${options[@]}" 2>&1) || { echo "$log" >&2; return 1; }
  fi
  if ! log=$(ninja -C "$build_dir" engine/ionats 2>&1); then
    echo "$log" >&2
    echo "package: the release build in $build_dir failed" >&2
    return 1
  fi
  binary=$build_dir/engine/ionats
}

# "ionats: v0.1.0" -> 0.1.0, then +git<commit time>.<hash> in a git checkout, so that
# packages of later commits sort after earlier ones for apt.
package_version() {
  local upstream stamp hash
  upstream=$("$binary" --version 2>&1 | sed -n 's/^[^0-9]*\([0-9][0-9A-Za-z.+~-]*\).*$/\1/p' |
    head -n 1)
  if [ -z "$upstream" ]; then
    echo "package: $binary --version printed no version" >&2
    return 1
  fi
  if stamp=$(git -C "$source_dir" log -1 --format=%cd --date=format:%Y%m%d%H%M%S 2>/dev/null) &&
      hash=$(git -C "$source_dir" rev-parse --short=7 HEAD 2>/dev/null); then
    echo "$upstream+git$stamp.$hash"
  else
    echo "$upstream"
  fi
}

# Depends: from dpkg-shlibdeps (versioned, as debhelper would write it), run in a scratch
# source tree since it wants a debian/control; without dpkg-dev, the packages owning the
# libraries ldd lists, unversioned.
shlib_depends() {
  local exe=$1 scratch=$2
  if command -v dpkg-shlibdeps >/dev/null 2>&1; then
    mkdir -p "$scratch/debian"
    printf 'Source: ionats\n\nPackage: ionats\nArchitecture: any\n' >"$scratch/debian/control"
    (cd "$scratch" && dpkg-shlibdeps -O -e"$exe" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
    return 0
  fi
  ldd "$exe" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r lib; do
    dpkg-query -S "$lib" 2>/dev/null || dpkg-query -S "$(realpath "$lib")" 2>/dev/null || true
  done | sed 's/:.*//' | sort -u | paste -sd, - | sed 's/,/, /g'
}

# A Debian changelog of one entry, as lintian wants one in every package.
write_changelog() {
  local target=$1 when
  if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    when=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
  else
    when=$(date -u -R)
  fi
  {
    echo "ionats ($version) unstable; urgency=medium"
    echo
    echo "  * Built by scripts/package.sh from $(git -C "$source_dir" rev-parse --short=12 HEAD \
      2>/dev/null || echo 'a source tree outside git')."
    echo
    echo " -- $maintainer  $when"
  } | gzip -9n >"$target"
}

if [ "$install_missing" -eq 1 ]; then
  if [ -n "$binary" ]; then
    install_debian_packages "${package_packages[@]}"
  else
    install_debian_packages "${build_packages[@]}" "${package_packages[@]}"
  fi
fi
# dpkg-shlibdeps is optional (shlib_depends falls back on ldd); these are not.
for tool in dpkg-deb strip gzip awk md5sum; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "package: $tool is missing (install dpkg, binutils, gzip, mawk, coreutils)" >&2
    exit 1
  fi
done
if [ -z "$binary" ]; then
  echo "package: building ionats (release) in $build_dir"
  build_release
fi
[ -x "$binary" ] || { echo "package: $binary is not an executable" >&2; exit 1; }
[ -n "$version" ] || version=$(package_version)
[ -n "$out_dir" ] || out_dir=$build_dir
arch=$(dpkg --print-architecture)
maintainer=${IONATS_PKG_MAINTAINER:-ionats maintainers <maintainers@ionats.invalid>}
deb=$out_dir/ionats_${version}_${arch}.deb
root=$out_dir/deb-root

# The tree as it will be installed; dpkg-deb --root-owner-group makes every file root's.
rm -rf "$root" "$out_dir/shlibs"
mkdir -p "$root/DEBIAN"
install -D -m 0755 "$binary" "$root/usr/bin/ionats"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/ionats"
install -d -m 0755 "$root/usr/share/man/man1"
"$packaging/debian/mkman.sh" "$root/usr/bin/ionats" |
  gzip -9n >"$root/usr/share/man/man1/ionats.1.gz"
install -D -m 0644 "$packaging/systemd/ionats.service" "$root/lib/systemd/system/ionats.service"
install -D -m 0644 "$packaging/debian/ionats.conf" "$root/etc/ionats/ionats.conf"
if ! check=$("$root/usr/bin/ionats" -t -c "$root/etc/ionats/ionats.conf" 2>&1); then
  echo "package: packaging/debian/ionats.conf is refused by this ionats:" >&2
  echo "$check" >&2
  exit 1
fi
doc=$root/usr/share/doc/ionats
install -D -m 0644 "$packaging/debian/copyright" "$doc/copyright"
gzip -9n <"$source_dir/README.md" >"$doc/README.md.gz"
write_changelog "$doc/changelog.gz"
chmod 0644 "$doc/README.md.gz" "$doc/changelog.gz" "$root/usr/share/man/man1/ionats.1.gz"

for script in postinst prerm postrm; do
  install -m 0755 "$packaging/debian/$script" "$root/DEBIAN/$script"
done
echo /etc/ionats/ionats.conf >"$root/DEBIAN/conffiles"
depends=$(shlib_depends "$root/usr/bin/ionats" "$out_dir/shlibs")
rm -rf "$out_dir/shlibs"
if [ -z "$depends" ]; then
  echo "package: found no shared-library dependencies of $binary" >&2
  exit 1
fi
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
  -e "s|@INSTALLED_SIZE@|$installed_size|" -e "s|@DEPENDS@|$depends, adduser|" \
  "$packaging/debian/control.in" >"$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
  xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "package: $(du -h "$deb" | cut -f1) $(dpkg-deb -f "$deb" Version) for $arch," \
  "Depends: $(dpkg-deb -f "$deb" Depends)"
echo "$deb"
