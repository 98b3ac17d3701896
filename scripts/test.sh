#!/usr/bin/env bash
# The whole test suite: unit tests and the integration tests against real Redis and PostgreSQL.
# Run by `npm test` (the README's test command) and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
# The CLI tests run bin/riskpipe, which runs the built dist/.
npm run --silent build
npx vitest run "$@"
