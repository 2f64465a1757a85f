/**
 * The engine: one validated query + a time range → frames, computed from stored samples.
 */
import { findMetric, filterLabels, type MetricDef } from '../../model/catalog';
import type { DataResponse, Frame } from '../../model/frames';
import type { Store } from '../store/store';
import type { LabelFilter } from '../store/types';
import type { EngineParts } from '../feature';
import type { EngineContext, ResolvedQuery } from './context';
import { evaluateGeneric } from './generic';
import { hasNoData, notify, withNotices, type NoticeInput } from './notices';
import { grid, stepFor } from './steps';

export interface EngineRequest {
  query: ResolvedQuery;
  range: { from: number; to: number };
  maxDataPoints?: number;
  intervalMs?: number;
  targetIntervalMs: number;
  /** notices known before computing (target unreachable, collector failing): every frame carries them */
  notices?: NoticeInput[];
}

/** the compute a query uses: a variant when its filter is set */
export function pickCompute(metric: MetricDef, q: Partial<ResolvedQuery>) {
  for (const v of metric.variants ?? []) {
    if (q[v.when] !== undefined && q[v.when] !== '') {
      return v.compute;
    }
  }
  return metric.compute;
}

/** Computes with exactly the handlers and checks it is given (Assembly of the features). */
export class Engine {
  constructor(
    private readonly store: Store,
    private readonly parts: EngineParts
  ) {}

  run(req: EngineRequest): DataResponse {
    const metric = findMetric(req.query.metric);
    if (!metric) {
      return {
        frames: [],
        error: `unknown metric "${req.query.metric}": see GET /api/v1/catalog for the list`,
        status: 400,
        errorSource: 'plugin',
      };
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
    const step = stepFor(req.range, {
      maxDataPoints: req.maxDataPoints,
      intervalMs: req.intervalMs,
      minStepMs: req.targetIntervalMs,
    });
    const ctx: EngineContext = {
      store: this.store,
      metric,
      query: req.query,
      range: req.range,
      grid: grid(req.range, step),
      targetIntervalMs: req.targetIntervalMs,
      filter,
      notices,
    };
    for (const check of this.parts.checks) {
      const error = check(ctx);
      if (error) {
        return { frames: [], error, status: 403, errorSource: 'downstream' };
      }
    }
    const compute = pickCompute(metric, req.query);
    let frames: Frame[];
    if (compute.op === 'custom') {
      const h = this.parts.handlers.get(compute.handler);
      if (!h) {
        return {
          frames: [],
          error: `metric ${metric.id} is not available in this build (no handler ${compute.handler})`,
          status: 501,
          errorSource: 'plugin',
        };
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
      const examples = [
        ...new Set(
          known.map((e) =>
            set
              .map(([k]) => e.labels[k])
              .filter(Boolean)
              .join('.')
          )
        ),
      ]
        .filter(Boolean)
        .slice(0, 5);
      notify(
        ctx,
        'warning',
        `no ${what} in target ${ctx.query.target} (${collector} samples ${known.length} rows${examples.length ? `, e.g. ${examples.join(', ')}` : ''}): check the spelling, or the object was dropped`
      );
    }
  }
}
