// The floor for bench:ingest: a Fastify server that only parses the same JSON and does one XADD
// per request (no validation, dedup, backpressure, auth or metrics). Started by bench/ingest.ts.
import Fastify from 'fastify';
import { Redis } from 'ioredis';

const port = Number(process.argv[2] ?? 8101);
const stream = process.argv[3] ?? 'bench:minimal:events:raw';
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableOfflineQueue: false });
const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 });

app.post('/v1/events/ingest', async (req) => {
  const id = await redis.xadd(stream, '*', 'event', JSON.stringify(req.body));
  return { event_id: req.body.event_id, status: 'queued', stream_id: id };
});
app.post('/v1/events/ingest-batch', async (req) => {
  const p = redis.pipeline();
  for (const e of req.body.events) p.xadd(stream, '*', 'event', JSON.stringify(e));
  const res = await p.exec();
  return { total: req.body.events.length, queued: res.length };
});

redis.once('ready', async () => {
  await app.listen({ port, host: '127.0.0.1' });
  process.send?.('ready');
});
process.on('SIGTERM', async () => {
  await app.close();
  redis.disconnect();
  process.exit(0);
});
