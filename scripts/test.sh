#!/usr/bin/env bash
# The whole test suite: unit tests and the integration tests against real Redis and PostgreSQL.
# Run by `npm test` (the README's test command) and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
# The CLI tests run bin/riskpipe, which runs the built dist/.
npm run --silent build
report=$(mktemp)
status=0
npx vitest run --reporter=default --reporter=json --outputFile="$report" "$@" || status=$?
# One plain closing line that any CI can read: "tests: N passed, N failed, N skipped".
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' "$report" || true
rm -f "$report"
exit $status
