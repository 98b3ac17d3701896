import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import type { TopSnapshot, TopSource } from '../../src/ops/top-source.js';
import { TopApp } from '../../src/tui/top.js';
import { fmtDuration, sparkline } from '../../src/tui/format.js';

function snapshot(i: number): TopSnapshot {
  return {
    at: `2026-12-01T10:00:0${i % 10}.000Z`,
    prefix: 't1:',
    base: 't1:',
    streams: [
      { name: 't1:events:raw', role: 'raw', exists: true, length: 1200 + i, entriesAdded: 50_000 + i, lastEntryAgeMs: 120 },
      { name: 't1:events:reasoning_queue', role: 'reasoning', exists: true, length: 30, entriesAdded: 4_000, lastEntryAgeMs: 900 },
      { name: 't1:events:low_risk', role: 'lowRisk', exists: true, length: 45_000, entriesAdded: 45_000, lastEntryAgeMs: 300 },
      { name: 't1:events:deadletter', role: 'deadletter', exists: true, length: 2, entriesAdded: 2, lastEntryAgeMs: 60_000 },
    ],
    groups: [
      {
        stream: 't1:events:raw',
        group: 'risk-screening',
        lag: 1100,
        pending: 64,
        lastDeliveredId: '1-0',
        consumers: [
          { name: 'host-a-101', pending: 64, idleMs: 15, inactiveMs: 15 },
          { name: 'host-b-202', pending: 0, idleMs: 125_000, inactiveMs: 125_000 },
        ],
      },
    ],
    deadletters: {
      total: 2,
      latest: [{ id: '1764583200000-0', at: '2026-12-01T10:00:00.000Z', stage: 'screen', source_stream: 't1:events:raw', error_code: 'RP_ERR_BAD_ENTRY', error: 'event is not valid JSON', deliveries: 1 }],
    },
    routing: {
      total: { route: { reasoning_queue: 4000, low_risk: 45_000 }, category: { spam: 70, threat: 12, low_risk: 900 }, level: { LOW: 900, MEDIUM: 40, HIGH: 42 } },
      lastMinute: { route: { reasoning_queue: 82, low_risk: 900 }, category: { spam: 70, threat: 12, low_risk: 900 }, level: { LOW: 900, MEDIUM: 40, HIGH: 42 } },
      ratePerSec: { reasoning_queue: 1.4, low_risk: 15 },
      sampled: false,
    },
    throughput: { ingested: [1, 5, 10, 20, 10 + i], screened: [1, 4, 9, 18, 9], escalated: [0, 0, 1, 2, 1] },
    escalations: [{ id: '1764583199000-0', at: '2026-12-01T09:59:59.000Z', event_id: 'evt-threat-7', category: 'threat', level: 'HIGH', score: 0.93, reason: 'threat of violence aimed at the reader' }],
    errors: [],
  };
}

function scripted(): TopSource & { calls: number } {
  const s = {
    calls: 0,
    async snapshot() {
      return snapshot(s.calls++);
    },
    async close() {},
  };
  return s;
}

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for the frame');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('riskpipe top (TUI)', () => {
  it('shows streams, groups, consumers, throughput, routing and the latest escalations', async () => {
    const source = scripted();
    const { lastFrame, unmount } = render(<TopApp source={source} intervalMs={20} width={120} />);
    await until(() => (lastFrame() ?? '').includes('events:raw'));
    const f = lastFrame()!;
    expect(f).toContain('prefix: t1:');
    expect(f).toMatch(/events:raw\s+1,2\d\d\s+50,0\d\d\s+120ms ago/);
    expect(f).toMatch(/risk-screening ← events:raw\s+1,100\s+64\s+2/);
    expect(f).toMatch(/host-b-202\s+pending\s+0\s+idle 2m05s/);
    expect(f).toMatch(/ingested\s+[▁▂▃▄▅▆▇█]+/);
    expect(f).toMatch(/reasoning_queue\s+1\.4\s+82\s+4,000/);
    expect(f).toMatch(/threat\s+12\s+12/);
    expect(f).toContain('LATEST ESCALATIONS   (dead letters: 2');
    expect(f).toMatch(/09:59:59 threat\s+0\.93 HIGH\s+evt-threat-7\s+threat of violence/);
    unmount();
  });

  it('keys: d toggles the dead-letter view, p pauses refreshing, q quits', async () => {
    const source = scripted();
    const { lastFrame, stdin, unmount } = render(<TopApp source={source} intervalMs={20} width={120} />);
    await until(() => (lastFrame() ?? '').includes('LATEST ESCALATIONS'));
    stdin.write('d');
    await until(() => (lastFrame() ?? '').includes('DEAD LETTERS'));
    expect(lastFrame()).toMatch(/10:00:00 screen\s+RP_ERR_BAD_ENTRY\s+×1 event is not valid JSON/);
    stdin.write('d');
    await until(() => (lastFrame() ?? '').includes('LATEST ESCALATIONS'));

    stdin.write('p');
    await until(() => (lastFrame() ?? '').includes('PAUSED'));
    const frozen = source.calls;
    await new Promise((r) => setTimeout(r, 120));
    expect(source.calls).toBe(frozen);
    stdin.write('p');
    await until(() => source.calls > frozen + 1);
    expect(lastFrame()).not.toContain('PAUSED');

    stdin.write('q');
    await new Promise((r) => setTimeout(r, 60));
    const afterQuit = source.calls;
    await new Promise((r) => setTimeout(r, 120));
    expect(source.calls).toBe(afterQuit); // the app exited: no more polling
    unmount();
  });

  it('shows read errors instead of failing', async () => {
    const source: TopSource = {
      snapshot: async () => ({ ...snapshot(0), streams: [], groups: [], errors: ['redis: connect ECONNREFUSED 127.0.0.1:1'] }),
      close: async () => {},
    };
    const { lastFrame, unmount } = render(<TopApp source={source} intervalMs={50} />);
    await until(() => (lastFrame() ?? '').includes('ECONNREFUSED'));
    expect(lastFrame()).toContain('✗ redis: connect ECONNREFUSED');
    expect(lastFrame()).toContain('no consumer groups yet');
    unmount();
  });

  it('formats sparklines and durations', () => {
    expect(sparkline([0, 1, 2, 4, 8])).toBe('▁▂▃▅█');
    expect(sparkline([0, 0])).toBe('▁▁');
    expect(fmtDuration(850)).toBe('850ms');
    expect(fmtDuration(125_000)).toBe('2m05s');
    expect(fmtDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe('3d4h');
  });
});
