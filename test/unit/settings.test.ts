import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import { resolveSettings } from '../../src/cli/settings.js';
import { serveIngestSettings } from '../../src/cli/commands/serve-ingest.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.errors!.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('serve-ingest settings', () => {
  it('has the documented defaults', () => {
    const cfg = resolveSettings(serveIngestSettings, {}, {});
    expect(cfg).toMatchObject({
      port: 8001,
      host: '0.0.0.0',
      redisUrl: 'redis://127.0.0.1:6379',
      prefix: '',
      apiKeys: [],
      maxQueueDepth: 100000,
      dedupWindowS: 3600,
      maxBatchSize: 500,
    });
  });

  it('takes environment variables, and flags over them', () => {
    const env = { REDIS_URL: 'redis://10.0.0.5:6380/2', RISKPIPE_PREFIX: 'tenant1:', RISKPIPE_API_KEYS: 'key-one-111, key-two-222', RISKPIPE_MAX_QUEUE_DEPTH: '50', RISKPIPE_DEDUP_WINDOW_S: '60' };
    const cfg = resolveSettings(serveIngestSettings, { maxQueueDepth: '75' }, env);
    expect(cfg).toMatchObject({ redisUrl: 'redis://10.0.0.5:6380/2', prefix: 'tenant1:', apiKeys: ['key-one-111', 'key-two-222'], maxQueueDepth: 75, dedupWindowS: 60 });
  });

  it('names every bad setting, where it came from and what is allowed', () => {
    const lines = problems(() =>
      resolveSettings(serveIngestSettings, { port: '99999', maxQueueDepth: 'lots' }, { REDIS_URL: 'localhost:6379', RISKPIPE_DEDUP_WINDOW_S: '0', RISKPIPE_API_KEYS: 'short' }),
    );
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^port \(--port \/ RISKPIPE_INGEST_PORT\): must be between 0 and 65535 \(got "99999"\)$/),
        expect.stringMatching(/^maxQueueDepth \(--max-queue-depth \/ RISKPIPE_MAX_QUEUE_DEPTH\): must be a number/),
        expect.stringMatching(/^redisUrl \(--redis-url \/ REDIS_URL\): must be a redis:\/\/ or rediss:\/\/ URL/),
        expect.stringMatching(/^dedupWindowS \(--dedup-window-s \/ RISKPIPE_DEDUP_WINDOW_S\): must be at least 1/),
        expect.stringMatching(/^apiKeys \(--api-keys \/ RISKPIPE_API_KEYS\): every key must be at least 8 characters/),
      ]),
    );
    expect(lines).toHaveLength(5);
  });

  it('rejects a prefix with spaces', () => {
    expect(problems(() => resolveSettings(serveIngestSettings, {}, { RISKPIPE_PREFIX: 'a b' }))[0]).toMatch(/^prefix/);
  });
});

describe('settings declared once', () => {
  it('every setting of the catalogue has a description, and its help names the env and the default', async () => {
    const { SETTINGS, settingHelp } = await import('../../src/cli/settings.js');
    for (const [name, s] of Object.entries(SETTINGS)) {
      expect(s.description, name).toBeTruthy();
      if (s.env) expect(settingHelp(s), name).toContain(`env ${s.env}`);
    }
    expect(settingHelp(SETTINGS.maxQueueDepth)).toBe('answer 503 while events:raw has this many unconsumed entries (env RISKPIPE_MAX_QUEUE_DEPTH; default 100000)');
  });

  it('the commander options are generated from the specs', async () => {
    const { buildProgram } = await import('../../src/cli/index.js');
    const cmd = buildProgram().commands.find((c) => c.name() === 'serve-ingest')!;
    const flags = cmd.options.map((o) => o.long);
    expect(flags).toEqual(expect.arrayContaining(['--redis-url', '--prefix', '--hash-tag', '--max-queue-depth', '--dedup-window-s', '--max-batch-size', '--body-limit-bytes', '--port', '--host', '--api-keys']));
    expect(cmd.helpInformation().replace(/\s+/g, ' ')).toContain('(env RISKPIPE_DEDUP_WINDOW_S; default 3600)');
  });
});
