#!/usr/bin/env bash
# Install everything the tests, benchmarks and demo need, on a fresh Debian machine as root.
# Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(iproute2 iputils-ping nftables curl ncat ethtool redsocks dante-server dante-client mptcpd
  proxychains4 tinyproxy squid microsocks iperf3 tcpdump procps util-linux systemd build-essential python3
  kmod groff-base openssl passwd)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "deps: need root to apt-get install ${missing[*]}" >&2; exit 1; fi
  echo "deps: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's packages must not leave daemons bound to ports the tests use.
for svc in danted tinyproxy redsocks; do pkill -x "$svc" 2>/dev/null || true; done

stamp=node_modules/.deps-stamp
want="$(sha1sum package-lock.json | cut -d' ' -f1)"
if [ "${CI:-}" = true ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
npm run build --silent
