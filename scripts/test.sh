#!/usr/bin/env bash
# The README's test command: install, build, then every test (unit, namespace, interop).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
exec npx jest --runInBand "$@"
