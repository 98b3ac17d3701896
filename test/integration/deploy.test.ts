import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const run = promisify(execFile);

describe('deployment files', () => {
  it('validate: docker-compose config, dashboard schema, promtool, Dockerfile linters', async () => {
    // May install docker-compose / prometheus from Debian and the linters from npm on first run.
    const { stdout } = await run('bash', ['scripts/validate-deploy.sh'], { cwd: ROOT, timeout: 280_000, maxBuffer: 4 << 20 });
    expect(stdout).toContain('validate-deploy: all deployment files are valid');
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  }, 300_000);

  const dir = mkdtempSync(join(tmpdir(), 'rp-deploy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the structural check catches a broken copy', async () => {
    cpSync(join(ROOT, 'compose'), join(dir, 'compose'), { recursive: true });
    const compose = readFileSync(join(dir, 'compose/docker-compose.yml'), 'utf8')
      .replace('"--maxmemory-policy", "noeviction"', '"--maxmemory-policy", "allkeys-lru"')
      .replace("exec 3<>/dev/tcp/127.0.0.1/6333", 'curl -f http://127.0.0.1:6333/readyz #');
    writeFileSync(join(dir, 'compose/docker-compose.yml'), compose);
    const dash = JSON.parse(readFileSync(join(dir, 'compose/grafana/dashboards/riskpipe.json'), 'utf8'));
    dash.panels[1].gridPos.w = 40;
    dash.panels[2].datasource = { type: 'prometheus', uid: 'nope' };
    writeFileSync(join(dir, 'compose/grafana/dashboards/riskpipe.json'), JSON.stringify(dash));
    writeFileSync(join(dir, 'Dockerfile'), 'FROM node:20\nRUN npm ci\nENTRYPOINT ["node", "bin/riskpipe"]\n');
    const err = await run('node', [join(ROOT, 'scripts/check-deploy.mjs')], { env: { ...process.env, DEPLOY_ROOT: dir } }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    for (const msg of ['maxmemory-policy is not noeviction', 'qdrant: its image has no curl', 'gridPos/w', 'uid nope is not provisioned', 'not multi-stage', 'runs as root', 'entrypoint is not riskpipe']) {
      expect(err?.stderr).toContain(msg);
    }
  });
});
