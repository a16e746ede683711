#!/usr/bin/env bash
# Prebuilt mptcp-native addons (both files: mptcp_native.node and mptcp_splice.node) for the
# npm tarballs, into packages/mptcp-native/prebuilds/linux-<arch>/. The install hook
# (packages/mptcp-native/install.js) loads them before it would compile anything.
#   bash scripts/prebuild.sh [x64] [arm64]       (default: both on an x86_64 host, else the host's)
#
# - The host's architecture: node-gyp with the host's g++, in a clean copy of the addon's sources.
# - arm64 (glibc) on an x86_64 host: Debian's g++-aarch64-linux-gnu. libcrypt for arm64 comes from an arm64
#   Debian root made by `debootstrap --foreign` (cached in $ARM64_ROOT), which also carries
#   Debian's nodejs:arm64: the new .node files are then loaded by that Node, under
#   qemu-aarch64-static, chrooted into that root (a machine without build tools), and the
#   script fails if they do not load.
# NAPI_VERSION 8: one binary per platform serves Node 20 and every later Node.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PKG=$ROOT/packages/mptcp-native
OUT=$PKG/prebuilds
ARM64_ROOT=${ARM64_ROOT:-/var/cache/mptcp-proxy/arm64-bookworm}
SUITE=bookworm
case "$(uname -m)" in x86_64) HOST=x64 ;; aarch64) HOST=arm64 ;; *) HOST=other ;; esac
arches=("$@")
[ ${#arches[@]} -gt 0 ] || { [ $HOST = x64 ] && arches=(x64 arm64); } || arches=("$HOST")

need_pkgs() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || { echo "prebuild: need root to apt-get install ${missing[*]}" >&2; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

GYP=$(node -p "require.resolve('node-gyp/bin/node-gyp.js', { paths: ['$PKG'] })")
# Node's headers from beside the host's Node (nodejs.org is not reachable from every build host).
NODEDIR=${npm_config_nodedir:-$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")}
[ -f "$NODEDIR/include/node/node_api.h" ] || { echo "prebuild: no Node headers in $NODEDIR/include/node (set npm_config_nodedir)" >&2; exit 1; }

# build ARCH [env...]: node-gyp in a scratch copy (the checkout's build/ is left alone).
build() {
  local arch=$1; shift
  local work
  work=$(mktemp -d /tmp/prebuild-"$arch".XXXXXX)
  cp -r "$PKG/binding.gyp" "$PKG/src" "$work/"
  ln -s "$ROOT/node_modules" "$work/node_modules"
  (cd "$work" && env "$@" node "$GYP" rebuild --arch="$arch" --nodedir="$NODEDIR" >"$work/build.log" 2>&1) \
    || { tail -30 "$work/build.log"; echo "prebuild: $arch build failed" >&2; exit 1; }
  mkdir -p "$OUT/linux-$arch"
  for f in mptcp_native.node mptcp_splice.node; do
    install -m 644 "$work/build/Release/$f" "$OUT/linux-$arch/$f"
    "$STRIP" --strip-unneeded "$OUT/linux-$arch/$f"
  done
  rm -rf "$work"
  # The newest glibc symbol version each file needs: the oldest distribution it runs on.
  for f in "$OUT/linux-$arch"/*.node; do
    printf 'prebuild: %s  %s bytes  needs %s\n' "${f#"$ROOT"/}" "$(stat -c %s "$f")" \
      "$(objdump -T "$f" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
  done
}

arm64_root() {
  need_pkgs debootstrap qemu-user-static
  if [ ! -f "$ARM64_ROOT/.complete" ]; then
    local mirror
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    rm -rf "$ARM64_ROOT" && mkdir -p "$ARM64_ROOT"
    # --foreign: no arm64 code runs. Its first stage unpacks only the required packages and
    # downloads the rest (nodejs, libcrypt-dev and their dependencies); unpacking those too is
    # enough to link against and to run Node.
    debootstrap --foreign --arch=arm64 --variant=minbase --include=libcrypt-dev,nodejs \
      "$SUITE" "$ARM64_ROOT" "${mirror:-http://deb.debian.org/debian}" >"$ARM64_ROOT.log" 2>&1 \
      || { tail -20 "$ARM64_ROOT.log"; echo "prebuild: debootstrap arm64 failed" >&2; exit 1; }
    for deb in "$ARM64_ROOT"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$deb" "$ARM64_ROOT"; done
    touch "$ARM64_ROOT/.complete"
  fi
}

for arch in "${arches[@]}"; do
  case "$arch" in
    "$HOST")
      # The host's own architecture (x64, or arm64 on an arm64 host): no cross toolchain.
      need_pkgs g++ make python3 libcrypt-dev binutils
      STRIP=strip build "$arch"
      node -e 'for (const f of ["mptcp_native", "mptcp_splice"]) require(`${process.argv[1]}/${f}.node`);' "$OUT/linux-$arch"
      echo "prebuild: $arch load check: Node $(node -v): both files load"
      ;;
    arm64)
      need_pkgs g++-aarch64-linux-gnu binutils-aarch64-linux-gnu
      arm64_root
      # Only crypt.h and libcrypt.so from the arm64 root; the cross toolchain's libc comes first.
      # (The root's own libcrypt.so is an absolute symlink, dangling from here: ld would then
      # link libcrypt.a statically instead.)
      xdir=$(mktemp -d /tmp/prebuild-crypt.XXXXXX)
      cp "$ARM64_ROOT/usr/include/crypt.h" "$xdir/"
      ln -s "$ARM64_ROOT/lib/aarch64-linux-gnu/libcrypt.so.1" "$xdir/libcrypt.so"
      STRIP=aarch64-linux-gnu-strip build arm64 CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ \
        CPPFLAGS="-I$xdir" LDFLAGS="-L$xdir"
      rm -rf "$xdir"
      aarch64-linux-gnu-readelf -d "$OUT/linux-arm64/mptcp_native.node" | grep -q 'NEEDED.*libcrypt.so.1' \
        || { echo "prebuild: arm64 mptcp_native.node does not link libcrypt.so.1 dynamically" >&2; exit 1; }
      file "$OUT/linux-arm64/mptcp_native.node" | grep -q 'ARM aarch64' || { echo "prebuild: not an aarch64 file" >&2; exit 1; }
      # Load both files with Debian's arm64 Node, chrooted into the arm64 root, under qemu-user.
      install -m 755 /usr/bin/qemu-aarch64-static "$ARM64_ROOT/usr/bin/qemu-aarch64-static"
      mkdir -p "$ARM64_ROOT/opt/check"
      cp "$OUT/linux-arm64/"*.node "$ARM64_ROOT/opt/check/"
      env -i /usr/sbin/chroot "$ARM64_ROOT" /usr/bin/qemu-aarch64-static /usr/bin/node -e '
        const a = require("/opt/check/mptcp_native.node");
        const s = require("/opt/check/mptcp_splice.node");
        console.log(`prebuild: arm64 load check: Node ${process.version} ${process.arch}: mptcp_native (${Object.keys(a).length} exports, crypt("x","$6$ab") = ${a.crypt("x", "$6$ab").slice(0, 12)}...), mptcp_splice (${Object.keys(s).join(", ")})`);'
      rm -rf "$ARM64_ROOT/opt/check"
      ;;
    *) echo "usage: scripts/prebuild.sh [x64] [arm64] (x64 only on an x86_64 host)" >&2; exit 2 ;;
  esac
done
