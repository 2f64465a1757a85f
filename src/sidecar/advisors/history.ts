/**
 * The facts advisor rules read, from the stored history of one target: counter deltas (reset- and
 * restart-aware) over a window, latest gauges, and entity info. Nothing here touches the database.
 */
import { collectorCounters, collectorGauges } from '../../model/catalog/collectors';
import { counterDeltas } from '../engine/deltas';
import type { Store } from '../store/store';
import type { SampleInfo, SeriesValues } from '../store/types';

export interface Window {
  from: number;
  to: number;
}

export interface RowFacts {
  labels: Record<string, string>;
  /** Σ reset-aware deltas per counter; null when no delta was observed */
  deltas: Record<string, number | null>;
  latest: Record<string, number | null>;
  /** first and last sample holding the row, and how long it was observed */
  firstTs: number | null;
  lastTs: number | null;
  /** the row is in the newest sample */
  present: boolean;
  /** lifetime mode: the counters' epoch (statistics reset or server start), epoch ms */
  since: number | null;
}

/**
 * range: Σ reset-aware deltas inside the window (the normal evidence).
 * lifetime: the newest sample's counters as they are — totals since the statistics were last
 * reset — for a fresh install whose stored history is too short to show anything yet.
 */
export type EvidenceMode = 'range' | 'lifetime';

/**
 * ok samples per matrix() call. The matrix holds a value per series per sample: 5,000 statements ×
 * 7 fields over an hour of 5 s samples is 25 million values (~200 MB), and the index facts read the
 * whole history. Walked in chunks (each starting at the previous chunk's last sample, which only
 * anchors the next delta) the peak stays ~35,000 × 100 values whatever the window.
 */
const CHUNK_SAMPLES = 100;

/** Deltas and latest values of a collector's rows within [from, to]. */
export function collectRows(
  store: Store,
  target: string,
  collector: string,
  counters: string[],
  gauges: string[],
  w: Window,
  mode: EvidenceMode = 'range',
  chunkSamples = CHUNK_SAMPLES
): { rows: Map<string, RowFacts>; samples: SampleInfo[] } {
  const samples = store.samples(target, collector, w.from, w.to);
  // a failed sample has no values and pairs no delta: the ok ones alone give the same facts
  const okSamples = samples.filter((s) => s.ok);
  const lastOk = okSamples.length ? okSamples[okSamples.length - 1] : undefined;
  const rows = new Map<string, RowFacts>();
  /** lifetime: per row and counter, the epoch at its newest value (the row's since is their minimum) */
  const lifetimeEpochs = new Map<string, Map<string, number | null>>();
  // only failed samples: their rows are still listed, with no values (as one matrix() call did)
  const walk = okSamples.length ? okSamples : samples.slice(-1);
  for (let from = 0; from < walk.length; from += chunkSamples - 1) {
    const chunk = walk.slice(from, from + chunkSamples);
    collectChunk(store, target, collector, counters, gauges, mode, chunk, lastOk, rows, lifetimeEpochs);
    if (from + chunkSamples >= walk.length) {
      break;
    }
  }
  for (const [key, byField] of lifetimeEpochs) {
    const r = rows.get(key)!;
    for (const e of byField.values()) {
      r.since = e === null ? r.since : r.since === null ? e : Math.min(r.since, e);
    }
  }
  return { rows, samples };
}

function collectChunk(
  store: Store,
  target: string,
  collector: string,
  counters: string[],
  gauges: string[],
  mode: EvidenceMode,
  samples: SampleInfo[],
  lastOk: SampleInfo | undefined,
  rows: Map<string, RowFacts>,
  lifetimeEpochs: Map<string, Map<string, number | null>>
): void {
  const series: SeriesValues[] = store.matrix(
    target,
    collector,
    [...counters, ...gauges, '_epoch'],
    undefined,
    samples
  );
  const epochs = new Map<string, Array<number | null>>();
  for (const s of series) {
    if (s.field === '_epoch') {
      epochs.set(JSON.stringify(s.labels), s.values);
    }
  }
  for (const s of series) {
    if (s.field === '_epoch') {
      continue;
    }
    const key = JSON.stringify(s.labels);
    let r = rows.get(key);
    if (!r) {
      r = { labels: s.labels, deltas: {}, latest: {}, firstTs: null, lastTs: null, present: false, since: null };
      rows.set(key, r);
    }
    for (let i = 0; i < s.values.length; i++) {
      if (s.values[i] !== null) {
        r.firstTs = r.firstTs === null ? samples[i].ts : Math.min(r.firstTs, samples[i].ts);
        r.lastTs = r.lastTs === null ? samples[i].ts : Math.max(r.lastTs, samples[i].ts);
        if (lastOk && samples[i].id === lastOk.id) {
          r.present = true;
        }
      }
    }
    if (counters.includes(s.field) && mode === 'lifetime') {
      for (let i = s.values.length - 1; i >= 0; i--) {
        if (s.values[i] !== null) {
          // a later chunk's newer value replaces an earlier one, and so does its epoch
          r.deltas[s.field] = s.values[i];
          let byField = lifetimeEpochs.get(key);
          if (!byField) {
            byField = new Map();
            lifetimeEpochs.set(key, byField);
          }
          byField.set(s.field, epochs.get(key)?.[i] ?? samples[i].epoch ?? null);
          break;
        }
      }
    } else if (counters.includes(s.field)) {
      // the first sample of a chunk after the first only anchors its first delta
      let sum = r.deltas[s.field] ?? null;
      for (const d of counterDeltas(samples, s.values, epochs.get(key))) {
        sum = (sum ?? 0) + d.value;
      }
      r.deltas[s.field] = sum;
    }
    if (gauges.includes(s.field)) {
      for (let i = s.values.length - 1; i >= 0; i--) {
        if (s.values[i] !== null) {
          r.latest[s.field] = s.values[i];
          break;
        }
      }
      // no value in this chunk: keep an earlier chunk's (the newest value wins, null when none)
      r.latest[s.field] ??= null;
    }
  }
}

/**
 * Σ reset-aware deltas per row and counter within the window (RowFacts.deltas: null when no delta
 * was observed), from the store's running totals: two lookups per series however long the window,
 * so an evaluation allocates per series, not per stored point. undefined when running totals cannot
 * answer (history from before they existed): the caller walks the points with collectRows.
 */
export function rangeDeltaRows(
  store: Store,
  target: string,
  collector: string,
  counters: string[],
  w: Window
): Map<string, Pick<RowFacts, 'labels' | 'deltas' | 'since'>> | undefined {
  const totals = store.rangeTotalsBetween(target, collector, counters, undefined, w.from, w.to);
  if (!totals) {
    return undefined;
  }
  const rows = new Map<string, Pick<RowFacts, 'labels' | 'deltas' | 'since'>>();
  for (const t of totals) {
    const key = JSON.stringify(t.labels);
    let r = rows.get(key);
    if (!r) {
      r = { labels: t.labels, deltas: {}, since: null };
      rows.set(key, r);
    }
    r.deltas[t.field] = t.seen ? t.total : null;
  }
  return rows;
}

/**
 * collectRows' facts without walking the points: gauges, span facts (first and last seen, present)
 * and lifetime counters (each one's newest value and epoch) from the ends of each series' values
 * (Store.valueEnds), range deltas from running totals (rangeDeltaRows) — per series a few lookups
 * however long the window. undefined when the store cannot answer so (history from before running
 * totals, pieces of several histories): the caller walks the points with collectRows.
 */
export function endRows(
  store: Store,
  target: string,
  collector: string,
  counters: string[],
  gauges: string[],
  w: Window,
  mode: EvidenceMode = 'range'
): Map<string, RowFacts> | undefined {
  const ends = store.valueEnds(target, collector, [...counters, ...gauges], w.from, w.to, mode === 'lifetime');
  if (!ends) {
    return undefined;
  }
  const totals = mode === 'range' ? rangeDeltaRows(store, target, collector, counters, w) : undefined;
  if (mode === 'range' && !totals) {
    return undefined;
  }
  const rows = new Map<string, RowFacts>();
  for (const e of ends.series) {
    const key = JSON.stringify(e.labels);
    let r = rows.get(key);
    if (!r) {
      r = { labels: e.labels, deltas: {}, latest: {}, firstTs: null, lastTs: null, present: false, since: null };
      rows.set(key, r);
    }
    if (e.first) {
      r.firstTs = r.firstTs === null ? e.first.ts : Math.min(r.firstTs, e.first.ts);
    }
    if (e.last) {
      r.lastTs = r.lastTs === null ? e.last.ts : Math.max(r.lastTs, e.last.ts);
      r.present ||= e.last.id === ends.lastOk?.id;
    }
    if (!counters.includes(e.field)) {
      r.latest[e.field] = e.last?.value ?? null;
    } else if (mode === 'lifetime') {
      // the newest value as it is, counting since its epoch; no value: no entry, as in collectRows
      if (e.last) {
        r.deltas[e.field] = e.last.value;
        const since = e.last.epoch ?? null;
        r.since = since === null ? r.since : r.since === null ? since : Math.min(r.since, since);
      }
    } else {
      // a delta pairs each ok sample holding a value with the one before: one after the first will do
      // (a row there at the start that vanished is "seen" by running totals, yet shows no delta)
      const paired = e.last !== null && e.last.id !== ends.firstOk?.id;
      r.deltas[e.field] = paired ? (totals?.get(key)?.deltas[e.field] ?? null) : null;
    }
  }
  return rows;
}

/** A collector and the fields of its rows a fact reads: counters as deltas, gauges as their newest values. */
interface FactFields {
  collector: string;
  counters: string[];
  gauges: string[];
}

/**
 * A collector's row facts without walking the points where the store can answer so (endRows), else
 * by the walk (collectRows); read 'points' always walks (what the shortcuts are tested against).
 */
function factRows(
  store: Store,
  target: string,
  f: FactFields,
  w: Window,
  mode: EvidenceMode = 'range',
  read: 'totals' | 'points' = 'totals'
): Map<string, RowFacts> {
  return (
    (read === 'totals' ? endRows(store, target, f.collector, f.counters, f.gauges, w, mode) : undefined) ??
    collectRows(store, target, f.collector, f.counters, f.gauges, w, mode).rows
  );
}

export interface IndexFacts {
  schema: string;
  table: string;
  index: string;
  datname: string;
  info: Record<string, unknown>;
  /** index scans counted over the whole observed history (deltas, so restarts and resets never add lifetime totals) */
  scans: number | null;
  observedFrom: number | null;
  observedTo: number | null;
  sizeBytes: number | null;
  present: boolean;
}

const INDEXES: FactFields = { collector: 'indexes', counters: ['idx_scan'], gauges: ['size_bytes'] };

export function indexFacts(
  store: Store,
  target: string,
  now: number,
  /** 'points': walk every stored point (what the shortcuts are tested against) */
  read: 'totals' | 'points' = 'totals'
): IndexFacts[] {
  const w = { from: 0, to: now };
  const rows = factRows(store, target, INDEXES, w, 'range', read);
  const ents = new Map(store.entities(target, 'indexes').map((e) => [JSON.stringify(e.labels), e]));
  return [...rows.entries()].map(([k, r]) => ({
    schema: r.labels.schemaname,
    table: r.labels.relname,
    index: r.labels.indexrelname,
    datname: r.labels.datname ?? '',
    info: ents.get(k)?.info ?? {},
    scans: r.deltas.idx_scan ?? null,
    observedFrom: r.firstTs,
    observedTo: r.lastTs,
    sizeBytes: r.latest.size_bytes ?? null,
    present: r.present,
  }));
}

export interface TableFacts {
  schema: string;
  table: string;
  datname: string;
  d: Record<string, number | null>;
  g: Record<string, number | null>;
  present: boolean;
  /** lifetime mode: since when the counters count */
  since?: number | null;
}

/** the tables collector's fields the facts read: all but index reads, HOT updates and the estimates */
const TABLES: FactFields = {
  collector: 'tables',
  counters: collectorCounters('tables', ['idx_tup_fetch', 'n_tup_hot_upd', 'idx_blks_read', 'idx_blks_hit']),
  gauges: collectorGauges('tables', ['heap_pages_bytes', 'all_visible_bytes', 'xid_age']),
};

export function tableFacts(
  store: Store,
  target: string,
  w: Window,
  mode: EvidenceMode = 'range',
  /** 'points': walk every stored point (what the shortcuts are tested against) */
  read: 'totals' | 'points' = 'totals'
): TableFacts[] {
  const rows = factRows(store, target, TABLES, w, mode, read);
  return [...rows.values()].map((r) => ({
    schema: r.labels.schemaname,
    table: r.labels.relname,
    datname: r.labels.datname ?? '',
    d: r.deltas,
    g: r.latest,
    present: r.present,
    since: r.since,
  }));
}

export interface StatementFacts {
  queryid: string;
  datname: string;
  username: string;
  text: string | undefined;
  calls: number;
  totalMs: number;
  rows: number;
  blksHit: number;
  blksRead: number;
  tempBlksWritten: number;
  /** lifetime mode: since when the counters count */
  since?: number | null;
}

/** the statements collector's counters the facts sum: all but planning and read I/O time */
const STATEMENTS: FactFields = {
  collector: 'statements',
  counters: collectorCounters('statements', ['total_plan_time', 'io_read_time']),
  gauges: [],
};

export function statementFacts(
  store: Store,
  target: string,
  w: Window,
  mode: EvidenceMode = 'range',
  /** 'points': walk every stored point (what the shortcuts are tested against) */
  read: 'totals' | 'points' = 'totals'
): StatementFacts[] {
  // counters' deltas are all the statement facts need: over a range, running totals alone give
  // them (no value ends: first or last seen, presence), else the walk
  const rows =
    read === 'totals' && mode === 'range'
      ? (rangeDeltaRows(store, target, STATEMENTS.collector, STATEMENTS.counters, w) ??
        factRows(store, target, STATEMENTS, w, mode, 'points'))
      : factRows(store, target, STATEMENTS, w, mode, read);
  const list = [...rows.values()].filter((r) => (r.deltas.calls ?? 0) > 0);
  const texts = store.statementTexts(target, [...new Set(list.map((r) => r.labels.queryid))]);
  return list.map((r) => ({
    queryid: r.labels.queryid,
    datname: r.labels.datname ?? '',
    username: r.labels.username ?? '',
    text: texts.get(r.labels.queryid),
    calls: r.deltas.calls ?? 0,
    totalMs: r.deltas.total_exec_time ?? 0,
    rows: r.deltas.rows ?? 0,
    blksHit: r.deltas.shared_blks_hit ?? 0,
    blksRead: r.deltas.shared_blks_read ?? 0,
    tempBlksWritten: r.deltas.temp_blks_written ?? 0,
    since: r.since,
  }));
}

export interface SettingFacts {
  /** value in base units (bytes, ms) where numeric */
  value: Map<string, number | null>;
  /** raw setting text */
  text: Map<string, string>;
}

export function settingFacts(store: Store, target: string, now: number): SettingFacts {
  const w = { from: now - 30 * 86_400_000, to: now };
  // settings rarely change: a walk would read 30 days of samples for a few keyframe points each
  const rows = factRows(store, target, { collector: 'settings', counters: [], gauges: ['value'] }, w);
  const ents = new Map(store.entities(target, 'settings').map((e) => [e.labels.name, e.info]));
  const value = new Map<string, number | null>();
  const text = new Map<string, string>();
  for (const r of rows.values()) {
    if (!r.present) {
      continue;
    }
    value.set(r.labels.name, r.latest.value ?? null);
    text.set(r.labels.name, String(ents.get(r.labels.name)?.setting ?? ''));
  }
  return { value, text };
}

export interface ActivityFacts {
  ts: number | null;
  /** client backends per state (all databases) */
  byState: Map<string, { count: number; longestXactS: number; longestQueryS: number }>;
  total: number;
}

export function activityFacts(store: Store, target: string, now: number): ActivityFacts {
  const last = store.lastSample(target, 'activity');
  const out: ActivityFacts = { ts: last?.ts ?? null, byState: new Map(), total: 0 };
  if (!last) {
    return out;
  }
  const series = store.matrix(target, 'activity', ['count', 'longest_xact_s', 'longest_query_s'], undefined, [last]);
  for (const s of series) {
    const v = s.values[0];
    if (v === null) {
      continue;
    }
    const st = s.labels.state;
    const e = out.byState.get(st) ?? { count: 0, longestXactS: 0, longestQueryS: 0 };
    if (s.field === 'count') {
      e.count += v;
      out.total += v;
    } else if (s.field === 'longest_xact_s') {
      e.longestXactS = Math.max(e.longestXactS, v);
    } else {
      e.longestQueryS = Math.max(e.longestQueryS, v);
    }
    out.byState.set(st, e);
  }
  void now;
  return out;
}

export interface DatabaseFacts {
  datname: string;
  blksHit: number | null;
  blksRead: number | null;
  tempBytes: number | null;
  sizeBytes: number | null;
}

const DATABASE: FactFields = {
  collector: 'database',
  counters: ['blks_hit', 'blks_read', 'temp_bytes'],
  gauges: ['size_bytes'],
};

export function databaseFacts(store: Store, target: string, w: Window): DatabaseFacts[] {
  const rows = factRows(store, target, DATABASE, w);
  return [...rows.values()]
    .filter((r) => r.present)
    .map((r) => ({
      datname: r.labels.datname,
      blksHit: r.deltas.blks_hit ?? null,
      blksRead: r.deltas.blks_read ?? null,
      tempBytes: r.deltas.temp_bytes ?? null,
      sizeBytes: r.latest.size_bytes ?? null,
    }));
}

/** The connected database of a target, as the server collector last saw it. */
export function connectedDatabase(store: Store, target: string): string | undefined {
  const ents = store.entities(target, 'tables');
  return ents.length ? ents.sort((a, b) => b.lastSeen - a.lastSeen)[0].labels.datname : undefined;
}

/** How long the stored history in the window reaches back: first to last successful sample. */
export function historySpan(store: Store, target: string, collector: string, w: Window): number {
  const ok = store.samples(target, collector, w.from, w.to).filter((s) => s.ok);
  return ok.length < 2 ? 0 : ok[ok.length - 1].ts - ok[0].ts;
}
