#!/usr/bin/env bash
# The whole test suite: unit tests, the integration tests against real Redis and PostgreSQL, and
# the reliability suite (test/reliability). Run by `npm test` (the README's test command) and by
# .ci/run. vitest's globalSetup starts one private redis-server for the run (test/helpers/global-redis.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
# The CLI tests run bin/riskpipe, which runs the built dist/.
[ -n "${RISKPIPE_TEST_NO_BUILD:-}" ] || npm run --silent build
report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile="$report" "$@" || status=$?
# One plain closing line that any CI can read: "tests: N passed, N failed, N skipped".
# A file that fails outside its tests (an import error, a failed beforeAll/afterAll hook, a
# timeout in cleanup) counts as one failure of its own, so such a run never says "0 failed".
summary=0
node -e '
  const fs = require("fs");
  let r;
  try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch (e) {
    console.log("tests: 0 passed, 1 failed, 0 skipped (vitest wrote no report: " + e.message + ")");
    process.exit(1);
  }
  const files = r.testResults || [];
  const failedFiles = files.filter((f) => f.status === "failed");
  // Files that failed although none of their tests did: hooks, imports, suite-level errors.
  const outside = failedFiles.filter((f) => !(f.assertionResults || []).some((a) => a.status === "failed"));
  const failedTests = r.numFailedTests || 0;
  const failed = failedTests + outside.length + (files.length === 0 && (r.numFailedTestSuites || 0) > 0 ? r.numFailedTestSuites : 0);
  const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
  const extra = outside.length > 0 ? ` (${outside.length} of them files that failed outside a test: ${outside.map((f) => require("path").relative(process.cwd(), f.name)).join(", ")})` : "";
  console.log(`tests: ${r.numPassedTests} passed, ${failed} failed, ${skipped} skipped${extra}`);
  process.exit(failed > 0 || r.success === false ? 1 : 0);
' "$report" || summary=$?
if [ "$status" -eq 0 ] && [ "$summary" -ne 0 ]; then status=1; fi
exit $status
