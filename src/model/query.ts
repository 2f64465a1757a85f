import { z } from 'zod';

/**
 * The pgpulse query model: what a panel, an alert rule, the HTTP API and the CLI send.
 * Grafana stores it verbatim in dashboards, so every change needs a migration (see migrateQuery).
 */
export const QUERY_SCHEMA_VERSION = 1;

// Identifiers are matched against catalogued names, never spliced into SQL; the limits only keep
// hostile input from bloating logs and error messages.
const ident = z.string().trim().min(1, 'must not be empty').max(200, 'is longer than 200 characters');

export const orderByValues = [
  'total_time',
  'mean_time',
  'calls',
  'rows',
  'temp',
  'hit_ratio',
  'scans',
  'size',
  'dead_tuples',
  'seq_scans',
  'xid_age',
  'name',
] as const;
export type OrderBy = (typeof orderByValues)[number];

export const queryOptionsSchema = z
  .object({
    metric: z
      .string({ required_error: 'metric is required: pick one from GET /api/v1/catalog' })
      .min(1, 'metric is required'),
    target: ident.optional(),
    database: ident.optional(),
    schema: ident.optional(),
    table: ident.optional(),
    index: ident.optional(),
    queryid: z
      .union([z.string(), z.number()])
      .transform((v) => String(v).trim())
      .refine((v) => /^-?\d{1,20}$/.test(v), 'queryid must be an integer (as pg_stat_statements shows it)')
      .optional(),
    topN: z
      .number()
      .int('topN must be a whole number')
      .min(1, 'topN must be at least 1')
      .max(1000, 'topN must be at most 1000')
      .optional(),
    orderBy: z.enum(orderByValues).optional(),
    /** slow threshold: milliseconds for statements, seconds for running queries (see the metric's unit) */
    threshold: z
      .number()
      .finite()
      .min(0, 'threshold must not be negative')
      .max(86_400_000, 'threshold is absurdly large')
      .optional(),
    minCalls: z.number().int().min(0).max(1_000_000_000).optional(),
    legend: z.string().max(300).optional(),
    /** vector probes: k of recall@k, and the ef_search (HNSW) or probes (IVFFlat) series to show */
    k: z.number().int().min(1).max(1000).optional(),
    efSearch: z.number().int().min(1).max(1000).optional(),
    /** vector probe latency: one quantile instead of all three (alert rules watch exactly p95) */
    quantile: z.enum(['p50', 'p95', 'p99']).optional(),
    /** database load: only sessions waiting on this wait event ("Lock/transactionid"), or this wait event type ("Lock"); "CPU" = no wait event */
    waitEvent: z
      .string()
      .trim()
      .regex(
        /^[A-Za-z0-9_:.-]{1,64}(\/[A-Za-z0-9_:.-]{1,64})?$/,
        'waitEvent must be a wait event type or type/event as pg_stat_activity shows them, e.g. Lock/transactionid or IO'
      )
      .optional(),
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
