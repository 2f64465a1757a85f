/**
 * What `pgpulse top` shows, read from a running sidecar's HTTP API only (POST /api/v1/query and
 * the recommendations resource) — the same numbers Grafana gets, never a second computation.
 */
import type { Frame } from '../../model/frames';
import { simpleFrame } from '../cli/support';
import type { SidecarEndpoint } from '../cli/sidecar-address';

/** One line of a headline: its per-step values over the last hour and the latest non-null one. */
export interface Series {
  label: string;
  values: Array<number | null>;
  last: number | null;
}

export interface Table {
  columns: string[];
  rows: Array<Record<string, unknown>>;
}

/** A section that may be unavailable (extension missing, not Neon): the sidecar's reason, verbatim. */
export interface Section {
  error?: string;
  notices: string[];
}

export interface Snapshot {
  target: string;
  targets: string[];
  at: number;
  windowMs: number;
  hitRatio: Series[];
  tps: Series;
  connections: Series;
  connectionsByState: Series[];
  longestQuery: Series;
  blocked: Series;
  deadlocks: Series;
  top: Table & Section;
  slowest: Table & Section;
  findings: {
    healthScore: number | null;
    evaluatedAt: number | null;
    notes: string[];
    items: Array<{ severity: string; title: string; object: string; id: string; sql?: string }>;
  };
  vectorIndexes: Table & Section;
  vectorLatency: Series[] & Section;
  neonState: Series[] & Section;
  neonLfc: Series[] & Section;
  errors: string[];
}

export const POINTS = 60;

const QUERIES: Array<Record<string, unknown>> = [
  { refId: 'hit', metric: 'cache_hit_ratio' },
  { refId: 'tps', metric: 'tps' },
  { refId: 'conn', metric: 'connections' },
  { refId: 'longest', metric: 'longest_query_seconds' },
  { refId: 'blocked', metric: 'blocked_queries' },
  { refId: 'deadlocks', metric: 'deadlocks' },
  { refId: 'top', metric: 'top_queries', topN: 10, orderBy: 'total_time' },
  { refId: 'slowest', metric: 'top_queries', topN: 10, orderBy: 'mean_time' },
  { refId: 'vidx', metric: 'vector_indexes' },
  { refId: 'vlat', metric: 'vector_query_latency' },
  { refId: 'neon', metric: 'neon_compute_state' },
  { refId: 'lfc', metric: 'neon_lfc_hit_ratio' },
];

function lastOf(values: Array<number | null>): number | null {
  for (let i = values.length - 1; i >= 0; i--) {
    if (values[i] !== null) {
      return values[i];
    }
  }
  return null;
}

function seriesOf(frames: Frame[]): Series[] {
  return frames.map((f) => {
    const v = f.fields.find((x) => x.type === 'number');
    const values = (v?.values ?? []).map((x) => (typeof x === 'number' && Number.isFinite(x) ? x : null));
    const label =
      v?.config?.displayNameFromDS ??
      v?.config?.displayName ??
      Object.values(v?.labels ?? {})
        .filter((l) => l !== v?.labels?.target)
        .join(' ') ??
      f.name ??
      '';
    return { label: label || (f.name ?? ''), values, last: lastOf(values) };
  });
}

/** Several series on one time grid folded into one, point by point (null only where all are null). */
function fold(series: Series[], label: string, how: 'sum' | 'max'): Series {
  const n = Math.max(0, ...series.map((s) => s.values.length));
  const values: Array<number | null> = [];
  for (let i = 0; i < n; i++) {
    const xs = series.map((s) => s.values[i]).filter((x): x is number => x !== null && x !== undefined);
    values.push(xs.length === 0 ? null : how === 'sum' ? xs.reduce((a, b) => a + b, 0) : Math.max(...xs));
  }
  return { label, values, last: lastOf(values) };
}

function tableOf(frames: Frame[]): Table {
  const f = frames[0];
  if (!f) {
    return { columns: [], rows: [] };
  }
  const n = Math.max(0, ...f.fields.map((x) => x.values.length));
  const rows = Array.from({ length: n }, (_, i) => Object.fromEntries(f.fields.map((x) => [x.name, x.values[i]])));
  return { columns: f.fields.map((x) => x.name), rows };
}

interface Result {
  frames: Frame[];
  error?: string;
}

function section<T extends object>(value: T, r: Result | undefined): T & Section {
  const notices = (r?.frames ?? []).flatMap((f) => (f.meta?.notices ?? []).map((n) => n.text));
  return Object.assign(value, { error: r?.error, notices });
}

export async function fetchSnapshot(
  ep: SidecarEndpoint,
  target: string | undefined,
  windowMs = 3_600_000
): Promise<Snapshot> {
  const headers = { authorization: `Bearer ${ep.token}`, 'content-type': 'application/json' };
  const get = async (path: string) => {
    const r = await fetch(ep.base + path, { headers, signal: AbortSignal.timeout(10_000) });
    const body = (await r.json()) as Record<string, unknown>;
    if (r.status !== 200) {
      throw new Error(`${path}: HTTP ${r.status}: ${String(body.error ?? '')}`);
    }
    return body;
  };
  const targets = ((await get('/api/v1/resources/targets')).items as Array<{ value: string }>).map((i) => i.value);
  const t = target ?? targets[0];
  if (!targets.includes(t)) {
    throw new Error(`the sidecar has no target "${t}": it has ${targets.join(', ')}`);
  }
  const to = Date.now();
  const from = to - windowMs;
  const res = await fetch(`${ep.base}/api/v1/query`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ from, to, maxDataPoints: POINTS, queries: QUERIES.map((q) => ({ target: t, ...q })) }),
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status !== 200) {
    throw new Error(`/api/v1/query: HTTP ${res.status}`);
  }
  const raw = ((await res.json()) as { results: Record<string, { frames?: unknown[]; error?: string }> }).results;
  const r: Record<string, Result> = Object.fromEntries(
    Object.entries(raw).map(([k, v]) => [k, { frames: (v.frames ?? []).map(simpleFrame), error: v.error }])
  );
  const rec = await get(`/api/v1/resources/recommendations?target=${encodeURIComponent(t)}`).catch(
    (e: Error) => ({ error: e.message }) as Record<string, unknown>
  );
  const conn = seriesOf(r.conn.frames);
  const findings = ((rec.findings as Array<Record<string, any>> | undefined) ?? []).map((f) => ({
    severity: String(f.severity),
    title: String(f.title),
    object: String(f.object ?? ''),
    id: String(f.id),
    sql: f.fix?.sql ? String(f.fix.sql) : undefined,
  }));
  const core = ['hit', 'tps', 'conn', 'longest', 'blocked', 'deadlocks', 'top', 'slowest'];
  return {
    target: t,
    targets,
    at: to,
    windowMs,
    hitRatio: seriesOf(r.hit.frames),
    tps: fold(seriesOf(r.tps.frames), 'TPS', 'sum'),
    connections: fold(conn, 'connections', 'sum'),
    connectionsByState: conn,
    longestQuery: fold(seriesOf(r.longest.frames), 'longest query', 'max'),
    blocked: fold(seriesOf(r.blocked.frames), 'blocked', 'sum'),
    deadlocks: fold(seriesOf(r.deadlocks.frames), 'deadlocks', 'sum'),
    top: section(tableOf(r.top.frames), r.top),
    slowest: section(tableOf(r.slowest.frames), r.slowest),
    findings: {
      healthScore: typeof rec.healthScore === 'number' ? rec.healthScore : null,
      evaluatedAt: typeof rec.evaluatedAt === 'number' ? rec.evaluatedAt : null,
      notes: [...((rec.notes as string[] | undefined) ?? []), ...(rec.error ? [String(rec.error)] : [])],
      items: findings,
    },
    vectorIndexes: section(tableOf(r.vidx.frames), r.vidx),
    vectorLatency: section(seriesOf(r.vlat.frames), r.vlat),
    neonState: section(seriesOf(r.neon.frames), r.neon),
    neonLfc: section(seriesOf(r.lfc.frames), r.lfc),
    errors: core.filter((k) => r[k]?.error).map((k) => `${k}: ${r[k].error}`),
  };
}
