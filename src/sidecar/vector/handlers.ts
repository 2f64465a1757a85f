/**
 * Engine computations of the vector metrics: passive latency and call rates of classified vector
 * queries (pg_stat_statements deltas), probe latency and recall (latest probe run per step), and
 * the index / query tables with their advice.
 */
import type { Frame } from '../../model/frames';
import { bucketDeltas, loadSeries, rangeDeltas, type CounterData, type EngineContext } from '../engine/context';
import { columnsOf, seriesFrame, tableFrame } from '../engine/series-frames';
import type { LabelFilter } from '../store/types';
import { probeProblems } from './probe-status';
import { indexAdvice, queryAdvice, type AdvisedSetting, type IndexFacts, type ProbePoint } from './advice';

interface QueryEntity {
  datname: string;
  queryid: string;
  info: Record<string, any>;
}

function short(text: string | undefined, n = 60): string {
  const t = (text ?? '').replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

/** rows of a vector-collector object present in the latest sample inside the range */
function currentObjects(ctx: EngineContext, object: string, field: string, filter: LabelFilter = {}) {
  const data = loadSeries(ctx, 'vector', [field], { ...filter, object });
  let last = -1;
  for (let i = data.samples.length - 1; i >= 0; i--) {
    if (data.samples[i].ok) {
      last = i;
      break;
    }
  }
  const present = new Map<string, Record<string, string>>();
  if (last < 0) {
    return { present, ts: null as number | null };
  }
  for (const s of data.series) {
    if (s.field === field && s.values[last] !== null) {
      present.set(JSON.stringify(s.labels), s.labels);
    }
  }
  return { present, ts: data.samples[last].ts };
}

function vectorQueries(ctx: EngineContext): QueryEntity[] {
  const filter: LabelFilter = { object: 'query', datname: ctx.filter.datname, queryid: ctx.filter.queryid };
  return ctx.store
    .entities(ctx.query.target, 'vector', filter)
    .map((e) => ({ datname: e.labels.datname, queryid: e.labels.queryid, info: e.info }));
}

/** Per-step Σ over a query's statement rows (several roles run one queryid) */
function perQuerySums(ctx: EngineContext, fields: string[]) {
  const vq = vectorQueries(ctx);
  const wanted = new Set(vq.map((q) => `${q.datname}\u0000${q.queryid}`));
  // spread over real time: statements are sampled less often than the step may be
  const sums = bucketDeltas(ctx, loadSeries(ctx, 'statements', fields), fields, 'spread');
  const n = ctx.grid.starts.length;
  const by = new Map<
    string,
    { labels: Record<string, string>; f: Record<string, Array<number | null>>; elapsed: Record<string, number[]> }
  >();
  for (const s of sums) {
    const k = `${s.labels.datname}\u0000${s.labels.queryid}`;
    if (!wanted.has(k)) {
      continue;
    }
    const e = by.get(k) ?? { labels: { datname: s.labels.datname, queryid: s.labels.queryid }, f: {}, elapsed: {} };
    const arr = e.f[s.field] ?? new Array(n).fill(null);
    const el = e.elapsed[s.field] ?? new Array(n).fill(0);
    s.sum.forEach((v, i) => {
      if (v !== null) {
        arr[i] = (arr[i] ?? 0) + v;
        el[i] = Math.max(el[i], s.elapsed[i]);
      }
    });
    e.f[s.field] = arr;
    e.elapsed[s.field] = el;
    by.set(k, e);
  }
  return by;
}

export function vectorQueryLatency(ctx: EngineContext): Frame[] {
  const by = perQuerySums(ctx, ['calls', 'total_exec_time']);
  const texts = ctx.store.statementTexts(
    ctx.query.target,
    [...by.values()].map((e) => e.labels.queryid)
  );
  const n = ctx.grid.starts.length;
  const allCalls: Array<number | null> = new Array(n).fill(null);
  const allTime: Array<number | null> = new Array(n).fill(null);
  const frames: Frame[] = [];
  for (const e of [...by.values()].sort((a, b) => a.labels.queryid.localeCompare(b.labels.queryid))) {
    const calls = e.f.calls ?? [];
    const time = e.f.total_exec_time ?? [];
    const mean = calls.map((c, i) => {
      const t = time[i];
      if (c === null || t === null || t === undefined) {
        return null;
      }
      allCalls[i] = (allCalls[i] ?? 0) + c;
      allTime[i] = (allTime[i] ?? 0) + t;
      return c > 0 ? t / c : null;
    });
    frames.push(
      seriesFrame(
        ctx,
        'vector_query_latency',
        { ...e.labels, query: short(texts.get(e.labels.queryid)) },
        mean,
        'Δtotal_exec_time / Δcalls per step of this vector query (pg_stat_statements)'
      )
    );
  }
  if (!ctx.query.queryid) {
    const mean = allCalls.map((c, i) =>
      c !== null && c > 0 && allTime[i] !== null ? (allTime[i] as number) / c : null
    );
    frames.unshift(
      seriesFrame(
        ctx,
        'vector_query_latency',
        { query: 'all vector queries' },
        mean,
        'Σ Δtotal_exec_time / Σ Δcalls per step over every vector query (pg_stat_statements)'
      )
    );
  }
  return frames;
}

export function vectorCalls(ctx: EngineContext): Frame[] {
  const by = perQuerySums(ctx, ['calls']);
  const texts = ctx.store.statementTexts(
    ctx.query.target,
    [...by.values()].map((e) => e.labels.queryid)
  );
  const n = ctx.grid.starts.length;
  const all: Array<number | null> = new Array(n).fill(null);
  const frames: Frame[] = [];
  for (const e of [...by.values()].sort((a, b) => a.labels.queryid.localeCompare(b.labels.queryid))) {
    const elapsed = e.elapsed.calls ?? [];
    // Δcalls over the time the samples really cover inside the step, not over the step
    const rate = (e.f.calls ?? []).map((c, i) => {
      if (c === null || !(elapsed[i] > 0)) {
        return null;
      }
      const r = c / (elapsed[i] / 1000);
      all[i] = (all[i] ?? 0) + r;
      return r;
    });
    frames.push(
      seriesFrame(
        ctx,
        'vector_calls',
        { ...e.labels, query: short(texts.get(e.labels.queryid)) },
        rate,
        'Δcalls / Δt between statement samples of this vector query (pg_stat_statements)'
      )
    );
  }
  if (!ctx.query.queryid) {
    frames.unshift(
      seriesFrame(
        ctx,
        'vector_calls',
        { query: 'all vector queries' },
        all,
        'Σ over every vector query of Δcalls / Δt between statement samples (pg_stat_statements)'
      )
    );
  }
  return frames;
}

/** Latest probe value at or before the end of each step, no older than 3 probe intervals. */
function latestPerStep(
  ctx: EngineContext,
  ts: number[],
  values: Array<number | null>,
  ok: boolean[]
): Array<number | null> {
  const gaps: number[] = [];
  for (let i = 1; i < ts.length; i++) {
    gaps.push(ts[i] - ts[i - 1]);
  }
  gaps.sort((a, b) => a - b);
  const interval = gaps.length ? gaps[Math.floor(gaps.length / 2)] : ctx.grid.step;
  const maxAge = Math.max(ctx.grid.step, 3 * interval);
  const out: Array<number | null> = new Array(ctx.grid.starts.length).fill(null);
  let j = -1;
  for (let b = 0; b < ctx.grid.starts.length; b++) {
    const end = ctx.grid.starts[b] + ctx.grid.step;
    while (j + 1 < ts.length && ts[j + 1] < end) {
      j++;
    }
    if (j >= 0 && ok[j] && values[j] !== null && end - ts[j] <= maxAge) {
      out[b] = values[j];
    }
  }
  return out;
}

/** alertable probe series show the session default unless efSearch asks for a swept value; sweep metrics show all */
function probeFilter(ctx: EngineContext, sweep: boolean): LabelFilter {
  return {
    object: 'probe',
    indexrelname: ctx.filter.indexrelname,
    ef_search: sweep ? undefined : ctx.query.efSearch !== undefined ? String(ctx.query.efSearch) : 'default',
    k: ctx.query.k !== undefined ? String(ctx.query.k) : undefined,
  };
}

function settingOrder(a: Record<string, string>, b: Record<string, string>): number {
  const v = (s: string) => (s === 'default' ? -1 : Number(s));
  return a.indexrelname.localeCompare(b.indexrelname) || v(a.ef_search) - v(b.ef_search);
}

function probeSeries(
  ctx: EngineContext,
  fields: Array<{ field: string; quantile?: string; bound?: string }>,
  how: string,
  sweep = false
): Frame[] {
  const data = loadSeries(
    ctx,
    'vector_probe',
    fields.map((f) => f.field),
    probeFilter(ctx, sweep)
  );
  const ts = data.samples.map((s) => s.ts);
  const ok = data.samples.map((s) => s.ok);
  const frames: Array<{ labels: Record<string, string>; frame: Frame; q: number }> = [];
  for (const s of data.series) {
    const fi = fields.findIndex((f) => f.field === s.field);
    if (fi < 0 || s.values.every((v) => v === null)) {
      continue;
    }
    const labels: Record<string, string> = {
      index: s.labels.indexrelname,
      schema: s.labels.schemaname,
      table: s.labels.relname,
      ef_search: s.labels.ef_search,
      k: s.labels.k,
      iterative_scan: s.labels.iterative_scan ?? '',
    };
    if (fields[fi].quantile) {
      labels.quantile = fields[fi].quantile as string;
    }
    if (fields[fi].bound) {
      labels.bound = fields[fi].bound as string;
    }
    frames.push({
      labels: s.labels,
      q: fi,
      frame: seriesFrame(ctx, ctx.metric.id, labels, latestPerStep(ctx, ts, s.values, ok), how),
    });
  }
  frames.sort((a, b) => settingOrder(a.labels, b.labels) || a.q - b.q);
  return frames.map((f) => f.frame);
}

export function vectorProbeLatency(ctx: EngineContext): Frame[] {
  const all = [
    { field: 'p50_ms', quantile: 'p50' },
    { field: 'p95_ms', quantile: 'p95' },
    { field: 'p99_ms', quantile: 'p99' },
  ];
  return probeSeries(
    ctx,
    ctx.query.quantile ? all.filter((f) => f.quantile === ctx.query.quantile) : all,
    'nearest-rank percentiles of probe ANN query latency (client round trip) over the sampled query vectors; each point is the latest probe run at or before the end of the step'
  );
}

export function vectorRecall(ctx: EngineContext): Frame[] {
  return probeSeries(
    ctx,
    [{ field: 'recall' }],
    'mean over the sampled query vectors of |ANN top-k ∩ exact top-k| / k (exact: SET LOCAL enable_indexscan = off); each point is the latest probe run at or before the end of the step'
  );
}

export function vectorRecallSweep(ctx: EngineContext): Frame[] {
  return probeSeries(
    ctx,
    [
      { field: 'recall', bound: 'estimate' },
      { field: 'recall_lower', bound: 'lower' },
      { field: 'recall_upper', bound: 'upper' },
    ],
    'recall@k per swept ef_search / probes (mean over the query vectors of |ANN top-k ∩ exact top-k| / k) with its 99 % interval (bound = lower / upper: Agresti–Coull over the query vectors); each point is the latest probe run at or before the end of the step',
    true
  );
}

export function vectorProbeLatencySweep(ctx: EngineContext): Frame[] {
  return probeSeries(
    ctx,
    [{ field: 'p95_ms', quantile: 'p95' }],
    'nearest-rank p95 of probe ANN query latency per swept ef_search / probes; each point is the latest probe run at or before the end of the step',
    true
  );
}

function latestProbes(ctx: EngineContext): {
  points: ProbePoint[];
  targetRecall: number;
  advised: Map<string, AdvisedSetting>;
} {
  const fields = ['recall', 'recall_lower', 'recall_upper', 'p95_ms', 'setting_value', 'returned_mean'];
  const data = loadSeries(ctx, 'vector_probe', fields, { object: 'probe', indexrelname: ctx.filter.indexrelname });
  const run = loadSeries(ctx, 'vector_probe', ['target_recall'], { object: 'run' });
  let targetRecall = 0.95;
  for (const s of run.series) {
    targetRecall = latestValue(s.values) ?? targetRecall;
  }
  // the latest ok sample that has this index's rows
  const by = new Map<string, ProbePoint>();
  for (const s of data.series) {
    let i = s.values.length - 1;
    while (i >= 0 && (s.values[i] === null || !data.samples[i].ok)) {
      i--;
    }
    if (i < 0) {
      continue;
    }
    const key = JSON.stringify(s.labels);
    const p = by.get(key) ?? {
      schema: s.labels.schemaname,
      index: s.labels.indexrelname,
      setting: s.labels.ef_search,
      k: Number(s.labels.k),
      ts: data.samples[i].ts,
      recall: null,
      lower: null,
      upper: null,
      p95: null,
      value: null,
      returned: null,
    };
    if (s.field === 'recall') {
      p.recall = s.values[i];
    }
    if (s.field === 'recall_lower') {
      p.lower = s.values[i];
    }
    if (s.field === 'recall_upper') {
      p.upper = s.values[i];
    }
    if (s.field === 'p95_ms') {
      p.p95 = s.values[i];
    }
    if (s.field === 'setting_value') {
      p.value = s.values[i];
    }
    if (s.field === 'returned_mean') {
      p.returned = s.values[i];
    }
    p.ts = Math.max(p.ts, data.samples[i].ts);
    by.set(key, p);
  }
  // only the latest run of each index counts
  const newest = new Map<string, number>();
  for (const p of by.values()) {
    newest.set(p.index, Math.max(newest.get(p.index) ?? 0, p.ts));
  }
  // the advised setting (hysteresis, decided at probe time) per index
  const advised = new Map<string, AdvisedSetting>();
  for (const e of ctx.store.entities(ctx.query.target, 'vector_probe', {
    object: 'advice',
    indexrelname: ctx.filter.indexrelname,
  })) {
    if (ctx.query.k !== undefined && e.labels.k !== String(ctx.query.k)) {
      continue;
    }
    advised.set(`${e.labels.schemaname}.${e.labels.indexrelname}`, {
      value: (e.info.advised as number | null | undefined) ?? null,
      reason: String(e.info.reason ?? ''),
      param: String(e.info.param ?? ''),
      collecting: e.info.collecting === true,
    });
  }
  return { points: [...by.values()].filter((p) => p.ts === newest.get(p.index)), targetRecall, advised };
}

/**
 * The recall / latency curve of each index from its latest probe run, one frame per index with
 * numeric fields only, so a Grafana XY chart draws it (x = ef_search / probes; y = recall with its
 * interval, p95 latency). The trade-off advice read off the curve is the frame's notice.
 */
export function vectorRecallCurve(ctx: EngineContext): Frame[] {
  const probes = latestProbes(ctx);
  const byIndex = new Map<string, ProbePoint[]>();
  for (const p of probes.points) {
    const key = `${p.schema}.${p.index}`;
    byIndex.set(key, [...(byIndex.get(key) ?? []), p]);
  }
  const frames: Frame[] = [];
  for (const [key, pts] of [...byIndex].sort((a, b) => a[0].localeCompare(b[0]))) {
    // one point per value: the swept row wins over a default row with the same value
    const byValue = new Map<number, ProbePoint>();
    for (const p of pts
      .filter((x) => x.value !== null)
      .sort((a, b) => (a.setting === 'default' ? -1 : 1) - (b.setting === 'default' ? -1 : 1))) {
      byValue.set(p.value as number, p);
    }
    const curve = [...byValue.values()].sort((a, b) => (a.value as number) - (b.value as number));
    const dflt = pts.find((p) => p.setting === 'default') ?? null;
    const adv = probes.advised.get(key);
    const note = tradeOff(curve, dflt, adv, probes.targetRecall);
    const col = columnsOf(curve);
    const param = adv?.param || (pts[0] && pts[0].setting !== undefined ? 'ef_search / probes' : '');
    const frame = tableFrame(
      ctx,
      [
        col('setting', 'number', (p) => p.value, { displayName: param || 'ef_search / probes' }),
        col('recall', 'number', (p) => p.recall, { displayName: 'recall', unit: 'percentunit', min: 0, max: 1 }),
        col('recall_lower', 'number', (p) => p.lower, {
          displayName: 'recall 99 % lower',
          unit: 'percentunit',
          min: 0,
          max: 1,
        }),
        col('recall_upper', 'number', (p) => p.upper, {
          displayName: 'recall 99 % upper',
          unit: 'percentunit',
          min: 0,
          max: 1,
        }),
        col('p95_ms', 'number', (p) => p.p95, { displayName: 'p95 latency', unit: 'ms' }),
        col(
          'p95_delta_ms',
          'number',
          (p) => (p.p95 !== null && dflt?.p95 !== null && dflt?.p95 !== undefined ? p.p95 - dflt.p95 : null),
          { displayName: 'p95 vs session setting', unit: 'ms' }
        ),
      ],
      `recall@k and p95 latency per ef_search / probes of ${key}, latest probe run; interval: 99 % Agresti–Coull over the query vectors`
    );
    frame.name = key;
    frame.meta = {
      ...frame.meta,
      preferredVisualisationType: 'graph',
      notices: [...(frame.meta?.notices ?? []), { severity: 'info', text: note }],
    };
    frames.push(frame);
  }
  if (frames.length === 0) {
    // never an empty answer without a reason
    const empty = tableFrame(ctx, [], 'no probe run in the range');
    empty.meta = {
      ...empty.meta,
      notices: [...(empty.meta?.notices ?? []), { severity: 'warning', text: probeStatusNotice(ctx) }],
    };
    return [empty];
  }
  return frames;
}

/** why there is no curve: probes off, a failing run (e.g. no SELECT on the table) or no run yet */
function probeStatusNotice(ctx: EngineContext): string {
  const problems = probeProblems(ctx.store, ctx.query.target);
  if (problems.length > 0) {
    return `probes could not measure recall: ${problems.join('; ')}`;
  }
  return 'no probe run with recall in this range: probes are opt-in per target (vector.probes.enabled: true); tables above vector.probes.maxExactRows get latency only';
}

const pm = (p: ProbePoint) =>
  p.lower !== null && p.upper !== null
    ? `${(p.recall as number).toFixed(3)} (99 % interval ${p.lower.toFixed(3)}–${p.upper.toFixed(3)}, ± ${((p.upper - p.lower) / 2).toFixed(3)})`
    : (p.recall as number).toFixed(3);

/** "hnsw.ef_search 80 reaches 0.953 (…) at +0.4 ms p95 against the session setting 40" */
export function tradeOff(
  curve: ProbePoint[],
  dflt: ProbePoint | null,
  adv: AdvisedSetting | undefined,
  target: number
): string {
  const param = adv?.param || 'ef_search';
  if (!adv) {
    return `no advice yet: recall is not measured (see the probe status)`;
  }
  if (adv.collecting) {
    return `no ${param} advice yet: ${adv.reason}`;
  }
  if (adv.value === null) {
    const top = [...curve]
      .filter((p) => p.recall !== null)
      .sort((a, b) => (b.recall as number) - (a.recall as number))[0];
    return `no measured ${param} reaches recall ${target} with confidence (${adv.reason})${top ? `; best ${param} ${top.value}: ${pm(top)}` : ''}`;
  }
  const at = curve.find((p) => p.value === adv.value);
  if (!at || at.recall === null) {
    return `${param} ${adv.value} (${adv.reason})`;
  }
  const delta = at.p95 !== null && dflt?.p95 !== null && dflt?.p95 !== undefined ? at.p95 - dflt.p95 : null;
  const cost =
    delta === null
      ? ''
      : ` at ${delta >= 0 ? '+' : '−'}${Math.abs(delta).toFixed(2)} ms p95 against the session setting ${dflt?.value}`;
  return `${param} ${adv.value} reaches recall ${pm(at)} ≥ ${target}${cost} (${adv.reason})`;
}

/** The newest non-null value of a series inside the range (null when it has none). */
function latestValue(values: ReadonlyArray<number | null>): number | null {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i];
    if (v !== null) {
      return v;
    }
  }
  return null;
}

/** The newest non-null value of `field` in the series labelled `labels` (without labels: its first series). */
function latestOf(data: CounterData, field: string, labels?: Record<string, string>): number | null {
  const key = labels && JSON.stringify(labels);
  const s = data.series.find((x) => x.field === field && (key === undefined || JSON.stringify(x.labels) === key));
  return s ? latestValue(s.values) : null;
}

/** One row of the vector_indexes table: an index, a build in progress or an unindexed vector column. */
interface IndexTableRow {
  kind: 'index' | 'build in progress' | 'column without ANN index';
  schema: string;
  table: string;
  index: string;
  method: unknown;
  key: unknown;
  opclass: unknown;
  operator: unknown;
  dims: number | null;
  m: number | null;
  ef_construction: number | null;
  lists: number | null;
  size: number | null;
  cache_share: number | null;
  lfc_share: number | null;
  rows: number | null;
  dead: number | null;
  recall: number | null;
  recall_lower?: number | null;
  recall_upper?: number | null;
  p95: number | null;
  best: number | null;
  queries: number;
  scans: number | null;
  advice: string;
}

/** A row with only what a build or a column has: no index measurements. */
const noIndexValues = {
  method: '',
  opclass: '',
  m: null,
  ef_construction: null,
  lists: null,
  size: null,
  cache_share: null,
  lfc_share: null,
  rows: null,
  dead: null,
  recall: null,
  p95: null,
  best: null,
  scans: null,
} as const;

/** pgvector's server-wide facts: version, known bugs, and the cache sizes an index is compared with */
function vectorServer(ctx: EngineContext) {
  const info = ctx.store.entities(ctx.query.target, 'vector', { object: 'server' })[0]?.info ?? {};
  const values = loadSeries(ctx, 'vector', ['shared_buffers_bytes', 'lfc_bytes'], { object: 'server' });
  return {
    info,
    sharedBuffersBytes: latestOf(values, 'shared_buffers_bytes'),
    lfcBytes: latestOf(values, 'lfc_bytes'),
  };
}

/** CREATE INDEX runs present in the latest discovery of the range */
function currentBuilds(ctx: EngineContext) {
  const builds = currentObjects(ctx, 'build', 'blocks_total');
  return ctx.store
    .entities(ctx.query.target, 'vector', { object: 'build' })
    .filter((e) => builds.present.has(JSON.stringify(e.labels)));
}

type Builds = ReturnType<typeof currentBuilds>;

/** The ANN indexes of the latest discovery, each with its facts, probe results and advice. */
function indexRows(
  ctx: EngineContext,
  server: ReturnType<typeof vectorServer>,
  builds: Builds,
  queries: QueryEntity[],
  probes: ReturnType<typeof latestProbes>
) {
  const t = ctx.query.target;
  const base: LabelFilter = {
    datname: ctx.filter.datname,
    relname: ctx.filter.relname,
    indexrelname: ctx.filter.indexrelname,
  };
  const { present } = currentObjects(ctx, 'index', 'size_bytes', base);
  const ents = new Map(
    ctx.store.entities(t, 'vector', { ...base, object: 'index' }).map((e) => [JSON.stringify(e.labels), e])
  );
  const values = loadSeries(
    ctx,
    'vector',
    ['size_bytes', 'table_rows', 'dead_tuples', 'dims', 'm', 'ef_construction', 'lists'],
    { ...base, object: 'index' }
  );
  // index scans inside the range: Δ pg_stat_user_indexes.idx_scan (HNSW and IVFFlat scans count)
  const scans = new Map<string, number>();
  for (const e of rangeDeltas(loadSeries(ctx, 'vector', ['idx_scan'], { ...base, object: 'index' }), [
    'idx_scan',
  ]).values()) {
    scans.set(JSON.stringify(e.labels), e.totals.idx_scan);
  }
  const runInfo = ctx.store.entities(t, 'vector_probe', { object: 'run' })[0]?.info;
  const probeRunStatus = new Map(
    ((runInfo?.probes as Array<{ index: string; status: string }> | undefined) ?? []).map((p) => [p.index, p.status])
  );
  const rows: IndexTableRow[] = [];
  for (const [key, labels] of present) {
    const info = ents.get(key)?.info ?? {};
    const last = (field: string) => latestOf(values, field, labels);
    const facts: IndexFacts = {
      schema: labels.schemaname,
      table: labels.relname,
      index: labels.indexrelname,
      amname: String(info.amname ?? ''),
      keyType: String(info.key_type ?? ''),
      dims: last('dims'),
      sizeBytes: last('size_bytes') ?? 0,
      tableRows: last('table_rows'),
      deadTuples: last('dead_tuples'),
      sharedBuffersBytes: server.sharedBuffersBytes,
      lfcBytes: server.lfcBytes,
      bugs: (server.info.bugs as string[] | undefined) ?? [],
      iterativeScan: (server.info.iterative_scan as string | null | undefined) ?? null,
      lists: last('lists'),
    };
    const qualified = `${labels.schemaname}.${labels.indexrelname}`;
    const mine = probes.points.filter((p) => p.index === labels.indexrelname && p.schema === labels.schemaname);
    const dflt = mine.find((p) => p.setting === 'default');
    const build = builds.find((b) => b.info.indexrelname === labels.indexrelname);
    const advice = indexAdvice(facts, mine, probes.targetRecall, probes.advised.get(qualified));
    if (build) {
      advice.unshift(`building: ${build.info.phase}`);
    }
    const failed = probeRunStatus.get(qualified);
    if (failed && failed !== 'ok' && !failed.startsWith('partial')) {
      advice.unshift(`probe: ${failed}`);
    }
    rows.push({
      kind: 'index',
      schema: labels.schemaname,
      table: labels.relname,
      index: labels.indexrelname,
      method: info.amname ?? '',
      key: info.expression ?? info.column ?? '',
      opclass: info.opclass ?? '',
      operator: info.operator ?? '',
      dims: facts.dims,
      m: last('m'),
      ef_construction: last('ef_construction'),
      lists: facts.lists,
      size: facts.sizeBytes,
      cache_share: facts.sharedBuffersBytes ? facts.sizeBytes / facts.sharedBuffersBytes : null,
      lfc_share: facts.lfcBytes ? facts.sizeBytes / facts.lfcBytes : null,
      rows: facts.tableRows,
      dead: facts.deadTuples,
      recall: dflt?.recall ?? null,
      recall_lower: dflt?.lower ?? null,
      recall_upper: dflt?.upper ?? null,
      p95: dflt?.p95 ?? null,
      best: advice.best,
      queries: queries.filter((q) => q.info.expected_index === labels.indexrelname).length,
      scans: scans.get(key) ?? null,
      advice: advice.join(' | ') || 'ok',
    });
  }
  return rows;
}

/** Builds in progress: a CREATE INDEX that has not committed is not in pg_index for anyone else yet. */
function buildRows(ctx: EngineContext, builds: Builds, indexes: IndexTableRow[]): IndexTableRow[] {
  const values = loadSeries(ctx, 'vector', ['blocks_done', 'blocks_total', 'tuples_done', 'tuples_total'], {
    object: 'build',
  });
  return builds
    .filter((b) => !indexes.some((r) => r.index === b.info.indexrelname))
    .map((b) => {
      const done = latestOf(values, 'blocks_done', b.labels);
      const total = latestOf(values, 'blocks_total', b.labels);
      return {
        ...noIndexValues,
        kind: 'build in progress',
        schema: '',
        table: String(b.info.relname ?? ''),
        index: String(b.info.indexrelname ?? ''),
        method: String(b.info.method ?? ''),
        key: '',
        operator: '',
        dims: null,
        queries: 0,
        advice: `building (pid ${b.labels.pid}): ${String(b.info.phase)}${total ? `, ${Math.round((100 * (done ?? 0)) / total)}% of ${total} blocks` : ''}; a NOTICE "hnsw graph no longer fits into maintenance_work_mem" in the log means the slow path: raise maintenance_work_mem`,
      };
    });
}

/** the opclass an index for this distance operator needs */
const opclassFor = (operator: unknown) =>
  operator === '<=>' ? 'vector_cosine_ops' : operator === '<#>' ? 'vector_ip_ops' : 'vector_l2_ops';

/** Vector columns without any ANN index (the ones vector queries use first). */
function unindexedColumnRows(ctx: EngineContext, queries: QueryEntity[]): IndexTableRow[] {
  const filter: LabelFilter = { datname: ctx.filter.datname, relname: ctx.filter.relname };
  const cols = currentObjects(ctx, 'column', 'ann_indexes', filter);
  const values = loadSeries(ctx, 'vector', ['ann_indexes', 'dims'], { ...filter, object: 'column' });
  const rows: IndexTableRow[] = [];
  for (const labels of cols.present.values()) {
    if (latestOf(values, 'ann_indexes', labels) !== 0) {
      continue;
    }
    const users = queries.filter((q) => q.info.table === labels.relname && q.info.column === labels.column);
    rows.push({
      ...noIndexValues,
      kind: 'column without ANN index',
      schema: labels.schemaname,
      table: labels.relname,
      index: '',
      key: labels.column,
      operator: [...new Set(users.map((u) => u.info.operator))].join(' '),
      dims: latestOf(values, 'dims', labels),
      queries: users.length,
      advice: users.length
        ? `queried by ${users.length} vector quer${users.length === 1 ? 'y' : 'ies'} without an ANN index: every call scans and sorts the table; CREATE INDEX CONCURRENTLY ON ${labels.schemaname}.${labels.relname} USING hnsw (${labels.column} ${opclassFor(users[0].info.operator)})`
        : 'no ANN index (no vector query on it seen in pg_stat_statements)',
    });
  }
  return rows;
}

function indexesTableFrame(ctx: EngineContext, rows: IndexTableRow[], targetRecall: number, version: unknown): Frame {
  const k = ctx.query.k ?? ctx.metric.defaults?.k ?? 10;
  const f = columnsOf(rows);
  return tableFrame(
    ctx,
    [
      f('kind', 'string', (r) => r.kind),
      f('schema', 'string', (r) => r.schema),
      f('table', 'string', (r) => r.table),
      f('index', 'string', (r) => r.index, { displayName: 'Index' }),
      f('method', 'string', (r) => r.method, { displayName: 'Method' }),
      f('key', 'string', (r) => r.key, { displayName: 'Column / expression' }),
      f('opclass', 'string', (r) => r.opclass, { displayName: 'Opclass' }),
      f('operator', 'string', (r) => r.operator, { displayName: 'Operator' }),
      f('dims', 'number', (r) => r.dims, { displayName: 'Dimensions' }),
      f('m', 'number', (r) => r.m),
      f('ef_construction', 'number', (r) => r.ef_construction),
      f('lists', 'number', (r) => r.lists),
      f('size_bytes', 'number', (r) => r.size, { displayName: 'Index size', unit: 'bytes' }),
      f('shared_buffers_share', 'number', (r) => r.cache_share, {
        displayName: 'Size / shared_buffers',
        unit: 'percentunit',
      }),
      f('lfc_share', 'number', (r) => r.lfc_share, { displayName: 'Size / Neon LFC', unit: 'percentunit' }),
      f('rows', 'number', (r) => r.rows, { displayName: 'Table rows', unit: 'short' }),
      f('dead_tuples', 'number', (r) => r.dead, { displayName: 'Dead tuples', unit: 'short' }),
      f('recall', 'number', (r) => r.recall, { displayName: `Recall@${k} (default)`, unit: 'percentunit' }),
      f('recall_lower', 'number', (r) => r.recall_lower ?? null, {
        displayName: 'Recall 99 % lower',
        unit: 'percentunit',
      }),
      f('recall_upper', 'number', (r) => r.recall_upper ?? null, {
        displayName: 'Recall 99 % upper',
        unit: 'percentunit',
      }),
      f('p95_ms', 'number', (r) => r.p95, { displayName: 'Probe p95 (default)', unit: 'ms' }),
      f('best_ef_search', 'number', (r) => r.best, {
        displayName: `Advised ef_search/probes (recall interval ≥ ${targetRecall})`,
      }),
      f('vector_queries', 'number', (r) => r.queries, { displayName: 'Vector queries' }),
      f('idx_scan', 'number', (r) => r.scans, { displayName: 'Index scans (range)', unit: 'short' }),
      f('advice', 'string', (r) => r.advice, { displayName: 'Advice' }),
    ],
    `HNSW / IVFFlat indexes and unindexed vector columns from the latest discovery; recall and latency from the latest probe run (pgvector ${String(version ?? '?')})`
  );
}

/** vector_indexes: the ANN indexes, builds in progress and unindexed vector columns, with advice. */
export function vectorIndexes(ctx: EngineContext): Frame[] {
  const server = vectorServer(ctx);
  const builds = currentBuilds(ctx);
  const probes = latestProbes(ctx);
  const queries = vectorQueries({ ...ctx, filter: {} } as EngineContext);
  const indexes = indexRows(ctx, server, builds, queries, probes);
  const rows = [
    ...indexes,
    ...buildRows(ctx, builds, indexes),
    // an index filter asks about one index: no column rows
    ...(ctx.filter.indexrelname ? [] : unindexedColumnRows(ctx, queries)),
  ];
  return [indexesTableFrame(ctx, rows, probes.targetRecall, server.info.version)];
}

export function vectorQueriesTable(ctx: EngineContext): Frame[] {
  const vq = vectorQueries(ctx);
  const fields = ['calls', 'total_exec_time', 'rows'];
  const totals = rangeDeltas(loadSeries(ctx, 'statements', fields), fields);
  const agg = new Map<string, Record<string, number>>();
  for (const e of totals.values()) {
    const k = `${e.labels.datname}\u0000${e.labels.queryid}`;
    const a = agg.get(k) ?? { calls: 0, total_exec_time: 0, rows: 0 };
    for (const f of fields) {
      a[f] += e.totals[f];
    }
    agg.set(k, a);
  }
  const server = ctx.store.entities(ctx.query.target, 'vector', { object: 'server' })[0]?.info ?? {};
  const kDefault = ctx.query.k ?? 10;
  const rows = vq
    .map((q) => {
      const a = agg.get(`${q.datname}\u0000${q.queryid}`) ?? { calls: 0, total_exec_time: 0, rows: 0 };
      const rowsPerCall = a.calls > 0 ? a.rows / a.calls : null;
      return {
        q,
        a,
        rowsPerCall,
        advice: queryAdvice(q.info, rowsPerCall, kDefault, (server.iterative_scan as string | null) ?? null),
      };
    })
    .sort((x, y) => y.a.total_exec_time - x.a.total_exec_time || x.q.queryid.localeCompare(y.q.queryid))
    .slice(0, ctx.query.topN ?? ctx.metric.defaults?.topN ?? 50);
  const texts = ctx.store.statementTexts(
    ctx.query.target,
    rows.map((r) => r.q.queryid)
  );
  const col = columnsOf(rows);
  return [
    tableFrame(
      ctx,
      [
        col('queryid', 'string', (r) => r.q.queryid, { displayName: 'Query ID' }),
        col('query', 'string', (r) => texts.get(r.q.queryid) ?? '', { displayName: 'Query' }),
        col('database', 'string', (r) => r.q.datname),
        col('operator', 'string', (r) => r.q.info.operator, { displayName: 'Operator' }),
        col('table', 'string', (r) => r.q.info.table ?? ''),
        col('key', 'string', (r) => r.q.info.expression ?? r.q.info.column ?? '', {
          displayName: 'Column / expression',
        }),
        col('k', 'string', (r) => (r.q.info.limit === null ? 'none' : String(r.q.info.limit)), {
          displayName: 'k (LIMIT)',
        }),
        col('filters', 'string', (r) => (r.q.info.filterColumns ?? []).join(', '), { displayName: 'Filters' }),
        col('expected_index', 'string', (r) => r.q.info.expected_index ?? '', { displayName: 'Index it should use' }),
        col('explain', 'string', (r) => r.q.info.explain ?? '', { displayName: 'EXPLAIN' }),
        col('calls', 'number', (r) => r.a.calls, { displayName: 'Calls', unit: 'short' }),
        col('mean_ms', 'number', (r) => (r.a.calls > 0 ? r.a.total_exec_time / r.a.calls : null), {
          displayName: 'Mean time',
          unit: 'ms',
        }),
        col('rows_per_call', 'number', (r) => r.rowsPerCall, { displayName: 'Rows per call' }),
        col('advice', 'string', (r) => r.advice.join(' | ') || 'ok', { displayName: 'Advice' }),
      ],
      'vector queries classified with the Postgres parser; calls, time and rows are pg_stat_statements deltas inside the range'
    ),
  ];
}
