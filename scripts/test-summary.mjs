#!/usr/bin/env node
// The closing line of scripts/test.sh, from vitest's JSON report: "tests: N passed, N failed, N skipped".
// A file that failed outside its tests (an import error, a failed beforeAll/afterAll hook, a
// timeout in cleanup) counts as one failure of its own and is named, so such a run never says
// "0 failed". Exits 1 when anything failed (or there is no report), else 0.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

let r;
try {
  r = JSON.parse(readFileSync(process.argv[2], 'utf8'));
} catch (e) {
  console.log(`tests: 0 passed, 1 failed, 0 skipped (vitest wrote no report: ${e.message})`);
  process.exit(1);
}
const files = r.testResults ?? [];
const failedFiles = files.filter((f) => f.status === 'failed');
const outside = failedFiles.filter((f) => !(f.assertionResults ?? []).some((a) => a.status === 'failed'));
// No per-file results but failed suites counted: count those.
const unlisted = files.length === 0 ? (r.numFailedTestSuites ?? 0) : 0;
const failed = (r.numFailedTests ?? 0) + outside.length + unlisted;
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
const extra = outside.length > 0 ? ` (${outside.length} of them files that failed outside a test: ${outside.map((f) => relative(process.cwd(), f.name)).join(', ')})` : '';
console.log(`tests: ${r.numPassedTests ?? 0} passed, ${failed} failed, ${skipped} skipped${extra}`);
process.exit(failed > 0 || r.success === false ? 1 : 0);
