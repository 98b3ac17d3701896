/** Small formatting helpers shared by the TUI and the plain outputs of top, doctor and bench. */

const BARS = '▁▂▃▄▅▆▇█';

/** A sparkline of the values (scaled to their max); `width` keeps the newest points. */
export function sparkline(values: number[], width = 40): string {
  const v = values.slice(-width);
  if (v.length === 0) return '';
  const max = Math.max(...v);
  return v.map((x) => (max <= 0 ? BARS[0] : BARS[Math.min(BARS.length - 1, Math.round((x / max) * (BARS.length - 1)))])).join('');
}

/** 1234567 → "1,234,567"; rates keep one decimal below 10. */
export function fmtNum(n: number | null | undefined, decimals = 0): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return n.toLocaleString('en-US', { maximumFractionDigits: decimals, minimumFractionDigits: decimals });
}

export function fmtRate(n: number): string {
  return n < 10 && n > 0 ? fmtNum(n, 1) : fmtNum(n);
}

/** Milliseconds as "850ms", "12.3s", "4m05s", "2h10m", "3d4h". */
export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}

export function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, Math.max(0, n - 1))}…`;
}

export function pad(s: string, n: number, right = false): string {
  const t = truncate(s, n);
  return right ? t.padStart(n) : t.padEnd(n);
}
