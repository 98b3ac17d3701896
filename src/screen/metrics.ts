import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { RISK_CATEGORIES, type RiskCategory } from '../models/index.js';

/** Where a screened event went. */
export type Route = 'reasoning_queue' | 'low_risk';

/** The consumer group's view of the raw stream, read when metrics are asked for. */
export interface GroupInfo {
  /** Entries not yet delivered to any consumer of the group (null when Redis cannot tell). */
  lag: number | null;
  /** Entries delivered but not yet acknowledged. */
  pending: number;
  /** Age of the oldest entry not yet delivered, in seconds (0 when none). */
  lagSeconds: number;
  /** Consumers in the group. */
  consumers: number;
}

/**
 * Counters of one screening process, kept twice: as plain numbers for `GET /v1/metrics` and in
 * prom-client (its own registry) for `GET /metrics`. The worker records once per batch, so the
 * per-event cost is a few additions.
 */
export function createScreenMetrics(groupInfo?: () => Promise<GroupInfo>, registry = new Registry()) {
  const screened = new Counter({
    name: 'riskpipe_screen_events_total',
    help: 'Events screened and routed, by route and risk category',
    labelNames: ['route', 'category'] as const,
    registers: [registry],
  });
  const deadlettered = new Counter({
    name: 'riskpipe_screen_deadlettered_total',
    help: 'Entries sent to the dead-letter stream, by error code',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  const claimed = new Counter({ name: 'riskpipe_screen_claimed_total', help: 'Entries claimed from idle consumers', registers: [registry] });
  const retried = new Counter({
    name: 'riskpipe_screen_transient_failures_total',
    help: 'Entries left pending after a transient failure (claimed again later)',
    registers: [registry],
  });
  const duplicates = new Counter({
    name: 'riskpipe_screen_already_acked_total',
    help: 'Screened entries found already routed by another consumer (not routed twice)',
    registers: [registry],
  });
  const batchSeconds = new Histogram({
    name: 'riskpipe_screen_batch_duration_seconds',
    help: 'Time to screen and route one batch',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const syncSeconds = new Histogram({
    name: 'riskpipe_screen_sync_request_duration_seconds',
    help: 'Latency of POST /v1/risk/screen',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  if (groupInfo) {
    // One XINFO per scrape for all three gauges: the first collect() reads, the others reuse it.
    let cached: { at: number; info: Promise<GroupInfo> } | undefined;
    const info = () => {
      const now = Date.now();
      if (!cached || now - cached.at > 500) cached = { at: now, info: groupInfo() };
      return cached.info;
    };
    const gauge = (name: string, help: string, pick: (g: GroupInfo) => number | null) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        async collect() {
          try {
            const v = pick(await info());
            if (v !== null) this.set(v);
          } catch {
            // Redis away: keep the last value; /ready reports the outage.
          }
        },
      });
    gauge('riskpipe_screen_lag', 'Entries of the raw stream not yet delivered to the group', (g) => g.lag);
    gauge('riskpipe_screen_pending', 'Entries delivered to the group and not yet acknowledged', (g) => g.pending);
    gauge('riskpipe_screen_lag_seconds', 'Age of the oldest undelivered entry', (g) => g.lagSeconds);
  }

  const byRoute: Record<Route, number> = { reasoning_queue: 0, low_risk: 0 };
  const byCategory = Object.fromEntries(RISK_CATEGORIES.map((c) => [c, 0])) as Record<RiskCategory, number>;
  const deadletteredByCode: Record<string, number> = {};
  const totals = { deadlettered: 0, claimed: 0, transientFailures: 0, alreadyAcked: 0, batches: 0 };
  // Labelled children are looked up once: prom-client hashes the label object on every call.
  const children = new Map<string, ReturnType<typeof screened.labels>>();

  return {
    registry,
    /** Records a batch's routed events: counts per "route|category". */
    routed(counts: Map<string, number>) {
      for (const [key, n] of counts) {
        const sep = key.indexOf('|');
        const route = key.slice(0, sep) as Route;
        const category = key.slice(sep + 1) as RiskCategory;
        byRoute[route] += n;
        byCategory[category] = (byCategory[category] ?? 0) + n;
        let c = children.get(key);
        if (!c) children.set(key, (c = screened.labels({ route, category })));
        c.inc(n);
      }
    },
    deadlettered(code: string, n = 1) {
      totals.deadlettered += n;
      deadletteredByCode[code] = (deadletteredByCode[code] ?? 0) + n;
      deadlettered.inc({ code }, n);
    },
    claimed(n: number) {
      totals.claimed += n;
      claimed.inc(n);
    },
    transientFailures(n: number) {
      totals.transientFailures += n;
      retried.inc(n);
    },
    alreadyAcked(n: number) {
      totals.alreadyAcked += n;
      duplicates.inc(n);
    },
    batch(seconds: number) {
      totals.batches++;
      batchSeconds.observe(seconds);
    },
    syncRequest(seconds: number) {
      syncSeconds.observe(seconds);
    },
    /** Plain counts for the JSON endpoint. */
    snapshot() {
      return {
        routed: { ...byRoute },
        categories: { ...byCategory },
        deadlettered: totals.deadlettered,
        deadlettered_by_code: { ...deadletteredByCode },
        claimed: totals.claimed,
        transient_failures: totals.transientFailures,
        already_acked: totals.alreadyAcked,
        batches: totals.batches,
      };
    },
  };
}
export type ScreenMetrics = ReturnType<typeof createScreenMetrics>;
