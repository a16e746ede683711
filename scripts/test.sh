#!/usr/bin/env bash
# The README's test command: install, build, the Docker smoke, then every test (unit, namespace,
# interop).
# Runs in band: tests that own namespaces, daemons and nftables rules must not overlap.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || exit 1
# Type-check the tests too (jest transpiles them without types).
npx tsc -p tsconfig.test.json --noEmit || exit 1
# Both Docker images, built with podman and carrying traffic (a few minutes; before jest, so
# that jest's totals stay the last line). Skipped when only some tests are asked for
# (`npm test -- FILE`), or with SKIP_DOCKER_SMOKE=1.
smoke=0
if [ $# -eq 0 ] && [ "${SKIP_DOCKER_SMOKE:-0}" != 1 ]; then
  bash scripts/docker-smoke.sh || smoke=1
fi
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
[ $smoke = 0 ] || { echo "docker smoke: FAILED (scripts/docker-smoke.sh, above)"; rc=1; }
exit $rc
