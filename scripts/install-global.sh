#!/usr/bin/env bash
# The README's install command: the npm tarballs of both daemons (scripts/pack.sh, with the
# prebuilt addon for this machine's architecture), installed with `npm install -g`. Nothing
# links back into this checkout: it can be moved or deleted afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p 'require("./package.json").version')
arch=$(node -p 'process.arch')
case "$arch" in x64 | arm64) bash scripts/pack.sh "$arch" ;; *) bash scripts/pack.sh none ;; esac
npm install -g "./pack/redsocks-ts-$version.tgz" "./pack/socks-server-$version.tgz"
echo "installed: $(command -v redsocks-ts) $(command -v mptcp-gateway) $(command -v socks-server)"
echo "samples, systemd units, nftables files: $(npm root -g)/redsocks-ts/conf/ and $(npm root -g)/socks-server/conf/"
