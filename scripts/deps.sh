#!/usr/bin/env bash
# Install what the tests, the benches or the demo need, on a fresh Debian machine as root, from
# scripts/programs.tsv. Idempotent and quick when nothing changed.
#   bash scripts/deps.sh [test|bench|demo|demo-c ...]     (default: test; demo-c: the demo's --pair c)
# Debian's packages of the interop peers (danted, redsocks, squid, tinyproxy, openssh-server) start and enable
# their services on a machine with systemd: a policy-rc.d keeps them from starting during the
# install, and their units are disabled afterwards. Nothing is killed by name.
set -euo pipefail
cd "$(dirname "$0")/.."
roles=("$@")
[ ${#roles[@]} -gt 0 ] || roles=(test)
for role in "${roles[@]}"; do
  case "$role" in test | bench | demo | demo-c) ;; *) echo "usage: scripts/deps.sh [test|bench|demo|demo-c ...]" >&2; exit 2 ;; esac
done

# programs.tsv rows needed by these roles: "program package"
mapfile -t rows < <(awk -F'\t' -v r=" ${roles[*]} " '!/^#/ && NF >= 3 { n = split($3, who, ","); for (i = 1; i <= n; i++) if (index(r, " " who[i] " ")) { print $1 " " $2; break } }' scripts/programs.tsv)
[ ${#rows[@]} -gt 0 ] || { echo "deps: scripts/programs.tsv lists nothing for '${roles[*]}'" >&2; exit 1; }

declare -A want=()
for r in "${rows[@]}"; do pkg="${r#* }"; [ "$pkg" = - ] || want[$pkg]=1; done
missing=()
for p in "${!want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "deps: need root to apt-get install ${missing[*]}" >&2; exit 1; fi
  echo "deps: apt-get install ${missing[*]}"
  policy=/usr/sbin/policy-rc.d
  placed=""
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && placed=1; fi
  trap '[ -n "$placed" ] && rm -f "$policy"' EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -n "$placed" ] && rm -f "$policy"
  placed=""
  # Leave the peers' services disabled: the tests start their own copies on their own ports.
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    for unit in danted redsocks squid tinyproxy unbound ssh nginx; do
      systemctl disable --now "$unit.service" >/dev/null 2>&1 || true
    done
  fi
fi

# Every program of this role must now be on PATH (node_modules/.bin counts for the npm ones).
absent=()
for r in "${rows[@]}"; do
  prog="${r%% *}"
  [ "$prog" = tsx ] && continue # from npm ci, checked below
  PATH="$PATH:/usr/sbin:/sbin:$PWD/node_modules/.bin" command -v "$prog" >/dev/null 2>&1 || absent+=("$prog (${r#* })")
done

stamp=node_modules/.deps-stamp
want_sum="$(sha1sum package-lock.json | cut -d' ' -f1)"
if [ "${CI:-}" = true ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_sum" ]; then
  npm ci --no-audit --no-fund
  echo "$want_sum" > "$stamp"
fi
npm run build --silent

for r in "${rows[@]}"; do
  prog="${r%% *}"
  [ "$prog" = tsx ] && { [ -x node_modules/.bin/tsx ] || absent+=("tsx (npm)"); }
done
if [ ${#absent[@]} -gt 0 ]; then
  printf 'deps: missing after install: %s\n' "${absent[@]}" >&2
  exit 1
fi
