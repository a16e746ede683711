#!/usr/bin/env bash
# The README's test command: install, build, then every test (unit, namespace, interop).
# Runs in band: tests that own namespaces, daemons and nftables rules must not overlap.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || exit 1
# Type-check the tests too (jest transpiles them without types).
npx tsc -p tsconfig.test.json --noEmit || exit 1
mkdir -p bench/out
report="$PWD/bench/out/jest-report.json"
npx jest --runInBand --json --outputFile="$report" "$@"
rc=$?
# Restate jest's totals as a plain closing line: "jest: N passed, N failed, N skipped".
node -e '
  const r = require(process.argv[1]);
  console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  if (r.numTotalTests === 0) { console.log("jest ran no test"); process.exit(1); }
' "$report" || rc=1
exit $rc
