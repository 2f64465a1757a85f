import { z } from 'zod';

import { optionShape } from './options';

/**
 * The pgpulse query model: what a panel, an alert rule, the HTTP API and the CLI send.
 * Grafana stores it verbatim in dashboards, so every change needs a migration (see migrateQuery).
 */
export const QUERY_SCHEMA_VERSION = 1;

export { orderByValues, type OrderBy } from './options';

/** The query: its metric, every declared option (model/options.ts), and the version of its shape. */
export const queryOptionsSchema = z
  .object({
    metric: z
      .string({ required_error: 'metric is required: pick one from GET /api/v1/catalog' })
      .min(1, 'metric is required'),
    ...optionShape,
    schemaVersion: z.number().int().optional(),
  })
  // Grafana adds its own keys (datasource, hide, key, queryType, intervalMs …): ignore, never fail on them.
  .passthrough();

export type QueryOptions = z.infer<typeof queryOptionsSchema>;

/** Keys Grafana (or the HTTP API's envelope) puts on every query: never pgpulse options. */
const HOST_KEYS = new Set([
  'refId',
  'datasource',
  'datasourceId',
  'hide',
  'key',
  'queryType',
  'intervalMs',
  'maxDataPoints',
  'interval',
  'utcOffsetSec',
  'timezone',
  'requestId',
  'editorMode',
  'range',
  'timeRange',
  'format',
]);

/**
 * Keys of a raw query that are neither pgpulse options nor Grafana's own, each with the option it
 * most likely meant (`topn` → `topN`): a misspelled option is otherwise ignored in silence.
 */
export function unknownQueryKeys(raw: Record<string, unknown>): Array<{ key: string; suggestion?: string }> {
  const known = Object.keys(queryOptionsSchema.shape);
  const norm = (k: string) => k.toLowerCase().replace(/[_-]/g, '');
  return Object.keys(raw)
    .filter((k) => !known.includes(k) && !HOST_KEYS.has(k))
    .map((key) => ({ key: key.slice(0, 60), suggestion: known.find((k) => norm(k) === norm(key)) }));
}

export interface PgpulseQuery extends QueryOptions {
  refId: string;
}

export interface TimeRangeMs {
  from: number;
  to: number;
}

/** Old dashboards keep working: translate earlier shapes of the query model to the current one. */
export function migrateQuery<T extends Record<string, unknown>>(q: T): T & { schemaVersion: number } {
  const out: Record<string, unknown> = { ...q };
  // v0 (pre-release) called the metric `metricId` and the row limit `limit`.
  if (out.metric === undefined && typeof out.metricId === 'string') {
    out.metric = out.metricId;
    delete out.metricId;
  }
  if (out.topN === undefined && typeof out.limit === 'number') {
    out.topN = out.limit;
    delete out.limit;
  }
  out.schemaVersion = QUERY_SCHEMA_VERSION;
  return out as T & { schemaVersion: number };
}

/** Turn zod issues into one sentence that names the field and the fix. */
export function describeQueryError(err: z.ZodError): string {
  return err.issues
    .map((i) => {
      const path = i.path.join('.') || 'query';
      if (i.code === 'invalid_type') {
        return `${path}: expected ${i.expected}, got ${i.received}`;
      }
      if (i.code === 'invalid_enum_value') {
        return `${path}: must be one of ${i.options.join(', ')}`;
      }
      return `${path}: ${i.message}`;
    })
    .join('; ');
}
