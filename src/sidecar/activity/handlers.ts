/**
 * Database load computations over the activity sampler's buckets: load (average active sessions)
 * per step = Σ sessions of the buckets that ended in the step / Σ their ticks. Σ/Σ, never an
 * average of per-bucket averages: a bucket with fewer ticks (skipped, failed, the sampler started
 * mid-interval) weighs less, and a group absent from a bucket counts as zero, not as a gap.
 */
import type { Frame } from '../../model/frames';
import type { EngineContext } from '../engine/context';
import { notify } from '../engine/notices';
import { columnsOf, seriesFrame, tableFrame } from '../engine/series-frames';
import { bucketOf } from '../engine/steps';
import type { LabelFilter, SampleInfo } from '../store/types';
import { LOAD, LOAD_TICKS } from './sampler';

interface TickSeries {
  samples: SampleInfo[];
  ticks: Array<number | null>;
  vcpus: Array<number | null>;
  queryIdOff: Array<number | null>;
  clientSamples: Array<number | null>;
  missing: Array<number | null>;
}

function loadTicks(ctx: EngineContext): TickSeries {
  const samples = ctx.store.samples(ctx.query.target, LOAD_TICKS, ctx.range.from, ctx.range.to);
  const fields = ['ticks', 'vcpus', 'compute_query_id_off', 'client_samples', 'query_id_missing'];
  const m = ctx.store.matrix(ctx.query.target, LOAD_TICKS, fields, undefined, samples);
  const of = (f: string) => m.find((s) => s.field === f)?.values ?? new Array<number | null>(samples.length).fill(null);
  return {
    samples,
    ticks: of('ticks'),
    vcpus: of('vcpus'),
    queryIdOff: of('compute_query_id_off'),
    clientSamples: of('client_samples'),
    missing: of('query_id_missing'),
  };
}

/** the waitEvent option as label filters: "Lock/transactionid" or a type alone ("IO") */
export function waitEventFilter(v: string | undefined): LabelFilter {
  if (!v) {
    return {};
  }
  const at = v.indexOf('/');
  return at < 0 ? { wait_event_type: v } : { wait_event_type: v.slice(0, at), wait_event: v.slice(at + 1) };
}

function loadFilter(ctx: EngineContext, withWait = true): LabelFilter {
  return {
    ...ctx.filter,
    ...(withWait ? waitEventFilter(typeof ctx.query.waitEvent === 'string' ? ctx.query.waitEvent : undefined) : {}),
  };
}

function explain(ctx: EngineContext, t: TickSeries, opts: { statements?: boolean } = {}): void {
  const n = t.samples.filter((s) => s.ts >= ctx.range.from && s.ok).length;
  if (n === 0) {
    notify(
      ctx,
      'info',
      `no database load buckets for target ${ctx.query.target} in this range: the 1 s activity sampler writes one per sampling interval while the target is reachable (never while a Neon compute is idle or pgpulse backs off)`
    );
    return;
  }
  if (!opts.statements && ctx.query.queryid === undefined) {
    return;
  }
  const last = t.samples.length - 1;
  const off = t.queryIdOff[last] === 1;
  const missing = t.missing.reduce<number>((a, v) => a + (v ?? 0), 0);
  const client = t.clientSamples.reduce<number>((a, v) => a + (v ?? 0), 0);
  if (off || (client > 0 && missing === client)) {
    notify(
      ctx,
      'warning',
      `target ${ctx.query.target}: active sessions carry no query_id (compute_query_id = ${off ? 'off' : 'auto without pg_stat_statements loaded'}), so load by statement is empty — set compute_query_id = on, or load pg_stat_statements (shared_preload_libraries)`
    );
  }
}

/** Σ sessions / Σ ticks per step, per group of labels */
function loadSeriesBy(
  ctx: EngineContext,
  group: (labels: Record<string, string>) => Record<string, string>,
  filter: LabelFilter
): { ticks: number[]; groups: Map<string, { labels: Record<string, string>; sum: number[] }>; t: TickSeries } {
  const t = loadTicks(ctx);
  const n = ctx.grid.starts.length;
  const ticks = new Array<number>(n).fill(0);
  t.samples.forEach((s, i) => {
    const b = bucketOf(ctx.grid, s.ts);
    if (b >= 0 && s.ok && s.ts >= ctx.range.from) {
      ticks[b] += t.ticks[i] ?? 0;
    }
  });
  const samples = ctx.store.samples(ctx.query.target, LOAD, ctx.range.from, ctx.range.to);
  const series = ctx.store.matrix(ctx.query.target, LOAD, ['samples'], filter, samples);
  const groups = new Map<string, { labels: Record<string, string>; sum: number[] }>();
  for (const s of series) {
    const labels = group(s.labels);
    const k = JSON.stringify(labels);
    let g = groups.get(k);
    if (!g) {
      g = { labels, sum: new Array<number>(n).fill(0) };
      groups.set(k, g);
    }
    s.values.forEach((v, i) => {
      const sm = samples[i];
      const b = bucketOf(ctx.grid, sm.ts);
      if (v !== null && b >= 0 && sm.ts >= ctx.range.from) {
        g.sum[b] += v;
      }
    });
  }
  return { ticks, groups, t };
}

function aas(sum: number[], ticks: number[]): Array<number | null> {
  return sum.map((v, i) => (ticks[i] > 0 ? v / ticks[i] : null));
}

function byLabels(name: string, labelNames: string[], how: string) {
  return (ctx: EngineContext): Frame[] => {
    const { ticks, groups, t } = loadSeriesBy(
      ctx,
      (l) => Object.fromEntries(labelNames.map((k) => [k, l[k] ?? ''])),
      loadFilter(ctx)
    );
    explain(ctx, t);
    const frames = [...groups.values()]
      .sort((a, b) => b.sum.reduce((x, y) => x + y, 0) - a.sum.reduce((x, y) => x + y, 0))
      .map((g) => seriesFrame(ctx, name, g.labels, aas(g.sum, ticks), how));
    return frames;
  };
}

const HOW = 'average active sessions per step = Σ active sessions seen by the activity sampler / its ticks';

export const dbLoad = byLabels(
  'db_load',
  ['wait_event_type'],
  `${HOW}, per wait_event_type ("CPU" = active without a wait event)`
);
export const dbLoadByDatabase = byLabels('db_load_by_database', ['datname'], `${HOW}, per database`);
export const dbLoadByUser = byLabels('db_load_by_user', ['usename'], `${HOW}, per role`);
export const dbLoadByApplication = byLabels(
  'db_load_by_application',
  ['application_name'],
  `${HOW}, per application_name`
);

function vcpuSteps(ctx: EngineContext, t: TickSeries): Array<number | null> {
  const out = new Array<number | null>(ctx.grid.starts.length).fill(null);
  t.samples.forEach((s, i) => {
    const b = bucketOf(ctx.grid, s.ts);
    const v = t.vcpus[i];
    if (b >= 0 && s.ok && s.ts >= ctx.range.from && v !== null) {
      out[b] = Math.max(out[b] ?? 0, v);
    }
  });
  return out;
}

function explainVcpus(ctx: EngineContext, values: Array<number | null>, t: TickSeries): void {
  if (t.samples.some((s) => s.ok && s.ts >= ctx.range.from) && values.every((v) => v === null)) {
    notify(
      ctx,
      'warning',
      `vCPUs of target ${ctx.query.target} are unknown: set activity.vcpus for it in the sidecar config (on Neon, neon_utils.num_cpus() answers when the neon_utils extension is installed)`
    );
  }
}

export function dbLoadVcpus(ctx: EngineContext): Frame[] {
  const t = loadTicks(ctx);
  explain(ctx, t);
  const values = vcpuSteps(ctx, t);
  explainVcpus(ctx, values, t);
  return [
    seriesFrame(
      ctx,
      'db_load_vcpus',
      {},
      values,
      'vCPUs: neon_utils.num_cpus() on Neon, else activity.vcpus of the target config; highest in each step'
    ),
  ];
}

export function dbLoadVcpuRatio(ctx: EngineContext): Frame[] {
  const { ticks, groups, t } = loadSeriesBy(ctx, () => ({}), loadFilter(ctx));
  explain(ctx, t);
  const total = groups.get('{}')?.sum ?? new Array<number>(ticks.length).fill(0);
  const vcpus = vcpuSteps(ctx, t);
  explainVcpus(ctx, vcpus, t);
  const values = aas(total, ticks).map((v, i) => (v === null || !vcpus[i] ? null : v / (vcpus[i] as number)));
  return [seriesFrame(ctx, 'db_load_vcpu_ratio', {}, values, `${HOW}, all sessions, / vCPUs`)];
}

/** Σ sessions per group over the range, and the range's ticks */
function rangeLoad(
  ctx: EngineContext,
  filter: LabelFilter
): { ticks: number; rows: Array<{ labels: Record<string, string>; samples: number }>; t: TickSeries } {
  const t = loadTicks(ctx);
  let ticks = 0;
  t.samples.forEach((s, i) => {
    if (s.ok && s.ts >= ctx.range.from) {
      ticks += t.ticks[i] ?? 0;
    }
  });
  const samples = ctx.store.samples(ctx.query.target, LOAD, ctx.range.from, ctx.range.to);
  const rows = ctx.store.matrix(ctx.query.target, LOAD, ['samples'], filter, samples).map((s) => ({
    labels: s.labels,
    samples: s.values.reduce<number>((a, v, i) => a + (v !== null && samples[i].ts >= ctx.range.from ? v : 0), 0),
  }));
  return { ticks, rows: rows.filter((r) => r.samples > 0), t };
}

function sumBy<T>(
  rows: Array<{ labels: Record<string, string>; samples: number }>,
  key: (l: Record<string, string>) => string,
  init: (l: Record<string, string>) => T
): Map<string, { first: T; samples: number; labels: Array<Record<string, string>> }> {
  const out = new Map<string, { first: T; samples: number; labels: Array<Record<string, string>> }>();
  for (const r of rows) {
    const k = key(r.labels);
    const e = out.get(k) ?? { first: init(r.labels), samples: 0, labels: [] };
    e.samples += r.samples;
    e.labels.push(r.labels);
    out.set(k, e);
  }
  return out;
}

export function dbLoadWaitEvents(ctx: EngineContext): Frame[] {
  const { ticks, rows, t } = rangeLoad(ctx, loadFilter(ctx));
  explain(ctx, t);
  const total = rows.reduce((a, r) => a + r.samples, 0);
  const byEvent = [
    ...sumBy(
      rows,
      (l) => `${l.wait_event_type}/${l.wait_event}`,
      (l) => ({ type: l.wait_event_type, event: l.wait_event })
    ).values(),
  ]
    .sort((a, b) => b.samples - a.samples)
    .slice(0, ctx.query.topN ?? ctx.metric.defaults?.topN ?? 20);
  const col = columnsOf(byEvent);
  return [
    tableFrame(
      ctx,
      [
        col('wait_event_type', 'string', (r) => r.first.type, { displayName: 'Wait event type' }),
        col('wait_event', 'string', (r) => r.first.event, { displayName: 'Wait event' }),
        col('load', 'number', (r) => (ticks > 0 ? r.samples / ticks : null), {
          displayName: 'Load (AAS)',
          unit: 'short',
          decimals: 2,
        }),
        col('share', 'number', (r) => (total > 0 ? r.samples / total : null), {
          displayName: 'Share of load',
          unit: 'percentunit',
        }),
      ],
      `${HOW} over the selected range, per wait_event_type / wait_event`
    ),
  ];
}

export function dbLoadStatements(ctx: EngineContext): Frame[] {
  const { ticks, rows, t } = rangeLoad(ctx, loadFilter(ctx));
  explain(ctx, t, { statements: true });
  const all = ctx.query.waitEvent ? rangeLoad(ctx, loadFilter(ctx, false)).rows : rows;
  const total = all.reduce((a, r) => a + r.samples, 0);
  const byStmt = [
    ...sumBy(
      rows.filter((r) => r.labels.queryid !== ''),
      (l) => l.queryid,
      (l) => l.queryid
    ).values(),
  ]
    .sort((a, b) => b.samples - a.samples)
    .slice(0, ctx.query.topN ?? ctx.metric.defaults?.topN ?? 20);
  const texts = ctx.store.statementTexts(
    ctx.query.target,
    byStmt.map((s) => s.first)
  );
  const rowsOut = byStmt.map((s) => {
    const per = (key: (l: Record<string, string>) => string) => {
      const m = new Map<string, number>();
      for (const r of rows.filter((x) => x.labels.queryid === s.first)) {
        m.set(key(r.labels), (m.get(key(r.labels)) ?? 0) + r.samples);
      }
      return [...m.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
    };
    return {
      queryid: s.first,
      datname: per((l) => l.datname),
      load: ticks > 0 ? s.samples / ticks : null,
      share: total > 0 ? s.samples / total : null,
      wait: per((l) => `${l.wait_event_type}/${l.wait_event}`),
      query: texts.get(s.first) ?? '',
    };
  });
  const col = columnsOf(rowsOut);
  return [
    tableFrame(
      ctx,
      [
        col('queryid', 'string', (r) => r.queryid),
        col('datname', 'string', (r) => r.datname),
        col('load', 'number', (r) => r.load, { displayName: 'Load (AAS)', unit: 'short', decimals: 2 }),
        col('share', 'number', (r) => r.share, {
          displayName: 'Share of load',
          unit: 'percentunit',
          description: 'of all the load in the range (every wait event)',
        }),
        col('top_wait_event', 'string', (r) => r.wait, { displayName: 'Top wait event' }),
        col('query', 'string', (r) => r.query, {
          description:
            'pg_stat_statements text (fetched once per queryid); empty until the statements collector has seen it',
        }),
      ],
      `${HOW} over the selected range, per query_id${ctx.query.waitEvent ? `, sessions waiting on ${String(ctx.query.waitEvent)} only` : ''}`
    ),
  ];
}
