import { createEmbedder } from '../src/embed/index.js';
const e = await createEmbedder({ kind: 'hash', maxWaitMs: 0 });
const ts: number[] = [];
for (let i = 0; i < 300; i++) { const t0 = performance.now(); await e.embed([`threats against moderators ${i}`]); ts.push(performance.now() - t0); }
ts.sort((a, b) => a - b); console.log('embed p50', ts[150].toFixed(3), 'p99', ts[297].toFixed(3));
