/**
 * Running totals: every stored point of a counter also carries `total`, the Σ of its reset-aware
 * deltas since the series began (engine/deltas.ts semantics, stitched at write time). It never
 * goes down, so the counter's delta over any range is total(last ok sample) − total(first ok
 * sample): two index lookups per series, whatever the range length.
 *
 * A sample where some counter reset or vanished is marked (`sample.resets`): compaction keeps it
 * and the ok sample before it, so the deltas across the samples that stay still add up to the
 * running totals (between kept samples every counter only grew).
 */
import type Database from 'better-sqlite3';
import { unpackChunks } from './chunks';
import { preparer } from './statements';

/** what the raw path sees of one counter at the previous ok sample */
export interface CounterCarry {
  /** carried value (null: absent, vanished, or unknown) */
  v: number | null;
  /** running total (null: written before running totals existed) */
  total: number | null;
}

export interface CounterStep {
  total: number | null;
  /** the delta at this sample (0 when none) */
  d: number;
  /**
   * a reset from a value (it went down, or an epoch moved): compaction must keep this sample and
   * the one before it. A row appearing (from null) needs neither: it was null at every sample in
   * between, so it counts from zero across any of them.
   */
  reset: boolean;
  /** the counter had a value and now has none */
  vanished: boolean;
}

/**
 * One counter at one ok sample. `prevOk`: an ok sample came before (else no delta); `epochChanged`:
 * the collector epoch differs from that sample's; `rowEpochChanged`: the row's own epoch did.
 */
export function stepCounter(
  prev: CounterCarry | undefined,
  b: number | null,
  prevOk: boolean,
  epochChanged: boolean,
  rowEpochChanged: boolean
): CounterStep {
  const a = prev?.v ?? null;
  // a series that existed before running totals did starts its own from here: ranges beginning
  // earlier find a point without a total there and take the raw path
  const base = prev ? prev.total : 0;
  if (b === null) {
    return { total: base ?? 0, d: 0, reset: false, vanished: prevOk && a !== null };
  }
  if (!prevOk) {
    return { total: base ?? 0, d: 0, reset: false, vanished: false };
  }
  const reset = a === null || b < a || epochChanged || rowEpochChanged;
  const d = reset ? b : b - (a as number);
  return { total: (base ?? 0) + d, d, reset: reset && a !== null, vanished: false };
}

/** samples whose points the fill-in reads at once */
const BACKFILL_WINDOW = 256;

/**
 * Fills in running totals and reset marks for history written before they existed, walking each
 * stream's samples in order with the raw path's semantics (values carried forward, a keyframe
 * without a point for a series means it had vanished). Points are rewritten in place; a reset that
 * left the value unchanged (a row epoch moved) gets a point of its own, since its total moved.
 */
export function backfillRunningTotals(
  db: Database.Database,
  countersOf: (collector: string) => string[] | undefined
): void {
  const streams = db.prepare('SELECT DISTINCT target_id, collector FROM sample').all() as Array<{
    target_id: number;
    collector: string;
  }>;
  const setTotal = db.prepare('UPDATE point SET total = ? WHERE series_id = ? AND sample_id = ?');
  const addPoint = db.prepare('INSERT OR IGNORE INTO point (series_id, sample_id, value, total) VALUES (?, ?, ?, ?)');
  const markReset = db.prepare('UPDATE sample SET resets = 1 WHERE id = ?');
  for (const { target_id, collector } of streams) {
    const counters = countersOf(collector);
    if (!counters || counters.length === 0) {
      continue;
    }
    const fields = [...counters, '_epoch'];
    const series = db
      .prepare(
        `SELECT id, labels, field FROM series WHERE target_id = ? AND collector = ? AND field IN (${fields.map(() => '?').join(',')})`
      )
      .all(target_id, collector, ...fields) as Array<{ id: number; labels: string; field: string }>;
    if (series.length === 0) {
      continue;
    }
    const isCounter = new Map(series.map((s) => [s.id, s.field !== '_epoch']));
    const labelsOf = new Map(series.map((s) => [s.id, s.labels]));
    const countersByLabels = new Map<string, number[]>();
    for (const s of series) {
      if (s.field !== '_epoch') {
        countersByLabels.set(s.labels, [...(countersByLabels.get(s.labels) ?? []), s.id]);
      }
    }
    const samples = db
      .prepare('SELECT id, ok, epoch, keyframe FROM sample WHERE target_id = ? AND collector = ? ORDER BY ts, id')
      .all(target_id, collector) as Array<{ id: number; ok: number; epoch: number | null; keyframe: number }>;
    // totals are written into rows: packed points become rows again (compaction packs them later)
    // (migration 4 runs before the chunk table exists)
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'point_chunk'").get()) {
      for (const s of series) {
        unpackChunks(preparer(db), s.id, 0, Number.MAX_SAFE_INTEGER);
      }
    }
    // points are found by series (the primary key), a window of samples at a time
    const pointsIn = db
      .prepare(
        'SELECT p.series_id, p.sample_id, p.value FROM json_each(?) j CROSS JOIN point p ON p.series_id = j.value AND p.sample_id BETWEEN ? AND ?'
      )
      .raw();
    const seriesJson = JSON.stringify(series.map((s) => s.id));
    const window = new Map<number, Map<number, number | null>>();
    const carried = new Map<number, number | null>();
    const state = new Map<number, CounterCarry>();
    let prevOk: { epoch: number | null } | undefined;
    for (let i = 0; i < samples.length; i++) {
      const sm = samples[i];
      if (i % BACKFILL_WINDOW === 0) {
        window.clear();
        const ids = samples.slice(i, i + BACKFILL_WINDOW).map((x) => x.id);
        for (const id of ids) {
          window.set(id, new Map());
        }
        const lo = ids.reduce((a, b) => Math.min(a, b));
        const hi = ids.reduce((a, b) => Math.max(a, b));
        for (const [sid, at, v] of pointsIn.all(seriesJson, lo, hi) as Array<[number, number, number | null]>) {
          window.get(at)?.set(sid, v);
        }
      }
      if (sm.ok !== 1) {
        continue;
      }
      const here = window.get(sm.id) as Map<number, number | null>;
      const keyframe = sm.keyframe === 1;
      // the series to look at: those with a point here; at a keyframe or a new epoch, all of them
      const touched =
        keyframe || (prevOk !== undefined && sm.epoch !== prevOk.epoch) ? series.map((s) => s.id) : [...here.keys()];
      // row epochs that moved here (a keyframe without the row's epoch point: it became null)
      const epochMoved = new Set<string>();
      for (const id of touched) {
        if (isCounter.get(id)) {
          continue;
        }
        const now = here.has(id) ? (here.get(id) ?? null) : keyframe ? null : (carried.get(id) ?? null);
        if (now !== (carried.get(id) ?? null)) {
          epochMoved.add(labelsOf.get(id) as string);
        }
      }
      const todo = new Set(touched.filter((id) => isCounter.get(id)));
      for (const l of epochMoved) {
        for (const id of countersByLabels.get(l) ?? []) {
          todo.add(id);
        }
      }
      // carry forward; a keyframe holds every present row, so one without a point there is gone
      for (const id of touched) {
        carried.set(id, here.has(id) ? (here.get(id) ?? null) : keyframe ? null : (carried.get(id) ?? null));
      }
      const epochChanged = prevOk !== undefined && sm.epoch !== prevOk.epoch;
      let flagged = false;
      for (const id of todo) {
        const b = carried.get(id) ?? null;
        const prev = state.get(id);
        const st = stepCounter(prev, b, prevOk !== undefined, epochChanged, epochMoved.has(labelsOf.get(id) as string));
        flagged ||= st.reset || st.vanished;
        if (here.has(id)) {
          setTotal.run(st.total, id, sm.id);
        } else if (st.total !== (prev?.total ?? 0)) {
          addPoint.run(id, sm.id, b, st.total);
        }
        state.set(id, { v: b, total: st.total });
      }
      if (flagged) {
        markReset.run(sm.id);
      }
      prevOk = { epoch: sm.epoch };
    }
  }
}

/**
 * Per-database sums of a collector's counters, written as series of their own (field `Σ<field>`,
 * labels {datname}): a panel over all statements of a database reads one series per field
 * instead of one per statement. Its total is the Σ of the rows' deltas; its value is that total
 * while at least one row has a value, null while none has. Only for collectors whose rows are
 * more than one per database (statements, tables, indexes).
 */
export const AGGREGATE_LABEL = 'datname';
export const aggregateField = (field: string): string => `Σ${field}`;

export function aggregateGroup(key: Record<string, string>): string | undefined {
  const g = key[AGGREGATE_LABEL];
  return g !== undefined && Object.keys(key).length > 1 ? g : undefined;
}
