#!/usr/bin/env bash
# The README's main job: build the two-ISP lab and show redsocks-ts + socks-server bonding it.
#   npm run demo [-- --profile equal-20|lossy-10|asym] [--pair ours|c]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh demo
exec npx tsx packages/lab/src/demo.ts "$@"
