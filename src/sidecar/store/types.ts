/** One row a collector read: its identity (labels), numbers, and descriptive info. */
export interface SampleRow {
  key: Record<string, string>;
  values: Record<string, number | null>;
  info?: Record<string, unknown>;
}

export interface CollectedSample {
  target: string;
  collector: string;
  ts: number;
  ok: boolean;
  /** the collector-wide counter epoch in ms (postmaster start, stats_reset …): a change is a reset */
  epoch?: number | null;
  rows: SampleRow[];
  /** the row fields that are cumulative counters: they get running totals (store/running-totals.ts) */
  counters?: string[];
  /** how long the cycle took: not stored since migration 10 (nothing read it back); /metrics observes it */
  durationMs?: number;
  error?: string;
}

export interface SampleInfo {
  id: number;
  ts: number;
  ok: boolean;
  epoch: number | null;
  /** the stored history the sample belongs to when it is not the target's own (store/stream-alias.ts) */
  stream?: string;
}

export interface SeriesValues {
  labels: Record<string, string>;
  field: string;
  /** aligned with the samples asked for; null = the row was absent or the sample failed */
  values: Array<number | null>;
}

export interface EntityInfo {
  labels: Record<string, string>;
  info: Record<string, unknown>;
  firstSeen: number;
  lastSeen: number;
}

export interface StoredEvent {
  id: number;
  target: string;
  ts: number;
  kind: string;
  title: string;
  text: string;
  tags: string[];
}

/** Labels must match exactly; undefined values are ignored. */
export type LabelFilter = Record<string, string | undefined>;

/** Σ of counter deltas of one series over a range; seen = at least one delta fell in it */
export interface RangeTotal {
  labels: Record<string, string>;
  field: string;
  total: number;
  seen: boolean;
  /** the row's labels as stored (canonicalLabels), when the store had them at hand */
  key?: string;
}

/** Per-series step sums from running totals (Store.stepTotals) */
export interface StepTotals {
  series: Array<{ labels: Record<string, string>; field: string; sum: Array<number | null>; elapsed: number[] }>;
  /** runs of steps [from, to] the running totals cannot answer exactly, with the sample times whose deltas reach into them */
  irregular: Array<{ from: number; to: number; fromTs: number; toTs: number }>;
}
