/**
 * The engine: one validated query + a time range → frames, computed from stored samples.
 */
import { findMetric, filterLabels, type MetricDef } from '../../model/catalog';
import type { DataResponse, Frame } from '../../model/frames';
import type { Store } from '../store/store';
import type { LabelFilter } from '../store/types';
import type { EngineContext, Handler, ResolvedQuery } from './context';
import { evaluateGeneric } from './generic';
import { connectionUtilization, events, samplerStaleness } from './handlers/health';
import { indexUsage, tableStats } from './handlers/relations';
import { slowStatements, topQueries } from './handlers/statements';
import { replicationStandbys } from './handlers/replication';
import { replicationSlots } from './handlers/vitals';
import { ioTime, oldestSessions, sequences, sequenceUsedRatio, vacuumProgress } from './handlers/vital-signs';
import { hasNoData, notify, withNotices, type NoticeInput } from './notices';
import { grid, stepFor } from './steps';

const handlers = new Map<string, Handler>([
  ['slow_statements', slowStatements],
  ['top_queries', topQueries],
  ['index_usage', indexUsage],
  ['table_stats', tableStats],
  ['connection_utilization', connectionUtilization],
  ['sampler_staleness', samplerStaleness],
  ['events', events],
  ['replication_slots', replicationSlots],
  ['io_time', ioTime],
  ['vacuum_progress', vacuumProgress],
  ['oldest_sessions', oldestSessions],
  ['sequence_used_ratio', sequenceUsedRatio],
  ['sequences', sequences],
  ['replication_standbys', replicationStandbys],
]);

/** whether a custom compute's handler is registered (validateCatalog) */
export function hasHandler(id: string): boolean {
  return handlers.has(id);
}

/** Feature modules (vector, advisors, neon) add their computations here. */
export function registerHandler(id: string, h: Handler): void {
  handlers.set(id, h);
}

export interface EngineRequest {
  query: ResolvedQuery;
  range: { from: number; to: number };
  maxDataPoints?: number;
  intervalMs?: number;
  targetIntervalMs: number;
  fromAlert?: boolean;
  /** notices known before computing (target unreachable, collector failing): every frame carries them */
  notices?: NoticeInput[];
}

/**
 * Checks feature modules run before a metric is computed: they may add frame notices (a partial
 * answer, and why) or return an error that replaces the answer (nothing can be computed).
 */
export const metricChecks: Array<(ctx: EngineContext) => string | undefined> = [];

/** the compute a query uses: a variant when its filter is set */
export function pickCompute(metric: MetricDef, q: Partial<ResolvedQuery>) {
  for (const v of metric.variants ?? []) {
    if (q[v.when] !== undefined && q[v.when] !== '') {
      return v.compute;
    }
  }
  return metric.compute;
}

export class Engine {
  constructor(private readonly store: Store) {}

  run(req: EngineRequest): DataResponse {
    const metric = findMetric(req.query.metric);
    if (!metric) {
      return { frames: [], error: `unknown metric "${req.query.metric}": see GET /api/v1/catalog for the list`, status: 400, errorSource: 'plugin' };
    }
    const notices: NoticeInput[] = [...(req.notices ?? [])];
    const filter: LabelFilter = {};
    for (const [opt, label] of Object.entries(filterLabels) as Array<[keyof typeof filterLabels, string]>) {
      const v = req.query[opt];
      if (v === undefined || v === '') {
        continue;
      }
      if (!metric.options.includes(opt)) {
        notify({ notices }, 'warning', `${opt} is ignored: ${metric.id} does not take it`);
        continue;
      }
      filter[label] = String(v);
    }
    const step = stepFor(req.range, { maxDataPoints: req.maxDataPoints, intervalMs: req.intervalMs, minStepMs: req.targetIntervalMs });
    const ctx: EngineContext = {
      store: this.store,
      metric,
      query: req.query,
      range: req.range,
      grid: grid(req.range, step),
      targetIntervalMs: req.targetIntervalMs,
      filter,
      fromAlert: req.fromAlert ?? false,
      notices,
    };
    for (const check of metricChecks) {
      const error = check(ctx);
      if (error) {
        return { frames: [], error, status: 403, errorSource: 'downstream' };
      }
    }
    const compute = pickCompute(metric, req.query);
    let frames: Frame[];
    if (compute.op === 'custom') {
      const h = handlers.get(compute.handler);
      if (!h) {
        return { frames: [], error: `metric ${metric.id} is not available in this build (no handler ${compute.handler})`, status: 501, errorSource: 'plugin' };
      }
      frames = h(ctx);
    } else {
      frames = evaluateGeneric(ctx, compute);
    }
    this.explainEmptyFilter(ctx, compute.collector, frames);
    return { frames: withNotices(frames, notices, req.query.refId) };
  }

  /** A filter naming an object the collector never saw is a typo or a dropped object, not "no rows". */
  private explainEmptyFilter(ctx: EngineContext, collector: string, frames: Frame[]): void {
    const set = Object.entries(ctx.filter).filter(([, v]) => v !== undefined);
    if (set.length === 0 || !hasNoData(frames)) {
      return;
    }
    const known = this.store.entities(ctx.query.target, collector);
    if (known.length === 0) {
      return; // nothing sampled yet: the service explains why
    }
    if (!known.some((e) => set.every(([k, v]) => e.labels[k] === undefined || e.labels[k] === v))) {
      const what = set.map(([k, v]) => `${k} = "${v}"`).join(', ');
      const examples = [...new Set(known.map((e) => set.map(([k]) => e.labels[k]).filter(Boolean).join('.')))].filter(Boolean).slice(0, 5);
      notify(ctx, 'warning', `no ${what} in target ${ctx.query.target} (${collector} samples ${known.length} rows${examples.length ? `, e.g. ${examples.join(', ')}` : ''}): check the spelling, or the object was dropped`);
    }
  }
}
