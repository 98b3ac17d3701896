import { Counter, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of stage 3 (riskpipe_index_*), on the stage's own registry. */
export function createIndexMetrics(registry = new Registry()) {
  return {
    registry,
    indexed: new Counter({ name: 'riskpipe_index_events_indexed_total', help: 'Events stored, indexed and acknowledged', registers: [registry] }),
    incidents: new Counter({ name: 'riskpipe_index_incidents_total', help: 'Incidents written with indexed events', registers: [registry] }),
    failed: new Counter({ name: 'riskpipe_index_attempts_failed_total', help: 'Failed attempts to index an event, by error code', labelNames: ['code'] as const, registers: [registry] }),
    taskSeconds: new Histogram({
      name: 'riskpipe_index_task_duration_seconds',
      help: 'Time of one task over a read batch: incidents, index, record, commit',
      labelNames: ['task'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    searchSeconds: new Histogram({ name: 'riskpipe_index_search_duration_seconds', help: 'POST /v1/search, embedding and join included', buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1], registers: [registry] }),
  };
}
export type IndexMetrics = ReturnType<typeof createIndexMetrics>;
