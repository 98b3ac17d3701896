import { RiskpipeError } from '../../common/errors.js';
import { dlqSettings } from '../index-settings.js';
import { resolveSettings } from '../settings.js';
import { callIndexApi, indexBases } from './search.js';

interface DeadLetterJson {
  id: string;
  stage: string;
  source_stream: string;
  source_id: string;
  event_id: string | null;
  batch_id: string | null;
  error: string;
  error_code: string;
  attempts: number;
  failed_at: string;
  age_s: number;
  fields: Record<string, string> | null;
}

const age = (s: number) => (s < 120 ? `${Math.round(s)}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172_800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86_400)}d`);
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s).replace(/\s+/g, ' ');

/** `riskpipe dlq list|show|replay|purge`: the dead-letter stream, through a running index API. */
export async function run(action: string, ids: string[], flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(dlqSettings, flags, env);
  const bases = indexBases(cfg.url, flags, env);
  const api = <T>(method: 'GET' | 'POST', path: string, body?: unknown) => callIndexApi<T>(bases, cfg.apiKey, method, path, body);
  const out = (s: string) => process.stdout.write(s);
  /** replay/purge: chosen ids, or --stage, or --all; never nothing. */
  const selection = () => {
    if (ids.length > 0) return { ids };
    if (cfg.stage) return { stage: cfg.stage };
    if (cfg.all) return { all: true };
    throw new RiskpipeError('RP_ERR_CLI_INPUT', `dlq ${action}: name the entries (ids from \`riskpipe dlq list\`), or pass --stage <stage> or --all`);
  };
  switch (action) {
    case 'list': {
      const q = new URLSearchParams({ limit: String(cfg.limit), ...(cfg.stage ? { stage: cfg.stage } : {}) });
      const r = await api<{ total: number; entries: DeadLetterJson[] }>('GET', `/v1/deadletters?${q}`);
      if (cfg.json) return void out(`${JSON.stringify(r, null, 2)}\n`);
      if (r.entries.length === 0) return void out(`no dead-lettered entries${cfg.stage ? ` of stage ${cfg.stage}` : ''} (${r.total} in all)\n`);
      const head = ['id', 'stage', 'age', 'attempts', 'code', 'event_id', 'error'];
      const rows = r.entries.map((e) => [e.id, e.stage, age(e.age_s), String(e.attempts), e.error_code, e.event_id ?? '-', clip(e.error, 70)]);
      const w = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i].length)));
      const line = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(w[i]))).join('  ');
      return void out(`${line(head)}\n${rows.map(line).join('\n')}\n${r.entries.length} shown, ${r.total} dead-lettered in all\n`);
    }
    case 'show': {
      if (ids.length === 0) throw new RiskpipeError('RP_ERR_CLI_INPUT', 'dlq show: give the id of an entry (see `riskpipe dlq list`)');
      for (const id of ids) {
        const e = await api<DeadLetterJson>('GET', `/v1/deadletters/${encodeURIComponent(id)}`);
        if (cfg.json) out(`${JSON.stringify(e, null, 2)}\n`);
        else {
          out(`${e.id}  stage ${e.stage}, ${e.attempts} attempt(s), ${age(e.age_s)} ago (${e.failed_at})\n`);
          out(`  from      ${e.source_stream} ${e.source_id}\n  event     ${e.event_id ?? '-'}   batch ${e.batch_id ?? '-'}\n  error     ${e.error_code}: ${e.error}\n`);
          out(`  fields    ${JSON.stringify(e.fields)}\n`);
        }
      }
      return;
    }
    case 'replay': {
      const r = await api<{ replayed: { id: string; new_id: string; stream: string }[]; missing: string[] }>('POST', '/v1/deadletters/replay', selection());
      if (cfg.json) return void out(`${JSON.stringify(r, null, 2)}\n`);
      for (const x of r.replayed) out(`replayed ${x.id} → ${x.stream} ${x.new_id}\n`);
      for (const m of r.missing) out(`not found ${m} (already replayed or purged)\n`);
      return void out(`${r.replayed.length} replayed, ${r.missing.length} not found\n`);
    }
    case 'purge': {
      const sel = selection();
      if (!cfg.yes) throw new RiskpipeError('RP_ERR_CLI_INPUT', 'dlq purge deletes dead-lettered entries for good: add --yes to confirm');
      const r = await api<{ purged: number }>('POST', '/v1/deadletters/purge', sel);
      return void out(cfg.json ? `${JSON.stringify(r)}\n` : `${r.purged} purged\n`);
    }
    default:
      throw new RiskpipeError('RP_ERR_CLI_INPUT', `dlq: unknown action ${JSON.stringify(action)} (use list, show, replay or purge)`);
  }
}
