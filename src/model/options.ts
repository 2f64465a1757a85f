/**
 * The query-option vocabulary: every option a pgpulse query can carry, declared once. The query
 * model (model/query.ts) takes its types and limits from here, the catalog its option names, the
 * editor its labels, tooltips and which fields a change clears, the datasource which options
 * template variables may fill, and the sidecar which filters "All" switches off and which
 * collector label each filter narrows. Adding an option is one entry here (plus its editor field).
 */
import { z } from 'zod';

// Identifiers are matched against catalogued names, never spliced into SQL; the limits only keep
// hostile input from bloating logs and error messages.
const ident = z.string().trim().min(1, 'must not be empty').max(200, 'is longer than 200 characters');

/** What a ranked table can be sorted by, with the editor's label for each. */
export const orderByLabels = {
  total_time: 'Total time',
  mean_time: 'Mean time',
  calls: 'Calls',
  rows: 'Rows',
  temp: 'Temp blocks',
  hit_ratio: 'Buffer hit ratio',
  scans: 'Scans',
  size: 'Size',
  dead_tuples: 'Dead tuples',
  seq_scans: 'Sequential scans',
  xid_age: 'XID age (wraparound)',
  name: 'Name',
} as const;
export type OrderBy = keyof typeof orderByLabels;
export const orderByValues = Object.keys(orderByLabels) as [OrderBy, ...OrderBy[]];

export const quantileValues = ['p50', 'p95', 'p99'] as const;

export interface OptionDecl {
  /** the editor's field label */
  label: string;
  /** what it does: the editor's tooltip and the catalog's description of the option */
  description: string;
  /** its type and limits: the query model (model/query.ts) is built from these */
  schema: z.ZodTypeAny;
  /** a string option a Grafana template variable may fill ($database); replaced before the query leaves the browser */
  templated: boolean;
  /** Grafana's "All" of a variable ("*", "$__all", "All", "") means no filter rather than an object of that name */
  allMeansUnfiltered?: true;
  /** the collector key label an object filter narrows (the engine filters stored rows on it) */
  filterLabel?: string;
  /** the backend list that offers its values (an editor picker, a dashboard variable) */
  list?: 'targets' | 'databases' | 'schemas' | 'tables' | 'indexes' | 'queryids';
  /** options that no longer make sense once this one changes: a new table invalidates the chosen index */
  dependents?: readonly string[];
  /** taken by every query, never listed in a metric's options */
  everyQuery?: true;
}

/** Every query option, in the editor's order. */
export const queryOptionDecls = {
  target: {
    label: 'Target',
    description: "Which monitored target of the sidecar. Empty: the datasource's target.",
    schema: ident,
    templated: true,
    allMeansUnfiltered: true,
    list: 'targets',
    dependents: ['database', 'schema', 'table', 'index', 'queryid'],
    everyQuery: true,
  },
  database: {
    label: 'Database',
    description: 'Only this database (pg_stat_database datname). Empty: every database of the target.',
    schema: ident,
    templated: true,
    allMeansUnfiltered: true,
    filterLabel: 'datname',
    list: 'databases',
    dependents: ['schema', 'table', 'index', 'queryid'],
  },
  schema: {
    label: 'Schema',
    description: 'Only tables and indexes in this schema.',
    schema: ident,
    templated: true,
    allMeansUnfiltered: true,
    filterLabel: 'schemaname',
    list: 'schemas',
    dependents: ['table', 'index'],
  },
  table: {
    label: 'Table',
    description: 'Only this table. Metrics with a per-table variant switch to it.',
    schema: ident,
    templated: true,
    allMeansUnfiltered: true,
    filterLabel: 'relname',
    list: 'tables',
    dependents: ['index'],
  },
  index: {
    label: 'Index',
    description: 'Only this index (needs its table).',
    schema: ident,
    templated: true,
    allMeansUnfiltered: true,
    filterLabel: 'indexrelname',
    list: 'indexes',
  },
  queryid: {
    label: 'Query ID',
    description: 'One statement, by its pg_stat_statements queryid.',
    schema: z
      .union([z.string(), z.number()])
      .transform((v) => String(v).trim())
      .refine((v) => /^-?\d{1,20}$/.test(v), 'queryid must be an integer (as pg_stat_statements shows it)'),
    templated: true,
    allMeansUnfiltered: true,
    filterLabel: 'queryid',
    list: 'queryids',
  },
  topN: {
    label: 'Top N',
    description: 'How many rows the ranked table keeps.',
    schema: z
      .number()
      .int('topN must be a whole number')
      .min(1, 'topN must be at least 1')
      .max(1000, 'topN must be at most 1000'),
    templated: false,
  },
  orderBy: {
    label: 'Order by',
    description: 'What the ranked table is sorted by (descending), computed over the selected range.',
    schema: z.enum(orderByValues),
    templated: false,
  },
  threshold: {
    label: 'Threshold',
    // milliseconds for statements, seconds for running queries: the metric's unit says which
    description: 'Statements at or above this mean time per call count as slow.',
    schema: z.number().finite().min(0, 'threshold must not be negative').max(86_400_000, 'threshold is absurdly large'),
    templated: false,
  },
  minCalls: {
    label: 'Min calls',
    description: 'Ignore statements with fewer calls in the range or step.',
    schema: z.number().int().min(0).max(1_000_000_000),
    templated: false,
  },
  k: {
    label: 'Recall k',
    description: 'k of recall@k for vector probes.',
    schema: z.number().int().min(1).max(1000),
    templated: false,
  },
  efSearch: {
    label: 'ef_search',
    description: 'hnsw.ef_search (HNSW) or ivfflat.probes (IVFFlat) of the probe series to show.',
    schema: z.number().int().min(1).max(1000),
    templated: false,
  },
  quantile: {
    label: 'Quantile',
    // alert rules watch exactly p95
    description: 'Only this latency quantile (empty: p50, p95 and p99).',
    schema: z.enum(quantileValues),
    templated: false,
  },
  waitEvent: {
    label: 'Wait event',
    description:
      'Only sessions waiting on this wait event, as type/event (Lock/transactionid) or a type (IO); CPU = active without a wait event.',
    schema: z
      .string()
      .trim()
      .regex(
        /^[A-Za-z0-9_:.-]{1,64}(\/[A-Za-z0-9_:.-]{1,64})?$/,
        'waitEvent must be a wait event type or type/event as pg_stat_activity shows them, e.g. Lock/transactionid or IO'
      ),
    templated: true,
    allMeansUnfiltered: true,
  },
  legend: {
    label: 'Legend',
    description: 'Series name; {{label}} is replaced by that label, e.g. {{datname}}.',
    schema: z.string().max(300),
    templated: true,
  },
} as const satisfies Record<string, OptionDecl>;

type Decls = typeof queryOptionDecls;
export type QueryOptionName = keyof Decls;

/** The options a metric lists (every option but those every query takes, i.e. target). */
export type OptionKey = { [K in QueryOptionName]: Decls[K] extends { everyQuery: true } ? never : K }[QueryOptionName];
/** The options that name an object: each narrows one collector key label (filterLabels). */
export type FilterOptionKey = {
  [K in QueryOptionName]: Decls[K] extends { filterLabel: string } ? K : never;
}[QueryOptionName];

const entries = Object.entries(queryOptionDecls) as Array<[QueryOptionName, OptionDecl]>;
const namesWhere = (pred: (d: OptionDecl) => boolean) => entries.filter(([, d]) => pred(d)).map(([k]) => k);

export const queryOptionNames = entries.map(([k]) => k);

/** Every option a metric may take, in editor order. */
export const optionKeys = namesWhere((d) => !d.everyQuery) as OptionKey[];

/** The options that name an object (a filter on a collector key label, see filterLabels). */
export const filterOptionKeys = namesWhere((d) => d.filterLabel !== undefined) as FilterOptionKey[];

/** Which collector key label each object filter narrows. */
export const filterLabels = Object.fromEntries(
  entries.filter(([, d]) => d.filterLabel !== undefined).map(([k, d]) => [k, d.filterLabel])
) as Record<FilterOptionKey, string>;

/** String options a template variable may fill: the datasource interpolates exactly these. */
export const templatedOptionKeys = namesWhere((d) => d.templated);

/** Options for which Grafana's "All" means no filter: the sidecar drops them when set to All. */
export const allMeansUnfilteredKeys = namesWhere((d) => d.allMeansUnfiltered === true);

/** The editor's label of each option. */
export const optionLabels = Object.fromEntries(entries.map(([k, d]) => [k, d.label])) as Record<
  QueryOptionName,
  string
>;

/** The options a change of `name` clears (each list is complete, never followed further: target lists everything below it). */
export function dependentsOf(name: string): readonly QueryOptionName[] {
  const d = (queryOptionDecls as Record<string, OptionDecl>)[name];
  return (d?.dependents ?? []) as readonly QueryOptionName[];
}

/** The options whose change clears `name`: the filters a list of its values is narrowed by. */
export function parentsOf(name: QueryOptionName): QueryOptionName[] {
  return namesWhere((d) => (d.dependents ?? []).includes(name));
}

/** A number option's limits as its schema declares them (the editor's min / max / step). */
export function numberLimits(name: QueryOptionName): { min?: number; max?: number; step?: number } {
  const schema = queryOptionDecls[name].schema;
  if (!(schema instanceof z.ZodNumber)) {
    return {};
  }
  return {
    ...(schema.minValue !== null ? { min: schema.minValue } : {}),
    ...(schema.maxValue !== null ? { max: schema.maxValue } : {}),
    ...(schema.isInt ? { step: 1 } : {}),
  };
}

/** The zod shape of every option (all optional): model/query.ts adds metric and schemaVersion. */
export const optionShape = Object.fromEntries(entries.map(([k, d]) => [k, d.schema.optional()])) as {
  [K in QueryOptionName]: z.ZodOptional<Decls[K]['schema']>;
};
