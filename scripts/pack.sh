#!/usr/bin/env bash
# The npm tarballs, into pack/: one per package, each installable on its own with
# `npm install -g ./pack/NAME-VERSION.tgz` on a machine without build tools.
#   bash scripts/pack.sh [x64] [arm64] [none]   (default: x64 and arm64 on an x86_64 host, else the host's)
# The arguments choose the prebuilt addons to build and ship (scripts/prebuild.sh); `none`
# ships none, and the install then compiles the addon (python3 make g++ libcrypt-dev).
#
# Each tarball carries, besides LICENSE:
#   mptcp-native          dist/, the addon's sources (for a rebuild), install.js, prebuilds/
#   @mptcp-proxy/common   dist/
#   socks-server          dist/, man/, conf/ (its samples, unit, sysusers, sysctls, logrotate)
#   redsocks-ts           dist/, man/, conf/ (the same for the gateway, and the nft files)
# and bundled (scripts/pack-bundle.ts) every package it needs: ours, which are on no registry
# (an unbundled dependency on them is a 404), and the third-party ones (winston, node-addon-api,
# node-gyp and theirs). So each installs on its own, with no registry at all.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/pack
prebuilds=("$@") # empty: scripts/prebuild.sh's default (both on x86_64, else the host's)

# What each daemon package ships from conf/ (conf/lab/ is the test lab's, not shipped).
REDSOCKS_CONF=(redsocks.conf redsocks-tproxy.conf nftables/gateway-redirect.nft nftables/gateway-tproxy.nft
  sysctl.d/90-mptcp-gateway.conf systemd/redsocks-ts.service systemd/redsocks-ts.service.d/tproxy.conf
  systemd/mptcp-gateway.service sysusers.d/redsocks-ts.conf logrotate.d/redsocks-ts)
SOCKS_CONF=(danted.conf danted-plain.conf socks-server.passwd.example sysctl.d/90-mptcp-server.conf
  systemd/socks-server.service sysusers.d/socks-server.conf logrotate.d/socks-server)

[ -d node_modules ] || npm ci --ignore-scripts --no-audit --no-fund
npx tsc -b packages/socks-server packages/redsocks-ts # and, by reference, common and mptcp-native
rm -rf packages/mptcp-native/prebuilds
if [ "${prebuilds[*]:-}" != none ]; then bash scripts/prebuild.sh "${prebuilds[@]}"; fi

STAGE=$(mktemp -d /tmp/pack-stage.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT

# unpack WORKSPACE: npm pack's own file list (package.json "files"), unpacked into $STAGE/NAME.
unpack() {
  local ws=$1 name=$2 tgz
  tgz=$(npm pack --silent --workspace "packages/$ws" --pack-destination "$STAGE")
  mkdir -p "$STAGE/$name"
  tar -xzf "$STAGE/$tgz" -C "$STAGE/$name" --strip-components=1
  rm "$STAGE/$tgz"
  cp LICENSE "$STAGE/$name/"
}
unpack mptcp-native native
unpack common common
unpack socks-server socks-server
unpack redsocks-ts redsocks-ts

ship_conf() {
  local dir=$1; shift
  for f in "$@"; do install -D -m 644 "conf/$f" "$STAGE/$dir/conf/$f"; done
}
ship_conf socks-server "${SOCKS_CONF[@]}"
ship_conf redsocks-ts "${REDSOCKS_CONF[@]}"

# Each package carries every package it needs, ours and third-party (scripts/pack-bundle.ts).
bundle() { npx tsx scripts/pack-bundle.ts "$STAGE/$1" "${@:2}"; }
bundle native
bundle common mptcp-native="$STAGE/native"
bundle socks-server @mptcp-proxy/common="$STAGE/common" mptcp-native="$STAGE/native"
bundle redsocks-ts @mptcp-proxy/common="$STAGE/common" mptcp-native="$STAGE/native"

OUT=${PACK_OUT:-$OUT}
rm -rf "$OUT" && mkdir -p "$OUT"
for d in native common socks-server redsocks-ts; do
  (cd "$STAGE/$d" && npm pack --silent --ignore-scripts --pack-destination "$OUT" >/dev/null)
done
ls -l "$OUT"
