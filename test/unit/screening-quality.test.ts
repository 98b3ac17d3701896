import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RiskpipeError } from '../../src/common/errors.js';
import { RiskPrediction, type Event } from '../../src/models/index.js';
import { createEmbedder } from '../../src/embed/index.js';
import { defaultPolicy, policyFromJson } from '../../src/screen/policy.js';
import { Screener } from '../../src/screen/screener.js';
import type { Embedder } from '../../src/screen/types.js';
import { BruteForceIndex } from '../../src/vector/index.js';
import { evaluate, eventFor, loadEvalSet, screenAll } from '../../scripts/eval-screening.js';

/*
 * The regression gate on the held-out ('test') split of data/labelled/screening-eval.jsonl and on
 * data/labelled/screening-holdout-independent.jsonl, scored by the default Screener (hash
 * embedder, shipped exemplar bank, shipped classifier, default policy). Neither set is trained on.
 *
 * The product goal is F1 >= 0.90 on "should be escalated" with <= 10% false alarms on benign
 * look-alikes. Rules alone reached F1 0.895 on the test split; with the trained classifier
 * (data/models/screening/, docs/screening.md, trained on 11,312 rows) it reaches 0.943 with 6.5%
 * false alarms, and the independent holdout 0.973 with 3.0%. The gates sit just under what is honestly reached. Raise
 * them when the screening improves; never lower them to make a change pass.
 */
const TEST_MIN_F1 = 0.92;
const MAX_FALSE_ALARM_RATE = 0.1;
const HOLDOUT_MIN_F1 = 0.95;
const HOLDOUT_MAX_FALSE_ALARM_RATE = 0.05;
/** The dev split was tuned on (and is training data for the classifier); this only catches regressions. */
const DEV_MIN_F1 = 0.95;

let screener: Screener;
const ev = (id: string, content: string): Event => ({ ...eventFor({ id, content, should_escalate: false, category: 'low_risk', kind: 'x' }) });

beforeAll(async () => {
  screener = await Screener.create();
});

afterAll(async () => {
  await screener?.close();
});

describe('screening quality (eval set)', () => {
  it(`held-out split: F1 >= ${TEST_MIN_F1}, false alarms <= ${MAX_FALSE_ALARM_RATE * 100}%`, async () => {
    const items = loadEvalSet(undefined, 'test');
    expect(items.length).toBeGreaterThan(300);
    const r = evaluate(items, await screenAll(screener, items), screener.policy.thresholds.screening);
    const summary = `P ${r.precision.toFixed(3)} R ${r.recall.toFixed(3)} F1 ${r.f1.toFixed(3)} FA ${r.falseAlarmRate.toFixed(3)}`;
    expect(r.f1, summary).toBeGreaterThanOrEqual(TEST_MIN_F1);
    expect(r.falseAlarmRate, summary).toBeLessThanOrEqual(MAX_FALSE_ALARM_RATE);
    // No single kind of benign look-alike may be a systematic blind spot either: at most 20% of a
    // kind escalated, judged on kinds with at least 10 messages (below that one message moves the
    // rate by more than 10 points, and 2 of 7 says nothing systematic); smaller kinds may not
    // reach 3 false alarms.
    for (const [kind, v] of Object.entries(r.falseAlarmByKind)) {
      if (v.n >= 10) expect(v.rate, `${kind}: ${v.falseAlarms}/${v.n}`).toBeLessThanOrEqual(0.2);
      else expect(v.falseAlarms, `${kind}: ${v.falseAlarms}/${v.n}`).toBeLessThan(3);
    }
  });

  it(`independent holdout: F1 >= ${HOLDOUT_MIN_F1}, false alarms <= ${HOLDOUT_MAX_FALSE_ALARM_RATE * 100}%`, async () => {
    const items = loadEvalSet(fileURLToPath(new URL('../../data/labelled/screening-holdout-independent.jsonl', import.meta.url)));
    const r = evaluate(items, await screenAll(screener, items), screener.policy.thresholds.screening);
    const summary = `P ${r.precision.toFixed(3)} R ${r.recall.toFixed(3)} F1 ${r.f1.toFixed(3)} FA ${r.falseAlarmRate.toFixed(3)}`;
    expect(r.f1, summary).toBeGreaterThanOrEqual(HOLDOUT_MIN_F1);
    expect(r.falseAlarmRate, summary).toBeLessThanOrEqual(HOLDOUT_MAX_FALSE_ALARM_RATE);
  });

  it('everyday short chat (the bulk of real traffic) is not escalated', async () => {
    const lines = ['hello', 'hey guys', 'ok', 'lol', 'gg', 'brb', 'thanks!', 'good morning', 'anyone up for ranked tonight?', 'what time is the stream tomorrow', 'how are you doing today', 'lunch?', 'see you all tomorrow'];
    const preds = await screener.screenBatch(lines.map((content, i) => ({ event: ev(`chat-${i}`, content) })));
    preds.forEach((p, i) => expect(p.risk_score, `${lines[i]}: ${p.details.reason}`).toBeLessThan(screener.policy.thresholds.screening));
  });

  it(`dev split: F1 >= ${DEV_MIN_F1}, false alarms <= ${MAX_FALSE_ALARM_RATE * 100}%`, async () => {
    const items = loadEvalSet(undefined, 'dev');
    const r = evaluate(items, await screenAll(screener, items), screener.policy.thresholds.screening);
    expect(r.f1).toBeGreaterThanOrEqual(DEV_MIN_F1);
    expect(r.falseAlarmRate).toBeLessThanOrEqual(MAX_FALSE_ALARM_RATE);
  });

  it('the eval set is balanced, split and distinct from the exemplar bank', () => {
    const all = loadEvalSet();
    const test = all.filter((x) => x.split === 'test');
    const positives = test.filter((x) => x.should_escalate).length / test.length;
    expect(positives).toBeGreaterThan(0.35);
    expect(positives).toBeLessThan(0.55);
    expect(new Set(all.map((x) => x.id)).size).toBe(all.length);
    for (const x of all) {
      expect(['dev', 'test']).toContain(x.split);
      expect(x.should_escalate).toBe(x.category !== 'low_risk');
    }
  });
});

describe('Screener', () => {
  it('describes its model and policy', () => {
    expect(screener.modelId).toBe('riskpipe/hash-ngram-384-v1');
    expect(screener.dim).toBe(384);
    expect(screener.device).toBe('cpu');
    expect(screener.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(screener.policy.thresholds).toEqual(defaultPolicy.thresholds);
  });

  it('scores a batch in order, stamped with time, model and fingerprint', async () => {
    const preds = await screener.screenBatch([{ event: ev('a', 'hello there') }, { event: ev('b', 'I know where you live') }, { event: ev('c', 'free nitro at discord-gift.xyz') }]);
    expect(preds.map((p) => p.event_id)).toEqual(['a', 'b', 'c']);
    for (const p of preds) {
      expect(() => RiskPrediction.parse(p)).not.toThrow();
      expect(p.model_version).toBe(screener.modelId);
      expect(p.policy_fingerprint).toBe(screener.fingerprint);
      expect(p.screening_time_ms).toBeGreaterThan(0);
      expect(p.details.neighbors.length).toBeGreaterThan(0);
    }
    expect(preds[0].risk_level).toBe('LOW');
    expect(preds[1]).toMatchObject({ risk_level: 'HIGH', risk_category: 'threat' });
    expect(preds[2].risk_category).toBe('spam');
    expect(await screener.screenBatch([])).toEqual([]);
    expect((await screener.screen(ev('d', 'kys'))).risk_category).toBe('targeted_harassment');
  });

  it('scores messages made of JavaScript property names (no lookup table finds Object.prototype)', async () => {
    // "constructor" once found Object through a plain-object alias table and the event was dead-lettered.
    const names = Object.getOwnPropertyNames(Object.prototype);
    const preds = await screener.screenBatch([
      ...names.map((n, i) => ({ event: ev(`proto-${i}`, `the ${n} of this class is broken`) })),
      { event: ev('proto-all', names.join(' ')) },
      { event: ev('proto-insult', 'you are a constructor __proto__ idiot') },
    ]);
    for (const p of preds) expect(() => RiskPrediction.parse(p)).not.toThrow();
    expect(preds.slice(0, names.length + 1).every((p) => p.risk_level === 'LOW')).toBe(true);
    expect(preds.at(-1)!.risk_category).toBe('targeted_harassment');
  });

  it('passes author behaviour through to the score', async () => {
    // Mild on its own (the classifier would otherwise already be sure), so the author's burst shows.
    const e = ev('spam-1', 'new video is up on my channel');
    const [quiet] = await screener.screenBatch([{ event: e }]);
    const [burst] = await screener.screenBatch([{ event: { ...e, metadata: { account_age_days: 0, author_reputation: 0.05 } }, author: { messagesInWindow: 40, windowS: 60, sameContentChannels: 5 } }]);
    expect(burst.risk_score).toBeGreaterThan(quiet.risk_score);
    expect(burst.flags).toEqual(expect.arrayContaining(['rapid_messages', 'cross_channel_duplicate', 'new_account']));
  });

  it("neighbors: 'when-evidence' routes exactly like 'always' and skips kNN for rule-free events", async () => {
    const embedder = await createEmbedder({ kind: 'hash' });
    const lean = await Screener.create({ embedder, neighbors: 'when-evidence' });
    try {
      const items = loadEvalSet();
      const [a, b] = [await screenAll(screener, items), await screenAll(lean, items)];
      const t = screener.policy.thresholds.screening;
      const differ = items.filter((_, i) => a[i].risk_score >= t !== b[i].risk_score >= t).map((x) => x.id);
      expect(differ).toEqual([]);
      const [hello] = await lean.screenBatch([{ event: ev('h', 'hello there, how was your weekend?') }]);
      expect(hello).toMatchObject({ risk_level: 'LOW' });
      // Only the classifier's doubt remains (the corpus prior: "your" leans abusive in it), well
      // inside the LOW band; no rule, no neighbours.
      expect(hello.risk_score).toBeLessThan(screener.policy.thresholds.medium);
      expect(hello.details.neighbors).toEqual([]);
      const [threat] = await lean.screenBatch([{ event: ev('t', 'I know where you live') }]);
      expect(threat.details.neighbors.length).toBeGreaterThan(0);
    } finally {
      await lean.close();
    }
  });

  it('a different policy or bank changes the fingerprint', async () => {
    const embedder = await createEmbedder({ kind: 'hash' });
    const other = await Screener.create({ embedder, policy: policyFromJson({ thresholds: { screening: 0.65 } }) });
    try {
      expect(other.fingerprint).not.toBe(screener.fingerprint);
      expect(other.policy.thresholds.screening).toBe(0.65);
    } finally {
      await other.close();
    }
  });
});

describe('Screener escalated memory', () => {
  async function small(maxEscalated: number, rebuildable: boolean) {
    const embedder = await createEmbedder({ kind: 'hash' });
    if (rebuildable) return { s: await Screener.create({ embedder, maxEscalated }), embedder };
    const index = new BruteForceIndex(embedder.dim);
    const [v] = await embedder.embed(['some exemplar']);
    index.add('ok-1', v, { label: 'low_risk', source: 'exemplar' });
    return { s: new Screener({ embedder, index, policy: defaultPolicy, exemplarBankHash: 'x', maxEscalated }), embedder };
  }

  it('adds escalated events, ignores low-risk and duplicates, and never matches an event to itself', async () => {
    const { s, embedder } = await small(100, true);
    try {
      const e: Event = eventFor({ id: 'esc-1', content: 'meet me behind the gym tomorrow you little rat', should_escalate: true, category: 'threat', kind: 'x' });
      const [p] = await s.screenBatch([{ event: e }]);
      const [v] = await embedder.embed([e.content]);
      s.addEscalated(e, { ...p, risk_category: 'threat' }, v);
      s.addEscalated(e, { ...p, risk_category: 'threat' }, v);
      s.addEscalated({ ...e, event_id: 'ok' }, { ...p, risk_category: 'low_risk' }, v);
      expect(s.escalatedCount()).toBe(1);
      const [again] = await s.screenBatch([{ event: e }]);
      expect(again.details.neighbors.some((n) => n.source === 'escalated')).toBe(false);
      const [sibling] = await s.screenBatch([{ event: { ...e, event_id: 'esc-2' } }]);
      expect(sibling.details.neighbors[0]).toMatchObject({ id: 'escalated:esc-1', source: 'escalated', label: 'threat' });
      // Without a vector it is embedded in the background.
      s.addEscalated({ ...e, event_id: 'esc-3', content: 'another one' }, { ...p, risk_category: 'threat' });
      await new Promise((r) => setTimeout(r, 50));
      expect(s.escalatedCount()).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('keeps at most maxEscalated, forgetting the oldest', async () => {
    const { s, embedder } = await small(20, true);
    try {
      const [p] = await s.screenBatch([{ event: eventFor({ id: 'x', content: 'kys', should_escalate: true, category: 'targeted_harassment', kind: 'x' }) }]);
      for (let i = 0; i < 50; i++) {
        const [v] = await embedder.embed([`escalated message number ${i}`]);
        s.addEscalated(eventFor({ id: `e${i}`, content: `escalated message number ${i}`, should_escalate: true, category: 'spam', kind: 'x' }), p, v);
        expect(s.escalatedCount()).toBeLessThanOrEqual(20);
      }
      const [newest] = await embedder.embed(['escalated message number 49']);
      const [probe] = await s.screenBatch([{ event: eventFor({ id: 'probe', content: 'escalated message number 49', should_escalate: false, category: 'low_risk', kind: 'x' }) }]);
      expect(probe.details.neighbors[0].id).toBe('escalated:e49');
      expect(newest.length).toBe(384);
      expect(probe.details.neighbors.some((n) => n.id === 'escalated:e0')).toBe(false);
    } finally {
      await s.close();
    }
  });

  it('without a way to rebuild its index it stops at the bound and counts what it skipped', async () => {
    const { s, embedder } = await small(3, false);
    try {
      const [p] = await s.screenBatch([{ event: eventFor({ id: 'x', content: 'kys', should_escalate: true, category: 'targeted_harassment', kind: 'x' }) }]);
      for (let i = 0; i < 5; i++) {
        const [v] = await embedder.embed([`m${i}`]);
        s.addEscalated(eventFor({ id: `e${i}`, content: `m${i}`, should_escalate: true, category: 'spam', kind: 'x' }), p, v);
      }
      expect(s.escalatedCount()).toBe(3);
      expect(s.escalatedSkipped).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('close is idempotent, closes the embedder, and a closed screener refuses work', async () => {
    let closed = 0;
    const inner = await createEmbedder({ kind: 'hash' });
    const embedder: Embedder = { id: inner.id, dim: inner.dim, device: inner.device, embed: (t) => inner.embed(t), close: async () => void closed++ };
    const s = await Screener.create({ embedder });
    await s.close();
    await s.close();
    expect(closed).toBe(1);
    await expect(s.screenBatch([{ event: eventFor({ id: 'x', content: 'hi', should_escalate: false, category: 'low_risk', kind: 'x' }) }])).rejects.toBeInstanceOf(RiskpipeError);
    await inner.close();
  });

  it('an embedder failure is reported as a retryable error', async () => {
    const inner = await createEmbedder({ kind: 'hash' });
    let fail = false;
    const embedder: Embedder = { id: inner.id, dim: inner.dim, device: inner.device, embed: (t) => (fail ? Promise.reject(new Error('boom')) : inner.embed(t)), close: () => inner.close() };
    const s = await Screener.create({ embedder });
    try {
      fail = true;
      const err = await s.screenBatch([{ event: eventFor({ id: 'x', content: 'hi', should_escalate: false, category: 'low_risk', kind: 'x' }) }]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RiskpipeError);
      expect((err as RiskpipeError).retryable).toBe(true);
    } finally {
      await s.close();
    }
  });
});
