/**
 * One `pgpulse top` frame as text: a pure function of the snapshot, the view and the terminal
 * size, so tests render frames to a string. Colour is ANSI SGR only when asked (a TTY without
 * NO_COLOR); every line fits the width (cut with "…"); sparklines shrink, then go, on narrow terminals.
 */
import type { Series, Snapshot, Table } from './data';

export const VIEWS = ['overview', 'statements', 'activity', 'findings', 'vector'] as const;
export type View = (typeof VIEWS)[number];

export interface RenderOptions {
  view: View;
  width: number;
  color: boolean;
}

const BARS = '▁▂▃▄▅▆▇█';

/** The last `width` points as bars scaled to their own min..max; a gap (null) is a space. */
export function sparkline(values: Array<number | null>, width: number): string {
  if (width <= 0) {
    return '';
  }
  const v = values.slice(-width);
  const xs = v.filter((x): x is number => x !== null);
  if (xs.length === 0) {
    return ' '.repeat(v.length);
  }
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return v
    .map((x) =>
      x === null
        ? ' '
        : BARS[hi === lo ? (hi === 0 ? 0 : BARS.length - 1) : Math.round(((x - lo) / (hi - lo)) * (BARS.length - 1))]
    )
    .join('');
}

export function fmtNumber(v: number | null, unit: 'ratio' | 'rate' | 'count' | 's' | 'ms'): string {
  if (v === null) {
    return '–';
  }
  switch (unit) {
    case 'ratio':
      return `${(v * 100).toFixed(2)}%`;
    case 'rate':
      return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)}/s`;
    case 's':
      return `${v.toFixed(1)} s`;
    case 'ms':
      return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(2)} ms`;
    default:
      return String(Math.round(v));
  }
}

/** Visible length: SGR sequences take no columns. */
const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

function fit(line: string, width: number): string {
  const plain = visible(line);
  if ([...plain].length <= width) {
    return line;
  }
  // cut the plain text; colour codes in a cut line are dropped (rare: only long lines)
  return [...plain].slice(0, Math.max(0, width - 1)).join('') + '…';
}

/** Word-wrap prose (notes, reasons) instead of cutting it: what is unavailable and why must stay readable. */
function wrap(text: string, width: number, indent = ''): string[] {
  const out: string[] = [];
  const lead = /^\s*/.exec(text)?.[0] ?? '';
  let line = '';
  for (const [i, word] of text.trim().split(/\s+/).entries()) {
    if (i === 0) {
      line = lead + word;
      continue;
    }
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = indent + word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return line ? [...out, line] : out;
}

function paint(color: boolean) {
  const sgr = (code: string) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  return {
    bold: sgr('1'),
    dim: sgr('2'),
    red: sgr('31'),
    yellow: sgr('33'),
    green: sgr('32'),
    cyan: sgr('36'),
    inverse: sgr('7'),
  };
}

function headline(label: string, value: string, series: Array<number | null>, width: number): string {
  const left = `${label.padEnd(22)} ${' '.repeat(Math.max(0, 10 - visible(value).length))}${value}`;
  const room = width - visible(left).length - 2;
  return room >= 8 ? `${left}  ${sparkline(series, Math.min(room, series.length))}` : left;
}

function table(
  t: Table,
  cols: Array<{ key: string; title: string; fmt?: (v: unknown) => string; right?: boolean }>,
  width: number
): string[] {
  const cells = t.rows.map((r) =>
    cols.map((c) =>
      (c.fmt ? c.fmt(r[c.key]) : r[c.key] === null || r[c.key] === undefined ? '' : String(r[c.key])).replace(
        /\s+/g,
        ' '
      )
    )
  );
  const widths = cols.map((c, i) => Math.max(c.title.length, ...cells.map((row) => row[i].length)));
  // the last column (e.g. the query text) takes what is left of the line
  const fixed = widths.slice(0, -1).reduce((a, b) => a + b + 2, 0);
  widths[widths.length - 1] = Math.max(4, width - fixed);
  const line = (row: string[]) =>
    row
      .map((v, i) => (i === row.length - 1 ? v : cols[i].right ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ');
  return [line(cols.map((c) => c.title)), ...cells.map(line)];
}

const num = (digits: number) => (v: unknown) => (typeof v === 'number' ? v.toFixed(digits) : '');

function statements(t: Snapshot['top'], title: string, width: number, p: ReturnType<typeof paint>): string[] {
  const out = [p.bold(title)];
  if (t.error) {
    return [...out, ...wrap(`  unavailable: ${t.error}`, width, '    ')];
  }
  if (t.rows.length === 0) {
    return [
      ...out,
      '  no statements ran in the last hour',
      ...t.notices.flatMap((n) => wrap(`  note: ${n}`, width, '    ')),
    ];
  }
  return [
    ...out,
    ...table(
      t,
      [
        { key: 'calls', title: 'calls', fmt: num(0), right: true },
        { key: 'total_ms', title: 'total ms', fmt: num(1), right: true },
        { key: 'mean_ms', title: 'mean ms', fmt: num(2), right: true },
        { key: 'query', title: 'query' },
      ],
      width - 2
    ).map((l) => `  ${l}`),
  ];
}

function overview(s: Snapshot, width: number, p: ReturnType<typeof paint>): string[] {
  const out: string[] = [p.bold('last hour')];
  if (s.hitRatio.length === 0) {
    out.push(headline('cache hit ratio', '–', [], width));
  }
  for (const h of s.hitRatio.slice(0, 3)) {
    out.push(headline(`cache hit ${h.label}`.slice(0, 22), fmtNumber(h.last, 'ratio'), h.values, width));
  }
  out.push(headline('transactions', fmtNumber(s.tps.last, 'rate'), s.tps.values, width));
  out.push(headline('connections', fmtNumber(s.connections.last, 'count'), s.connections.values, width));
  out.push(headline('longest query', fmtNumber(s.longestQuery.last, 's'), s.longestQuery.values, width));
  const blocked = fmtNumber(s.blocked.last, 'count');
  out.push(headline('blocked queries', s.blocked.last ? p.red(blocked) : blocked, s.blocked.values, width));
  out.push('');
  out.push(findingsLine(s, p));
  out.push('');
  out.push(...statements({ ...s.top, rows: s.top.rows.slice(0, 5) }, 'top statements by total time', width, p));
  return out;
}

function findingsLine(s: Snapshot, p: ReturnType<typeof paint>): string {
  const f = s.findings;
  const count = (sev: string) => f.items.filter((x) => x.severity === sev).length;
  const score = f.healthScore === null ? '–' : `${f.healthScore}/100`;
  const crit = count('critical');
  const warn = count('warning');
  return `${p.bold('health')} ${score} · ${crit ? p.red(`${crit} critical`) : '0 critical'}, ${warn ? p.yellow(`${warn} warning`) : '0 warning'}, ${count('info')} info${f.evaluatedAt ? '' : ' (not evaluated yet)'}`;
}

function activity(s: Snapshot, width: number, p: ReturnType<typeof paint>): string[] {
  const out = [p.bold('connections by state (last hour)')];
  if (s.connectionsByState.length === 0) {
    out.push('  no client connections sampled');
  }
  for (const c of s.connectionsByState) {
    out.push(headline(`  ${c.label}`.slice(0, 22), fmtNumber(c.last, 'count'), c.values, width));
  }
  out.push('', p.bold('long and blocked queries'));
  out.push(headline('longest query', fmtNumber(s.longestQuery.last, 's'), s.longestQuery.values, width));
  out.push(headline('blocked queries', fmtNumber(s.blocked.last, 'count'), s.blocked.values, width));
  out.push(headline('deadlocks per step', fmtNumber(s.deadlocks.last, 'count'), s.deadlocks.values, width));
  return out;
}

function findings(s: Snapshot, width: number, p: ReturnType<typeof paint>): string[] {
  const out = [findingsLine(s, p), ''];
  for (const n of s.findings.notes) {
    out.push(...wrap(`note: ${n}`, width, '  '));
  }
  if (s.findings.items.length === 0) {
    out.push('no open findings');
  }
  const sev: Record<string, (x: string) => string> = { critical: p.red, warning: p.yellow, info: p.cyan };
  for (const f of s.findings.items) {
    const [first, ...rest] = wrap(`[${f.severity}] ${f.title}`, width, '    ');
    out.push(first.replace(`[${f.severity}]`, (sev[f.severity] ?? ((x: string) => x))(`[${f.severity}]`)), ...rest);
    if (f.sql) {
      out.push(p.dim(`    ${f.sql.split('\n')[0]}`));
    }
  }
  return out;
}

function vector(s: Snapshot, width: number, p: ReturnType<typeof paint>): string[] {
  const out = [p.bold('pgvector')];
  if (s.vectorIndexes.error) {
    out.push(...wrap(`  unavailable: ${s.vectorIndexes.error}`, width, '    '));
  } else {
    if (s.vectorIndexes.rows.length === 0) {
      out.push('  no vector indexes or columns');
    } else {
      const cols = ['index', 'table', 'method', 'dims', 'size_bytes', 'advice'].filter((c) =>
        s.vectorIndexes.columns.includes(c)
      );
      out.push(
        ...table(
          s.vectorIndexes,
          cols.map((c) => ({ key: c, title: c })),
          width - 2
        ).map((l) => `  ${l}`)
      );
    }
    for (const l of s.vectorLatency.slice(0, 3)) {
      out.push(headline(`  latency ${l.label}`.slice(0, 22), fmtNumber(l.last, 'ms'), l.values, width));
    }
  }
  out.push('', p.bold('Neon'));
  // a target without Neon answers the compute state with an empty frame (and maybe a notice), not an error
  if (s.neonState.error || s.neonState.every((x) => x.values.every((v) => v === null))) {
    out.push(
      ...wrap(
        `  unavailable: ${s.neonState.error ?? s.neonState.notices[0] ?? 'no Neon API answers stored (not a Neon target, or neon: is not configured)'}`,
        width,
        '    '
      )
    );
  } else {
    const st = s.neonState[0];
    out.push(headline('compute state', st.last === null ? '–' : st.last === 1 ? 'active' : 'idle', st.values, width));
    for (const l of s.neonLfc.slice(0, 1)) {
      out.push(headline('LFC hit ratio', fmtNumber(l.last, 'ratio'), l.values, width));
    }
  }
  return out;
}

export function render(s: Snapshot, o: RenderOptions): string {
  const width = Math.max(20, o.width);
  const p = paint(o.color);
  const tabs =
    width >= 70
      ? VIEWS.map((v, i) => (v === o.view ? p.inverse(`${i + 1} ${v}`) : `${i + 1} ${v}`)).join(' ')
      : `${p.inverse(`${VIEWS.indexOf(o.view) + 1} ${o.view}`)} (1-5)`;
  const when = new Date(s.at).toISOString().slice(11, 19);
  const lines = [
    `${p.bold('pgpulse top')} · ${s.target}${s.targets.length > 1 ? ` (${s.targets.length} targets, t: next)` : ''} · ${when} UTC`,
    `${tabs}  ·  q quit`,
    '─'.repeat(width),
  ];
  const body =
    o.view === 'overview'
      ? overview(s, width, p)
      : o.view === 'statements'
        ? [
            ...statements(s.top, 'top statements by total time (last hour)', width, p),
            '',
            ...statements(s.slowest, 'slowest statements by mean time (last hour)', width, p),
          ]
        : o.view === 'activity'
          ? activity(s, width, p)
          : o.view === 'findings'
            ? findings(s, width, p)
            : vector(s, width, p);
  lines.push(...body);
  for (const e of s.errors) {
    lines.push(p.red(`error: ${e}`));
  }
  return lines.map((l) => fit(l, width)).join('\n') + '\n';
}
