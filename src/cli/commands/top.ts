import { RiskpipeError } from '../../common/errors.js';
import { createProducerRedis } from '../../common/redis.js';
import { topSettings } from '../ops-settings.js';
import { resolveSettings } from '../settings.js';


/**
 * `riskpipe top`: the live TUI when stdout is a terminal; one plain snapshot (or --json) and exit
 * otherwise. Reading Redis is the data source's job (src/ops/top-source.ts); the TUI only presents.
 */
export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(topSettings, flags, env);
  const redis = createProducerRedis(cfg.redisUrl, { lazyConnect: true, enableAutoPipelining: false, retryStrategy: (n) => Math.min(200 * n, 2000) });
  redis.on('error', () => {}); // reported inside the snapshot
  try {
    try {
      await redis.connect();
    } catch (err) {
      throw new RiskpipeError('RP_ERR_REDIS_UNAVAILABLE', `cannot reach Redis at ${cfg.redisUrl}: ${(err as Error).message}`);
    }
    const { createTopSource, detectKeys } = await import('../../ops/top-source.js');
    const keys = await detectKeys(redis, cfg.prefix, cfg.hashTag);
    const source = createTopSource({ redis, prefix: cfg.prefix, names: keys.streams });
    const interactive = process.stdout.isTTY && process.stdin.isTTY && !cfg.json && !cfg.once;
    if (!interactive) {
      // Rates need two readings: take two, a short interval apart.
      await source.snapshot();
      await new Promise((r) => setTimeout(r, Math.min(cfg.intervalMs, 1000)));
      const snap = await source.snapshot();
      if (cfg.json) process.stdout.write(`${JSON.stringify(snap, null, 2)}\n`);
      else {
        const [{ renderToString }, React, { TopView }] = await Promise.all([import('ink'), import('react'), import('../../tui/top.js')]);
        process.stdout.write(`${renderToString(React.createElement(TopView, { snapshot: snap, width: 110 }), { columns: 110 })}\n`);
      }
      if (snap.errors.length > 0) process.exitCode = 1;
      await source.close();
      return;
    }
    // A terminal is a terminal: Ink draws only the last frame when it believes it runs in CI
    // (is-in-ci reads CI / CONTINUOUS_INTEGRATION when ink is first loaded), which would leave an
    // interactive top blank in a shell that exports CI=true.
    for (const k of ['CI', 'CONTINUOUS_INTEGRATION']) if (k in process.env) process.env[k] = '0';
    const [{ render }, React, { TopApp }] = await Promise.all([import('ink'), import('react'), import('../../tui/top.js')]);
    const width = Math.max(80, Math.min(process.stdout.columns ?? 100, 160));
    const app = render(React.createElement(TopApp, { source, intervalMs: cfg.intervalMs, width }), { exitOnCtrlC: true });
    const stop = () => app.unmount();
    process.once('SIGTERM', stop);
    await app.waitUntilExit();
    process.off('SIGTERM', stop);
    await source.close();
  } finally {
    redis.disconnect();
  }
}
