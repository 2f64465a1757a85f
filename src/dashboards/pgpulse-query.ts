/**
 * pgpulse queries as the foundation SDK sees them, checked against the metric catalog when they
 * are built: a dashboard or alert rule can only ask for a catalogued metric with options it takes.
 */
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import { findMetric, type MetricDef, type OptionKey } from '../model/catalog';
import type { OrderBy, QueryOptions } from '../model/query';

export type PanelQueryOptions = Partial<Pick<QueryOptions, OptionKey>> & { target?: string };

export interface PgpulseDataquery extends PanelQueryOptions {
  refId?: string;
  hide?: boolean;
  datasource?: { type?: string; uid?: string };
  metric: string;
  _implementsDataqueryVariant(): void;
}

/** Option keys a query may carry besides the metric's own options. */
const ALWAYS_ALLOWED = new Set(['refId', 'hide', 'datasource', 'metric', 'target']);

/** Throws an error naming the field when `q` asks for something the catalog does not offer. */
export function assertQueryMatchesCatalog(q: Record<string, unknown>, where: string): MetricDef {
  const metricId = q.metric;
  if (typeof metricId !== 'string') {
    throw new Error(`${where}: metric is required (a catalog id)`);
  }
  const def = findMetric(metricId);
  if (!def) {
    throw new Error(`${where}: metric "${metricId}" is not in src/model/catalog`);
  }
  for (const [key, value] of Object.entries(q)) {
    if (value === undefined || ALWAYS_ALLOWED.has(key) || key.startsWith('_')) {
      continue;
    }
    if (!(def.options as string[]).includes(key)) {
      throw new Error(
        `${where}: metric "${metricId}" does not take option "${key}" (it takes: ${def.options.join(', ') || 'none'})`
      );
    }
  }
  if (q.orderBy !== undefined && !(def.orderBy ?? []).includes(q.orderBy as OrderBy)) {
    throw new Error(
      `${where}: metric "${metricId}" cannot be ordered by "${String(q.orderBy)}" (allowed: ${(def.orderBy ?? []).join(', ')})`
    );
  }
  return def;
}

export class PgpulseQueryBuilder implements Builder<Dataquery> {
  private readonly internal: PgpulseDataquery;

  constructor(metric: string, options: PanelQueryOptions = {}) {
    // Key order is fixed (metric first) so the generated JSON diffs stay readable.
    this.internal = { metric, ...stripUndefined(options), _implementsDataqueryVariant() {} };
    assertQueryMatchesCatalog(this.internal as unknown as Record<string, unknown>, `query ${metric}`);
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  datasource(ds: { type: string; uid: string }): this {
    this.internal.datasource = ds;
    return this;
  }

  build(): PgpulseDataquery {
    return this.internal;
  }
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
