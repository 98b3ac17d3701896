import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one ingest app (its own registry, so several apps can live in one process). */
export function createIngestMetrics(depth: () => Promise<number>, registry = new Registry()) {
  const received = new Counter({
    name: 'riskpipe_ingest_events_received_total',
    help: 'Valid events received, by platform and event type',
    labelNames: ['platform', 'event_type'] as const,
    registers: [registry],
  });
  const queued = new Counter({ name: 'riskpipe_ingest_events_queued_total', help: 'Events written to the raw stream', registers: [registry] });
  const duplicates = new Counter({
    name: 'riskpipe_ingest_duplicates_total',
    help: 'Events answered as duplicates, by what matched',
    labelNames: ['match'] as const,
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'riskpipe_ingest_rejected_total',
    help: 'Events or requests rejected, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'riskpipe_ingest_request_duration_seconds',
    help: 'Ingest request latency in seconds',
    labelNames: ['endpoint'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  new Gauge({
    name: 'riskpipe_ingest_queue_depth',
    help: 'Unconsumed depth of the raw stream (consumer-group lag, else length)',
    registers: [registry],
    async collect() {
      try {
        this.set(await depth());
      } catch {
        // Redis away: leave the last value; /ready reports the outage.
      }
    },
  });
  return { registry, received, queued, duplicates, rejected, latency };
}
export type IngestMetrics = ReturnType<typeof createIngestMetrics>;
