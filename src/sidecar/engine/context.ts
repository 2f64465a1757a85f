/**
 * What a metric computation gets: the stored history of one target, the step grid, and helpers
 * that turn raw counters into reset-aware per-bucket sums.
 */
import type { MetricDef } from '../../model/catalog';
import type { Frame } from '../../model/frames';
import type { QueryOptions } from '../../model/query';
import { canonicalLabels, type Store } from '../store/store';
import { aggregateField, AGGREGATE_LABEL } from '../store/running-totals';
import type { LabelFilter, RangeTotal, SampleInfo, SeriesValues } from '../store/types';
import { counterDeltas } from './deltas';
import type { NoticeInput } from './notices';
import { bucketOf, type StepGrid } from './steps';

export interface ResolvedQuery extends QueryOptions {
  refId: string;
  target: string;
}

export interface EngineContext {
  store: Store;
  metric: MetricDef;
  query: ResolvedQuery;
  range: { from: number; to: number };
  grid: StepGrid;
  targetIntervalMs: number;
  filter: LabelFilter;
  /** see notices.ts: notify(ctx, severity, text) */
  notices: NoticeInput[];
}

export interface BucketSums {
  labels: Record<string, string>;
  field: string;
  /** Σ delta per bucket, null where no delta fell in the bucket */
  sum: Array<number | null>;
  /** Σ elapsed ms of those deltas */
  elapsed: number[];
}

export interface CounterData {
  samples: SampleInfo[];
  series: SeriesValues[];
}

export function loadSeries(
  ctx: EngineContext,
  collector: string,
  fields: string[],
  filter: LabelFilter = ctx.filter
): CounterData {
  const samples = ctx.store.samples(ctx.query.target, collector, ctx.range.from, ctx.range.to);
  const series = ctx.store.matrix(ctx.query.target, collector, [...fields, '_epoch'], filter, samples);
  return { samples, series };
}

/**
 * How a delta goes into buckets. 'end': whole, into the bucket of its later sample (counts stay
 * whole numbers: deadlocks, checkpoints). 'spread': over the time it covers, each bucket getting
 * the share of its overlap, with elapsed = the overlap — so Σ/elapsed is the rate over real time,
 * a step shorter than the sampling interval shows that rate in every step (as Prometheus rate()
 * would) instead of alternating with nulls, and Σ over buckets still equals the counter's delta.
 */
export type BucketMode = 'end' | 'spread';

/** Per-series bucket sums of counter deltas. */
export function bucketDeltas(
  ctx: EngineContext,
  data: CounterData,
  fields: string[],
  mode: BucketMode = 'end'
): BucketSums[] {
  const epochs = new Map<string, Array<number | null>>();
  for (const s of data.series) {
    if (s.field === '_epoch') {
      epochs.set(JSON.stringify(s.labels), s.values);
    }
  }
  const out: BucketSums[] = [];
  const n = ctx.grid.starts.length;
  const g = ctx.grid;
  for (const s of data.series) {
    if (!fields.includes(s.field)) {
      continue;
    }
    const sum: Array<number | null> = new Array(n).fill(null);
    const elapsed: number[] = new Array(n).fill(0);
    for (const d of counterDeltas(data.samples, s.values, epochs.get(JSON.stringify(s.labels)))) {
      const span = d.end - d.start;
      if (mode === 'end' || span <= 0) {
        const b = bucketOf(g, d.end);
        if (b >= 0) {
          sum[b] = (sum[b] ?? 0) + d.value;
          elapsed[b] += mode === 'end' ? d.elapsed : 0;
        }
        continue;
      }
      // buckets are [start, start + step); the delta covers (d.start, d.end]
      const first = Math.max(0, Math.floor((d.start - g.starts[0]) / g.step));
      const last = Math.min(n - 1, Math.floor((d.end - g.starts[0]) / g.step));
      for (let b = first; b <= last; b++) {
        const lo = Math.max(d.start, g.starts[b]);
        const hi = Math.min(d.end, g.starts[b] + g.step);
        const overlap = hi - lo;
        if (overlap <= 0) {
          continue;
        }
        sum[b] = (sum[b] ?? 0) + (d.value * overlap) / span;
        elapsed[b] += overlap;
      }
    }
    out.push({ labels: s.labels, field: s.field, sum, elapsed });
  }
  return out;
}

/**
 * Above this many lookups (series × step edges × 2) reading the points in the range is cheaper
 * than reading running totals at every step edge.
 */
export const MAX_EDGE_LOOKUPS = 200_000;

/**
 * The same per-series bucket sums as bucketDeltas(ctx, loadSeries(ctx, collector, fields), fields,
 * mode), from running totals at the step edges where they answer exactly; the steps they cannot
 * (near a reset, a row vanishing or appearing) are recomputed from the samples that reach into them.
 */
export function stepSums(
  ctx: EngineContext,
  collector: string,
  fields: string[],
  mode: BucketMode = 'end',
  filter: LabelFilter = ctx.filter
): BucketSums[] {
  const { target } = ctx.query;
  const fast = ctx.store.stepTotals(target, collector, fields, filter, ctx.range, ctx.grid, mode, MAX_EDGE_LOOKUPS);
  if (!fast) {
    return bucketDeltas(ctx, loadSeries(ctx, collector, fields, filter), fields, mode);
  }
  if (fast.irregular.length > 0) {
    const byKey = new Map(fast.series.map((s) => [`${JSON.stringify(s.labels)}\u0000${s.field}`, s]));
    for (const run of fast.irregular) {
      // the samples whose deltas reach into the run: the ok sample at fromTs and everything after it
      // up to toTs, as loadSeries has them (failed samples before `from` are not among them)
      const samples = ctx.store.samples(target, collector, Math.max(run.fromTs + 1, ctx.range.from), run.toTs);
      const series = ctx.store.matrix(target, collector, [...fields, '_epoch'], filter, samples);
      for (const raw of bucketDeltas(ctx, { samples, series }, fields, mode)) {
        const into = byKey.get(`${JSON.stringify(raw.labels)}\u0000${raw.field}`);
        if (!into) {
          continue;
        }
        for (let b = run.from; b <= run.to; b++) {
          into.sum[b] = raw.sum[b];
          into.elapsed[b] = raw.elapsed[b];
        }
      }
    }
  }
  return fast.series;
}

/**
 * Step sums per database from the per-database sums the store keeps (store/running-totals.ts),
 * for a computation grouped by nothing or by database and filtered by database at most: one series
 * per field and database instead of one per statement. undefined when they cannot answer.
 */
export function databaseStepSums(
  ctx: EngineContext,
  collector: string,
  fields: string[],
  mode: BucketMode,
  by: string[]
): BucketSums[] | undefined {
  const set = Object.entries(ctx.filter).filter(([, v]) => v !== undefined);
  if (by.some((b) => b !== AGGREGATE_LABEL) || set.some(([k]) => k !== AGGREGATE_LABEL) || fields.length === 0) {
    return undefined;
  }
  const { target } = ctx.query;
  const since = ctx.store.aggregatesFrom(target, collector, fields[0]);
  const first = ctx.store.rangeStart(target, collector, ctx.range.from, ctx.range.to);
  // sums that began after the range did (history from before them) cannot answer it
  if (since === undefined || first === undefined || first < since) {
    return undefined;
  }
  const filter = Object.fromEntries(set);
  const fast = ctx.store.stepTotals(
    target,
    collector,
    fields.map(aggregateField),
    filter,
    ctx.range,
    ctx.grid,
    mode,
    MAX_EDGE_LOOKUPS,
    true
  );
  if (!fast || fast.series.length === 0) {
    return undefined;
  }
  const out = fast.series.map((s) => ({ ...s, field: s.field.slice(aggregateField('').length) }));
  const byKey = new Map(out.map((s) => [`${s.labels[AGGREGATE_LABEL]}\u0000${s.field}`, s]));
  for (const run of fast.irregular) {
    for (const s of out) {
      for (let b = run.from; b <= run.to; b++) {
        s.sum[b] = null;
        s.elapsed[b] = 0;
      }
    }
    // the steps the sums cannot answer: the rows' own deltas, summed per database as groupSums would
    const samples = ctx.store.samples(target, collector, Math.max(run.fromTs + 1, ctx.range.from), run.toTs);
    const series = ctx.store.matrix(target, collector, [...fields, '_epoch'], ctx.filter, samples);
    for (const raw of bucketDeltas(ctx, { samples, series }, fields, mode)) {
      const into = byKey.get(`${raw.labels[AGGREGATE_LABEL]}\u0000${raw.field}`);
      if (!into) {
        continue;
      }
      for (let b = run.from; b <= run.to; b++) {
        if (raw.sum[b] !== null) {
          into.sum[b] = (into.sum[b] ?? 0) + (raw.sum[b] as number);
          into.elapsed[b] = Math.max(into.elapsed[b], raw.elapsed[b]);
        }
      }
    }
  }
  return out;
}

/** Range totals of counter deltas per series (for "top N over this range" tables). */
export function rangeDeltas(
  data: CounterData,
  fields: string[]
): Map<string, { labels: Record<string, string>; totals: Record<string, number>; seen: boolean }> {
  const epochs = new Map<string, Array<number | null>>();
  for (const s of data.series) {
    if (s.field === '_epoch') {
      epochs.set(JSON.stringify(s.labels), s.values);
    }
  }
  const out = new Map<string, { labels: Record<string, string>; totals: Record<string, number>; seen: boolean }>();
  for (const s of data.series) {
    if (!fields.includes(s.field)) {
      continue;
    }
    const key = JSON.stringify(s.labels);
    let e = out.get(key);
    if (!e) {
      e = { labels: s.labels, totals: Object.fromEntries(fields.map((f) => [f, 0])), seen: false };
      out.set(key, e);
    }
    for (const d of counterDeltas(data.samples, s.values, epochs.get(key))) {
      e.totals[s.field] += d.value;
      e.seen = true;
    }
  }
  return out;
}

/** The same totals as rangeDeltas(loadSeries(…)), computed from stored points only (fast over long ranges). */
export function rangeTotals(
  ctx: EngineContext,
  collector: string,
  fields: string[],
  filter: LabelFilter = ctx.filter,
  /** only these rows (canonicalLabels of their key) */
  rowsIn?: string[]
) {
  const { target } = ctx.query;
  // running totals answer in a few lookups per series; history without them is walked point by point
  const totals =
    ctx.store.rangeTotalsBetween(target, collector, fields, filter, ctx.range.from, ctx.range.to, rowsIn, true) ??
    onlyRows(
      ctx.store.rangeTotals(
        target,
        collector,
        fields,
        filter,
        ctx.store.samples(target, collector, ctx.range.from, ctx.range.to)
      ),
      rowsIn
    );
  const out = new Map<
    string,
    { labels: Record<string, string>; key: string; totals: Record<string, number>; seen: boolean }
  >();
  for (const t of totals) {
    // the store hands the row's stored labels where it has them: no label set serialised per series
    const key = t.key ?? canonicalLabels(t.labels);
    let e = out.get(key);
    if (!e) {
      e = { labels: t.labels, key, totals: Object.fromEntries(fields.map((f) => [f, 0])), seen: false };
      out.set(key, e);
    }
    e.totals[t.field] += t.total;
    e.seen ||= t.seen;
  }
  return out;
}

function onlyRows(totals: RangeTotal[], rowsIn: string[] | undefined): RangeTotal[] {
  if (!rowsIn) {
    return totals;
  }
  const wanted = new Set(rowsIn);
  return totals.filter((t) => wanted.has(canonicalLabels(t.labels)));
}

/** Latest non-null value per series within the range. */
export function latestValues(
  data: CounterData,
  field: string
): Map<string, { labels: Record<string, string>; value: number | null; ts: number | null }> {
  const out = new Map<string, { labels: Record<string, string>; value: number | null; ts: number | null }>();
  for (const s of data.series) {
    if (s.field !== field) {
      continue;
    }
    let v: number | null = null;
    let ts: number | null = null;
    for (let i = s.values.length - 1; i >= 0; i--) {
      if (s.values[i] !== null && data.samples[i].ok) {
        v = s.values[i];
        ts = data.samples[i].ts;
        break;
      }
    }
    out.set(JSON.stringify(s.labels), { labels: s.labels, value: v, ts });
  }
  return out;
}

export type Handler = (ctx: EngineContext) => Frame[];
