/**
 * How the catalog is exposed on /metrics in Prometheus' own terms, as data: the naming rules
 * that turn a collector column into a metric family name with its unit in base units, which
 * collectors are cut to their top rows (cardinality), and which catalog metrics become families
 * of their own. src/sidecar/prom applies them; nothing there names a single metric.
 */
import type { MetricDef } from './types';

/** Every family pgpulse derives from the catalog starts with this. */
export const PROM_PREFIX = 'pgpulse_';

export interface PromUnitRule {
  /** matched against the collector column name */
  match: RegExp;
  /** replacement for the matched part (the family name's unit suffix) */
  replace: string;
  /** multiply the stored value by this to get base units (ms → s) */
  scale: number;
}

/**
 * Column name → family name and unit, first match wins. PostgreSQL reports times in
 * milliseconds and pgpulse stores epochs in ms; Prometheus wants seconds.
 */
export const promUnitRules: PromUnitRule[] = [
  // epochs: last_vacuum_ms, postmaster_start_ms, server_now_ms, own_backend_start_ms …
  { match: /(^|_)(last|start|now|since|reset)(_.*)?_ms$/, replace: '$1$2$3_timestamp_seconds', scale: 1 / 1000 },
  // durations in ms: active_time_user_dbs_ms
  { match: /_ms$/, replace: '_seconds', scale: 1 / 1000 },
  // PostgreSQL's *_time columns are milliseconds (total_exec_time, blk_read_time, checkpoint_write_time)
  { match: /_time$/, replace: '_time_seconds', scale: 1 / 1000 },
  // seconds already, abbreviated: longest_query_s
  { match: /_s$/, replace: '_seconds', scale: 1 },
];

/** Grafana unit of a catalog metric → family name suffix and scale to base units. */
export const promMetricUnits: Record<string, { suffix: string; scale: number }> = {
  percentunit: { suffix: '_ratio', scale: 1 },
  ms: { suffix: '_seconds', scale: 1 / 1000 },
  s: { suffix: '_seconds', scale: 1 },
  bytes: { suffix: '_bytes', scale: 1 },
  decbytes: { suffix: '_bytes', scale: 1 },
};

/** Which configured limit caps a collector's rows on /metrics (see SidecarConfig.metrics). */
export type PromLimit = 'topStatements' | 'topRelations';

/**
 * Collectors with one row per statement or relation are cut to their top rows so a scrape's
 * cardinality is bounded whatever the database holds. The ranking column is cumulative, so the
 * exposed set changes slowly (series churn costs Prometheus more than a slightly stale ranking).
 */
export const promRankedCollectors: Record<string, { by: string; limit: PromLimit; what: string }> = {
  statements: {
    by: 'total_exec_time',
    limit: 'topStatements',
    what: 'statements by total execution time since the statistics were reset',
  },
  tables: { by: 'size_bytes', limit: 'topRelations', what: 'tables by total size' },
  indexes: { by: 'size_bytes', limit: 'topRelations', what: 'indexes by size' },
};

export const PROM_DEFAULT_LIMITS: Record<PromLimit, number> = { topStatements: 100, topRelations: 1000 };

/**
 * Catalog metrics that become families of their own: interval ratios, which cannot be rebuilt
 * from one scrape's values the way rates and sums can (rate(), sum by () in PromQL over the raw
 * counter and gauge families). Series metrics only; variants (per table, per queryid) are not.
 */
export function promDerivedMetric(m: MetricDef): boolean {
  return m.kind === 'series' && m.compute.op === 'ratio';
}
