#!/usr/bin/env node
// Near-copy check for labelled corpus files: a training row whose words overlap an evaluation row
// (blind split, eval set, independent holdout) or an earlier corpus row by Jaccard >= 0.6 teaches
// nothing new and flatters the evaluation. Prints the ids of such rows (never the evaluation text).
//
//   node scripts/corpus-near-copies.mjs data/labelled/corpus/l-01.jsonl [...]      report
//   node scripts/corpus-near-copies.mjs --drop data/labelled/corpus/l-*.jsonl       rewrite without them
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve, basename } from 'node:path';

const THRESHOLD = 0.6;
const root = resolve(new URL('..', import.meta.url).pathname);
const args = process.argv.slice(2);
const drop = args.includes('--drop');
const files = args.filter((a) => !a.startsWith('--')).map((f) => resolve(f));

const words = (s) => new Set(s.toLowerCase().normalize('NFKC').match(/[\p{L}\p{N}']+/gu) ?? []);
const rows = (f) => readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
function jaccard(a, b) {
  let inter = 0;
  for (const w of a) if (b.has(w)) inter++;
  return inter / (a.size + b.size - inter || 1);
}

const evalFiles = [
  ...readdirSync(join(root, 'data/labelled/blind')).filter((f) => f.endsWith('.jsonl')).map((f) => join(root, 'data/labelled/blind', f)),
  join(root, 'data/labelled/screening-eval.jsonl'),
  join(root, 'data/labelled/screening-holdout-independent.jsonl'),
];
const corpusDir = join(root, 'data/labelled/corpus');
const reference = [];
for (const f of evalFiles) for (const r of rows(f)) reference.push({ w: words(r.content), what: 'an evaluation row' });
for (const f of readdirSync(corpusDir).map((x) => join(corpusDir, x))) {
  if (files.includes(f)) continue;
  for (const r of rows(f)) reference.push({ w: words(r.content), what: `corpus ${r.id}` });
}

let total = 0;
for (const f of files) {
  const kept = [];
  const seen = [];
  for (const r of rows(f)) {
    const w = words(r.content);
    let hit = null;
    for (const ref of reference) if (jaccard(w, ref.w) >= THRESHOLD) { hit = ref.what; break; }
    if (!hit) for (const s of seen) if (jaccard(w, s.w) >= THRESHOLD) { hit = `same-file ${s.id}`; break; }
    if (hit) { total++; console.log(`${basename(f)} ${r.id}: near-copy of ${hit}`); }
    else kept.push(r);
    seen.push({ w, id: r.id });
  }
  if (drop) writeFileSync(f, kept.map((r) => JSON.stringify(r)).join('\n') + '\n');
}
console.log(`${total} near-cop${total === 1 ? 'y' : 'ies'} in ${files.length} file(s)${drop ? ' (dropped)' : ''}`);
