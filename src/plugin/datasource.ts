/**
 * The pgpulse datasource. Every query — panels, Explore, alert rules — runs server-side through
 * the sidecar (DataSourceWithBackend posts /api/ds/query); the frontend only interpolates
 * template variables, migrates stored queries and drops queries that cannot run.
 */
import { CoreApp, type DataSourceInstanceSettings, type MetricFindValue, type ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';

import { filterOptionKeys, findMetric } from '../model/catalog';
import { templatedOptionKeys } from '../model/options';
import { migrateQuery, QUERY_SCHEMA_VERSION } from '../model/query';
import { hasErrors, validateQuery } from './validation';
import { pgpulseAnnotations } from './annotations';
import { resourceParents, resourcePath, toPickOptions } from './resources';
import type { ListResource, PgpulseOptions, PgpulseQuery, PgpulseVariableQuery, PickOption } from './types';
import { PgpulseVariableSupport, toVariableQuery } from './variables';

/** The options a template variable may fill (declared in model/options.ts). */
export const templatedKeys = templatedOptionKeys;

export const DEFAULT_METRIC = 'cache_hit_ratio';

export class DataSource extends DataSourceWithBackend<PgpulseQuery, PgpulseOptions> {
  /** the datasource's own target (jsonData.target): the backend uses it when a query names none */
  readonly defaultTarget?: string;

  constructor(instanceSettings: DataSourceInstanceSettings<PgpulseOptions>) {
    super(instanceSettings);
    this.defaultTarget = instanceSettings.jsonData?.target || undefined;
    this.annotations = pgpulseAnnotations;
    this.variables = new PgpulseVariableSupport(this);
  }

  override getDefaultQuery(_app: CoreApp): Partial<PgpulseQuery> {
    return { metric: DEFAULT_METRIC, schemaVersion: QUERY_SCHEMA_VERSION };
  }

  /**
   * Grafana's query runner calls this: hidden queries, queries without a metric and queries the
   * editor marks as invalid (explained there) never reach the backend.
   */
  override filterQuery(query: PgpulseQuery): boolean {
    if (query.hide) {
      return false;
    }
    const q = migrateQuery(query);
    return typeof q.metric === 'string' && q.metric.trim() !== '' && !hasErrors(validateQuery(q));
  }

  override applyTemplateVariables(query: PgpulseQuery, scopedVars: ScopedVars): PgpulseQuery {
    const srv = getTemplateSrv();
    const out: PgpulseQuery = migrateQuery(query);
    for (const key of templatedKeys) {
      const v = out[key];
      if (typeof v === 'string') {
        (out as Record<string, unknown>)[key] = srv.replace(v, scopedVars);
      }
    }
    if (typeof out.metric === 'string') {
      out.metric = srv.replace(out.metric, scopedVars);
    }
    return out;
  }

  /** One line per query in collapsed rows and the query inspector. */
  override getQueryDisplayText(query: PgpulseQuery): string {
    const m = findMetric(query.metric);
    const parts = [m ? m.title : query.metric];
    for (const key of ['target', ...filterOptionKeys] as const) {
      if (query[key] !== undefined && query[key] !== '') {
        parts.push(`${key}=${query[key]}`);
      }
    }
    return parts.join(' ');
  }

  /**
   * A list from the backend (targets, databases, schemas, tables, indexes, queryids, metrics),
   * narrowed by the filters it depends on, after template variables are replaced.
   */
  async listOptions(
    resource: ListResource,
    filters: Partial<Record<'target' | 'database' | 'schema' | 'table', string>>,
    scopedVars?: ScopedVars
  ): Promise<PickOption[]> {
    const params: Record<string, string> = {};
    const srv = getTemplateSrv();
    for (const key of resourceParents[resource]) {
      const raw = filters[key] ?? (key === 'target' ? this.defaultTarget : undefined);
      if (raw) {
        params[key] = srv.replace(raw, scopedVars);
      }
    }
    const body = await this.getResource(resourcePath(resource), params);
    return toPickOptions(body, resource);
  }

  /** Legacy variable API, still used by some Grafana features (ad hoc, old dashboards). */
  override async metricFindQuery(
    query: PgpulseVariableQuery | string,
    options?: { scopedVars?: ScopedVars }
  ): Promise<MetricFindValue[]> {
    const vq = toVariableQuery(query);
    const opts = await this.listOptions(vq.resource, vq, options?.scopedVars);
    return opts.map((o) => ({ text: o.label, value: o.value }));
  }
}
