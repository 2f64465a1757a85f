/**
 * Types of the metric catalog (see index.ts).
 */
import type { FilterOptionKey, OptionKey, OrderBy } from '../options';

export type MetricKind = 'series' | 'instant' | 'table';
export type Area =
  | 'Health'
  | 'Queries'
  | 'Load'
  | 'Indexes & tables'
  | 'Connections & locks'
  | 'Vitals'
  | 'Vector search'
  | 'Neon'
  | 'Advice';
export const areas: Area[] = [
  'Health',
  'Queries',
  'Load',
  'Indexes & tables',
  'Connections & locks',
  'Vitals',
  'Vector search',
  'Neon',
  'Advice',
];

// The option vocabulary is declared once in model/options.ts; the catalog names options by it.
export { filterLabels, filterOptionKeys, optionKeys, type FilterOptionKey, type OptionKey } from '../options';

/** Collectors, one per pg view family (their SQL lives in collectors.ts and the area files; code-driven ones in their sidecar feature). */
export type CollectorId =
  | 'server'
  | 'database'
  | 'statements'
  | 'tables'
  | 'indexes'
  | 'activity'
  | 'locks'
  | 'bgwriter'
  | 'settings'
  | 'wraparound'
  | 'slots'
  | 'replication'
  | 'replica'
  | 'wal'
  | 'wal_lsn'
  /** vital signs (vital-signs-collectors.ts) */
  | 'io'
  | 'vacuum_progress'
  | 'capacity'
  | 'clients'
  | 'xact_ages'
  | 'oldest_sessions'
  | 'sequences'
  | 'bloat'
  | 'vector'
  | 'vector_probe'
  | 'neon'
  | 'neon_activity'
  /** the 1 s activity sampler's per-interval buckets (src/sidecar/activity): sessions by wait event, statement, client */
  | 'load'
  /** the same buckets' ticks, skipped ticks and the vCPU reference */
  | 'load_ticks'
  /** answers of the Neon API stored by the gate (no database collector: never unavailable) */
  | 'neon_api';

/**
 * How the engine turns stored samples into the answer. Labels name collector key columns;
 * query filters map onto them through filterLabels.
 */
export type Compute =
  /** per-second rate of cumulative counters, one series per label set × field */
  | { op: 'rate'; collector: CollectorId; fields: Array<{ field: string; name: string }>; by: string[] }
  /** count per step of cumulative counters (events in the step) */
  | { op: 'increase'; collector: CollectorId; fields: Array<{ field: string; name: string }>; by: string[] }
  /** Σ Δnum / Σ Δden over each step (an interval ratio, never the lifetime one) */
  | { op: 'ratio'; collector: CollectorId; num: string[]; den: string[]; by: string[]; name: string }
  /** point-in-time values aggregated over the rows that match the filters, per step */
  | {
      op: 'gauge';
      collector: CollectorId;
      fields: Array<{ field: string; name: string }>;
      by: string[];
      rowAgg: 'sum' | 'max';
      stepAgg: 'last' | 'max' | 'avg';
      /** a NULL value: zero (default: no backends is 0 backends) or a gap (a primary has no replica lag, not a zero one) */
      missing?: 'zero' | 'gap';
    }
  /** computed in code: the handler id names a function registered with the engine */
  | { op: 'custom'; handler: string; collector: CollectorId };

export interface MetricDef {
  id: string;
  title: string;
  /** what the number means and over which window: shown in editors and panel descriptions */
  description: string;
  /** Grafana unit id */
  unit: string;
  kind: MetricKind;
  area: Area;
  options: OptionKey[];
  /** options without which the metric has no answer (the editor marks them) */
  required?: OptionKey[];
  orderBy?: OrderBy[];
  defaults?: { topN?: number; orderBy?: OrderBy; threshold?: number; minCalls?: number; k?: number };
  /** the variant used when a filter is set: e.g. per-table cache hit ratio */
  variants?: Array<{
    when: Extract<FilterOptionKey, 'table' | 'index' | 'queryid'>;
    compute: Compute;
    description: string;
  }>;
  compute: Compute;
  /** Grafana alerting can evaluate it (series / instants only) */
  alertable: boolean;
  minPgVersion?: number;
  requires?: Array<'pg_stat_statements' | 'vector' | 'neon' | 'hypopg'>;
  /** how the series are labelled, for legends: "{{datname}}" */
  defaultLegend?: string;
  /** dashboards draw this table as an XY chart (first number field = x, the others = y), or this series as a state timeline */
  panel?: 'xychart' | 'state-timeline' | 'nodeGraph';
  /** what each value of a state series means (state timelines show the text) */
  valueText?: Record<string, string>;
}
