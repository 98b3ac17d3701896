/**
 * The verbatim span of `content` that a screening evidence string points at. The screener quotes
 * phrases of its normalised text (`threat phrase "watch your back"`); here they are found again in
 * the original, case- and spacing-insensitively, so the incident cites what the author wrote.
 */
export function findSpan(content: string, phrase: string): string | undefined {
  const p = phrase.trim();
  if (p.length === 0) return undefined;
  const at = content.toLowerCase().indexOf(p.toLowerCase());
  if (at >= 0) return content.slice(at, at + p.length);
  // Spacing and punctuation differ ("k.i.l.l you"): match letters and digits only, map back.
  const keep: number[] = [];
  let folded = '';
  for (let i = 0; i < content.length; i++) {
    const c = content[i].toLowerCase();
    if (/[\p{L}\p{N}]/u.test(c)) {
      folded += c;
      keep.push(i);
    }
  }
  const want = p.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
  if (want.length < 3) return undefined;
  const f = folded.indexOf(want);
  if (f < 0) return undefined;
  return content.slice(keep[f], keep[f + want.length - 1] + 1);
}

/** Quoted parts of screening evidence strings, in order: `threat phrase "x"` → "x". */
export function quotedPhrases(evidence: string[]): string[] {
  const out: string[] = [];
  for (const e of evidence) for (const m of e.matchAll(/"([^"]+)"/g)) out.push(m[1]);
  return out;
}

/** The sentence (or the first 300 characters) of `content` that holds most of `words`. */
export function bestSentence(content: string, words: string[] = []): string {
  const sentences = content.match(/[^.!?\n]+[.!?]*/g)?.map((s) => s.trim()).filter(Boolean) ?? [content];
  let best = sentences[0] ?? content;
  let bestHits = -1;
  for (const s of sentences) {
    const lower = s.toLowerCase();
    const hits = words.filter((w) => w.length > 2 && lower.includes(w.toLowerCase())).length;
    if (hits > bestHits) {
      best = s;
      bestHits = hits;
    }
  }
  return best.length > 300 ? best.slice(0, 300) : best;
}

/** Whether `span` occurs in `content`, ignoring case and runs of whitespace. */
export function occursIn(content: string, span: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/\s+/g, ' ').trim();
  return norm(span).length > 0 && norm(content).includes(norm(span));
}
