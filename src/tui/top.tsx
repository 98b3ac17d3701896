import { Box, Text, useApp, useInput } from 'ink';
import { useEffect, useRef, useState } from 'react';
import type { TopSnapshot, TopSource } from '../ops/top-source.js';
import { fmtDuration, fmtNum, fmtRate, pad, sparkline, truncate } from './format.js';

/**
 * `riskpipe top`: the screen is a pure function of a TopSnapshot (TopView); TopApp only polls the
 * data source it is handed, once per `intervalMs`, and handles the keys q (quit), p (pause),
 * d (dead letters instead of escalations).
 */
export type LowerView = 'escalations' | 'deadletters';

const Header = ({ title }: { title: string }) => (
  <Text bold color="cyan">
    {title}
  </Text>
);

function shortName(full: string, prefix: string): string {
  return prefix && full.startsWith(prefix) ? full.slice(prefix.length) : full;
}

export function TopView({ snapshot: s, paused = false, view = 'escalations', width = 100 }: { snapshot: TopSnapshot; paused?: boolean; view?: LowerView; width?: number }) {
  const spark = Math.max(10, Math.min(60, width - 40));
  const lag = (n: number | null) => (n === null ? '?' : fmtNum(n));
  const cats = Object.entries(s.routing.lastMinute.category)
    .map(([c, n]) => [c, n, s.routing.total.category[c] ?? 0] as const)
    .filter(([, n, t]) => n > 0 || t > 0);
  return (
    <Box flexDirection="column" width={width}>
      <Box>
        <Text bold>riskpipe top</Text>
        <Text>  prefix: {s.prefix || '(none)'}{s.base !== s.prefix ? `  keys: ${s.base}*` : ''}  {s.at.replace('T', ' ').slice(0, 19)}Z  </Text>
        <Text dimColor>[q] quit  [p] {paused ? 'resume' : 'pause'}  [d] {view === 'deadletters' ? 'escalations' : 'dead letters'}</Text>
        {paused ? <Text color="yellow" bold>  PAUSED</Text> : null}
      </Box>
      {s.errors.map((e) => (
        <Text key={e} color="red">
          ✗ {e}
        </Text>
      ))}

      <Box marginTop={1} flexDirection="column">
        <Header title={`${pad('STREAM', 28)}${pad('length', 12, true)}${pad('added', 14, true)}  newest`} />
        {s.streams.map((st) => (
          <Text key={st.name} color={st.role === 'deadletter' && st.length > 0 ? 'red' : undefined} dimColor={!st.exists}>
            {pad(shortName(st.name, s.base), 28)}
            {pad(st.exists ? fmtNum(st.length) : 'absent', 12, true)}
            {pad(fmtNum(st.entriesAdded), 14, true)}
            {'  '}
            {st.lastEntryAgeMs === null ? '—' : `${fmtDuration(st.lastEntryAgeMs)} ago`}
          </Text>
        ))}
      </Box>

      <Box marginTop={1} flexDirection="column">
        <Header title={`${pad('GROUP', 28)}${pad('lag', 12, true)}${pad('pending', 14, true)}  consumers (pending, idle)`} />
        {s.groups.length === 0 ? <Text dimColor>no consumer groups yet (no worker has started)</Text> : null}
        {s.groups.map((g) => (
          <Box key={`${g.stream}/${g.group}`} flexDirection="column">
            <Text color={g.lag !== null && g.lag > 10_000 ? 'yellow' : undefined}>
              {pad(`${g.group} ← ${shortName(g.stream, s.base)}`, 28)}
              {pad(lag(g.lag), 12, true)}
              {pad(fmtNum(g.pending), 14, true)}
              {'  '}
              {g.consumers.length === 0 ? <Text color="yellow">no consumers</Text> : `${g.consumers.length}`}
            </Text>
            {g.consumers.slice(0, 6).map((c) => (
              <Text key={c.name} dimColor={c.idleMs > 60_000} color={c.idleMs > 60_000 && c.pending > 0 ? 'yellow' : undefined}>
                {'    '}
                {pad(c.name, 36)} pending {pad(fmtNum(c.pending), 7, true)}  idle {fmtDuration(c.idleMs)}
              </Text>
            ))}
            {g.consumers.length > 6 ? <Text dimColor>    … {g.consumers.length - 6} more</Text> : null}
          </Box>
        ))}
      </Box>

      <Box marginTop={1} flexDirection="column">
        <Header title="THROUGHPUT (events/s, last 60 s)" />
        {(['ingested', 'screened', 'escalated'] as const).map((k) => (
          <Text key={k}>
            {pad(k, 11)}
            <Text color="green">{pad(sparkline(s.throughput[k], spark), spark)}</Text> {fmtRate(s.throughput[k].at(-1) ?? 0)}/s
          </Text>
        ))}
      </Box>

      <Box marginTop={1} flexDirection="column">
        <Header title={`${pad('ROUTE', 28)}${pad('rate/s', 12, true)}${pad('last min', 14, true)}${pad('all time', 14, true)}`} />
        {Object.keys(s.routing.total.route).map((r) => (
          <Text key={r}>
            {pad(r, 28)}
            {pad(fmtRate(s.routing.ratePerSec[r] ?? 0), 12, true)}
            {pad(fmtNum(s.routing.lastMinute.route[r] ?? 0), 14, true)}
            {pad(fmtNum(s.routing.total.route[r] ?? 0), 14, true)}
          </Text>
        ))}
        <Text>
          {pad('levels (last min)', 28)}
          {Object.entries(s.routing.lastMinute.level)
            .map(([l, n]) => `${l} ${fmtNum(n)}`)
            .join('   ')}
        </Text>
        <Text>
          {pad('categories (last min / seen by top)', 44)}
          {s.routing.sampled ? <Text color="yellow"> sampled</Text> : null}
        </Text>
        {cats.length === 0 ? <Text dimColor>    none routed in the last minute</Text> : null}
        {cats.map(([c, n, t]) => (
          <Text key={c}>
            {'    '}
            {pad(c, 24)}
            {pad(fmtNum(n), 12, true)}
            {pad(fmtNum(t), 14, true)}
          </Text>
        ))}
      </Box>

      <Box marginTop={1} flexDirection="column">
        {view === 'escalations' ? (
          <>
            <Header title={`LATEST ESCALATIONS   (dead letters: ${fmtNum(s.deadletters.total)}, d to list)`} />
            {s.escalations.length === 0 ? <Text dimColor>none yet</Text> : null}
            {s.escalations.map((e) => (
              <Text key={e.id}>
                {e.at.slice(11, 19)} <Text color={e.level === 'HIGH' ? 'red' : 'yellow'}>{pad(e.category, 20)}</Text> {e.score.toFixed(2)} {pad(e.level, 6)} {pad(e.event_id, 18)}{' '}
                {truncate(e.reason, Math.max(10, width - 68))}
              </Text>
            ))}
          </>
        ) : (
          <>
            <Header title={`DEAD LETTERS   (${fmtNum(s.deadletters.total)} in all; riskpipe dlq to inspect and replay)`} />
            {s.deadletters.latest.length === 0 ? <Text color="green">none</Text> : null}
            {s.deadletters.latest.map((d) => (
              <Text key={d.id}>
                {d.at.slice(11, 19)} <Text color="red">{pad(d.stage, 8)}</Text> {pad(d.error_code, 24)} ×{d.deliveries} {truncate(d.error, Math.max(10, width - 50))}
              </Text>
            ))}
          </>
        )}
      </Box>
    </Box>
  );
}

export function TopApp({ source, intervalMs = 1000, width, onSnapshot }: { source: TopSource; intervalMs?: number; width?: number; onSnapshot?: (s: TopSnapshot) => void }) {
  const { exit } = useApp();
  const [snapshot, setSnapshot] = useState<TopSnapshot | undefined>();
  const [paused, setPaused] = useState(false);
  const [view, setView] = useState<LowerView>('escalations');
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const tick = async () => {
      if (!pausedRef.current) {
        try {
          const s = await source.snapshot();
          if (stopped) return;
          setSnapshot(s);
          onSnapshot?.(s);
        } catch {
          // A source reports its problems inside the snapshot; anything else: try again next tick.
        }
      }
      if (!stopped) timer = setTimeout(tick, intervalMs);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [source, intervalMs]);

  useInput((input, key) => {
    if (input === 'q' || (key.ctrl && input === 'c')) exit();
    else if (input === 'p') setPaused((p) => !p);
    else if (input === 'd') setView((v) => (v === 'escalations' ? 'deadletters' : 'escalations'));
  });

  if (!snapshot) return <Text>riskpipe top: reading…</Text>;
  return <TopView snapshot={snapshot} paused={paused} view={view} width={width} />;
}
