/**
 * The daily health report: a health score, the headline numbers over the window (each with its
 * definition), the top statements, and every open finding with its fix — as JSON and Markdown.
 */
import type { Frame } from '../../model/frames';
import type { AdvisorClient } from './support';
import { severities } from '../advisors/types';

export interface HealthReport {
  target: string;
  generatedAt: string;
  window: { from: string; to: string };
  healthScore: number;
  evaluatedAt: string | null;
  counts: Record<string, number>;
  metrics: Array<{ id: string; label: string; value: number | null; unit: string; how: string }>;
  topQueries: Array<{ queryid: string; query: string; calls: number; total_ms: number; mean_ms: number | null }>;
  findings: Array<{
    id: string;
    severity: string;
    category: string;
    object: string;
    title: string;
    evidence: unknown;
    fix: unknown;
    impact: string;
    firstSeen: number;
  }>;
  notes: string[];
}

type Across = 'sum' | 'max' | 'avg';
type Over = 'avg' | 'max' | 'last';

/**
 * One number from a metric's series, the way its headline reads: first across the series at each
 * time (tps = commits + rollbacks of every database; connections = Σ over states), then over time.
 * Exported so a test can hold it to the API's own answer.
 */
export function summarizeSeries(frames: Frame[] | undefined, across: Across, over: Over): number | null {
  const byTime = new Map<number, number[]>();
  for (const f of frames ?? []) {
    const times = f.fields.find((x) => x.type === 'time')?.values ?? [];
    const v = f.fields.find((x) => x.type === 'number');
    (v?.values ?? []).forEach((x, i) => {
      const t = Number(times[i] ?? i);
      if (typeof x === 'number' && Number.isFinite(x)) {
        byTime.set(t, [...(byTime.get(t) ?? []), x]);
      }
    });
  }
  const points = [...byTime.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, xs]) =>
      across === 'sum'
        ? xs.reduce((a, b) => a + b, 0)
        : across === 'max'
          ? Math.max(...xs)
          : xs.reduce((a, b) => a + b, 0) / xs.length
    );
  if (points.length === 0) {
    return null;
  }
  if (over === 'max') {
    return Math.max(...points);
  }
  if (over === 'last') {
    return points[points.length - 1];
  }
  return points.reduce((a, b) => a + b, 0) / points.length;
}

export const REPORT_METRICS: Array<{
  id: string;
  label: string;
  across: Across;
  how: Over;
  unit: string;
  def: string;
}> = [
  {
    id: 'cache_hit_ratio',
    label: 'Cache hit ratio',
    across: 'avg',
    how: 'avg',
    unit: 'ratio',
    def: 'Δblks_hit / (Δblks_hit + Δblks_read) per step, mean over databases, averaged over the window',
  },
  {
    id: 'tps',
    label: 'Transactions/s',
    across: 'sum',
    how: 'avg',
    unit: 'tx/s',
    def: 'Δ(xact_commit + xact_rollback) / Δt of every database, averaged over the window',
  },
  {
    id: 'connections',
    label: 'Connections (peak)',
    across: 'sum',
    how: 'max',
    unit: 'backends',
    def: 'client backends (all states), maximum',
  },
  {
    id: 'longest_query_seconds',
    label: 'Longest query (peak)',
    across: 'max',
    how: 'max',
    unit: 's',
    def: 'longest active query at any sample',
  },
  {
    id: 'deadlocks',
    label: 'Deadlocks',
    across: 'sum',
    how: 'max',
    unit: 'per step',
    def: 'Δdeadlocks per step of every database, maximum',
  },
  {
    id: 'database_size',
    label: 'Database size',
    across: 'sum',
    how: 'last',
    unit: 'bytes',
    def: 'pg_database_size of every database, latest',
  },
];

export async function buildReport(
  client: AdvisorClient,
  target: string,
  windowMs: number,
  refresh: boolean
): Promise<HealthReport> {
  const to = Date.now();
  const from = to - windowMs;
  const rec = await client.recommendations(target, refresh);
  const res = await client.query(target, from, to, [
    ...REPORT_METRICS.map((m) => ({ refId: m.id, metric: m.id, maxDataPoints: 200 })),
    { refId: 'top', metric: 'top_queries', topN: 5, orderBy: 'total_time' },
  ]);
  const metrics = REPORT_METRICS.map((m) => ({
    id: m.id,
    label: m.label,
    value: summarizeSeries(res[m.id]?.frames, m.across, m.how),
    unit: m.unit,
    how: m.def,
  }));
  const top = res.top?.frames?.[0];
  const col = (name: string) => top?.fields.find((f) => f.name === name)?.values ?? [];
  const topQueries = col('queryid').map((q, i) => ({
    queryid: String(q),
    query: String(col('query')[i] ?? '')
      .replace(/\s+/g, ' ')
      .slice(0, 200),
    calls: Number(col('calls')[i] ?? 0),
    total_ms: Number(col('total_ms')[i] ?? 0),
    mean_ms: (col('mean_ms')[i] as number | null) ?? null,
  }));
  const counts = Object.fromEntries(severities.map((s) => [s, rec.findings.filter((f) => f.severity === s).length]));
  return {
    target,
    generatedAt: new Date(to).toISOString(),
    window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
    healthScore: rec.healthScore,
    evaluatedAt: rec.evaluatedAt ? new Date(rec.evaluatedAt).toISOString() : null,
    counts,
    metrics,
    topQueries,
    findings: rec.findings.map((f) => ({
      id: f.id,
      severity: f.severity,
      category: f.category,
      object: f.object,
      title: f.title,
      evidence: f.evidence,
      fix: f.fix,
      impact: f.impact,
      firstSeen: f.firstSeen,
    })),
    notes: [
      ...rec.notes,
      ...Object.entries(res)
        .filter(([, v]) => v.error)
        .map(([k, v]) => `${k}: ${v.error}`),
    ],
  };
}

/** A report figure in its unit, as the markdown and HTML reports both print it. */
export function fmt(v: number | null, unit: string): string {
  if (v === null) {
    return 'no data';
  }
  if (unit === 'ratio') {
    return `${(v * 100).toFixed(2)}%`;
  }
  if (unit === 'bytes') {
    return v >= 1 << 30 ? `${(v / (1 << 30)).toFixed(2)} GiB` : `${(v / (1 << 20)).toFixed(1)} MiB`;
  }
  return `${Number(v.toFixed(2))} ${unit}`;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function reportMarkdown(r: HealthReport): string {
  const lines: string[] = [];
  lines.push(`# pgpulse health report — ${r.target}`, '');
  lines.push(
    `Window ${r.window.from} → ${r.window.to} (generated ${r.generatedAt}; findings evaluated ${r.evaluatedAt ?? 'never'}).`,
    ''
  );
  lines.push(
    `**Health score: ${r.healthScore}/100** — ${r.counts.critical ?? 0} critical, ${r.counts.warning ?? 0} warning, ${r.counts.info ?? 0} info.`,
    ''
  );
  lines.push('## Numbers', '', '| Metric | Value | How |', '|---|---|---|');
  for (const m of r.metrics) {
    lines.push(`| ${m.label} | ${fmt(m.value, m.unit)} | ${m.how} |`);
  }
  lines.push('');
  if (r.topQueries.length) {
    lines.push(
      '## Top statements by total time',
      '',
      '| queryid | calls | total ms | mean ms | query |',
      '|---|---|---|---|---|'
    );
    for (const q of r.topQueries) {
      lines.push(
        `| ${q.queryid} | ${q.calls} | ${q.total_ms.toFixed(0)} | ${q.mean_ms === null ? '' : q.mean_ms.toFixed(2)} | \`${cell(q.query.slice(0, 120))}\` |`
      );
    }
    lines.push('');
  }
  lines.push('## Findings', '');
  if (r.findings.length === 0) {
    lines.push('No open findings.', '');
  }
  for (const f of r.findings) {
    const fix = f.fix as { sql?: string; setting?: string; caveat?: string };
    const ev = f.evidence as { values: Record<string, unknown>; window: { description: string } };
    lines.push(`### [${f.severity}] ${f.title}`, '');
    lines.push(`- id: \`${f.id}\` · ${f.category} · ${f.object}`);
    lines.push(
      `- evidence: ${Object.entries(ev.values)
        .filter(([, v]) => v !== null && v !== '')
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')} (${ev.window.description})`
    );
    lines.push(`- impact: ${f.impact}`);
    if (fix.setting) {
      lines.push(`- setting: ${fix.setting}`);
    }
    if (fix.caveat) {
      lines.push(`- caveat: ${fix.caveat}`);
    }
    if (fix.sql) {
      lines.push('', '```sql', fix.sql, '```');
    }
    lines.push('');
  }
  for (const n of r.notes) {
    lines.push(`> note: ${n}`);
  }
  return lines.join('\n').trimEnd() + '\n';
}

/** POST the report as JSON ({text: markdown, report}); the URL is never printed whole (it often holds a secret). */
export async function postWebhook(
  url: string,
  r: HealthReport
): Promise<{ ok: boolean; status: number; where: string }> {
  let where = 'webhook';
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new Error('only http(s) webhooks are supported');
    }
    where = `${u.protocol}//${u.host}/…`;
  } catch (e) {
    throw new Error(`--webhook must be an http(s) URL: ${(e as Error).message}`);
  }
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: reportMarkdown(r), report: r }),
    signal: AbortSignal.timeout(15_000),
  });
  return { ok: res.ok, status: res.status, where };
}
