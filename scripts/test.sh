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
# One plain closing line that any CI can read: "tests: N passed, N failed, N skipped"; a file that
# failed outside its tests counts as a failure (scripts/test-summary.mjs).
summary=0
node scripts/test-summary.mjs "$report" || summary=$?
if [ "$status" -eq 0 ] && [ "$summary" -ne 0 ]; then status=1; fi
exit $status
