import { describe, expect, inject, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { REDIS_URL } from '../helpers/redis.js';

/* The suite's own hygiene (issue 11): nothing here may need a person to notice it again. */

describe('test-suite hygiene', () => {
  it('every test talks to the private redis-server of the run, never the shared one', () => {
    expect(REDIS_URL).toBe(inject('redisUrl'));
    if (!process.env.RISKPIPE_TEST_REDIS_URL) expect(REDIS_URL).not.toMatch(/:6379(\/|$)/);
  });

  const summary = (report: unknown) => {
    const dir = mkdtempSync(join(tmpdir(), 'rp-summary-'));
    try {
      const file = join(dir, 'report.json');
      if (report !== undefined) writeFileSync(file, JSON.stringify(report));
      const r = spawnSync(process.execPath, [join(ROOT, 'scripts/test-summary.mjs'), file], { cwd: ROOT, encoding: 'utf8' });
      return { line: r.stdout.trim(), code: r.status };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it("test.sh's closing line counts a file whose hook failed, and the run fails", () => {
    const report = {
      success: false,
      numPassedTests: 407,
      numFailedTests: 0,
      numPendingTests: 0,
      numTodoTests: 0,
      numFailedTestSuites: 1,
      testResults: [
        { name: join(ROOT, 'test/integration/ingest.test.ts'), status: 'failed', message: 'Hook timed out in 30000ms', assertionResults: [{ status: 'passed' }] },
        { name: join(ROOT, 'test/unit/models.test.ts'), status: 'passed', assertionResults: [{ status: 'passed' }] },
      ],
    };
    expect(summary(report)).toEqual({ line: 'tests: 407 passed, 1 failed, 0 skipped (1 of them files that failed outside a test: test/integration/ingest.test.ts)', code: 1 });
  });

  it('counts failed tests as before, and a clean run passes', () => {
    expect(summary({ success: false, numPassedTests: 3, numFailedTests: 2, numPendingTests: 1, numTodoTests: 0, testResults: [{ name: 'x', status: 'failed', assertionResults: [{ status: 'failed' }, { status: 'failed' }] }] })).toEqual({ line: 'tests: 3 passed, 2 failed, 1 skipped', code: 1 });
    expect(summary({ success: true, numPassedTests: 3, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, testResults: [{ name: 'x', status: 'passed', assertionResults: [] }] })).toEqual({ line: 'tests: 3 passed, 0 failed, 0 skipped', code: 0 });
  });

  it('no report at all is a failure', () => {
    const r = summary(undefined);
    expect(r.code).toBe(1);
    expect(r.line).toMatch(/^tests: 0 passed, 1 failed, 0 skipped \(vitest wrote no report/);
  });
});
