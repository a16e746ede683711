#!/usr/bin/env bash
# The README's main job: build the two-ISP lab and show redsocks-ts + socks-server bonding it.
#   npm run demo [-- --profile equal-20|lossy-10|asym] [--pair ours|c]
set -euo pipefail
cd "$(dirname "$0")/.."
# Only what the demo runs (scripts/programs.tsv's demo column); the C pair's programs
# (redsocks, Dante, mptcpize: role demo-c) only for --pair c.
roles=(demo)
for a in "$@"; do case "$a" in --pair=c) roles+=(demo-c) ;; esac; done
[[ " $* " == *" --pair c "* ]] && roles+=(demo-c)
bash scripts/deps.sh "${roles[@]}"
exec npx tsx packages/lab/src/demo.ts "$@"
