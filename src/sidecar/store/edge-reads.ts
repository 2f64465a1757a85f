/**
 * Reads for step sums at many step edges at once (Store.stepTotals): the ok samples either side of
 * each edge, the keyframe in force at a sample, and a series' stored point in force at each of
 * many samples.
 *
 * Two ways to read each, chosen by how many stored rows lie between consecutive edges: a B-tree
 * lookup per edge (a 7-day panel over a series sampled every 15 s has 40 samples per edge), or one
 * ordered scan over the whole span merged with the edges in JS (a 24-hour panel at 1-minute steps
 * has 4). Handing a row to JS costs about 0.25 µs; the ok samples either side of an edge cost
 * about 5 µs of lookups, a series' point at a sample about 0.7 µs (one probe of the primary key):
 * hence the two thresholds below. Both ways give the same answer (running-totals.test.ts checks both).
 */
import type Database from 'better-sqlite3';
import { decodeColumns } from './chunk-codec';
import { chunkPointAt } from './chunks';

export type Prepare = (sql: string) => Database.Statement;

/** samples per step edge up to which one scan of the span beats the lookups either side of each edge */
export const SCAN_SAMPLES_PER_EDGE = 16;
/** points per sample read up to which one scan of a series' span beats a probe per sample */
export const SCAN_POINTS_PER_READ = 3;

/** an ok sample: [id, ts] */
export type OkSample = [number, number];

/**
 * Rows of a collector's samples in (fromTs, toTs], estimated from the spacing of the first few:
 * no count (a count walks them all), only a choice between scan and seeks rests on it.
 */
export function estimateSamples(
  prepare: Prepare,
  targetId: number,
  collector: string,
  fromTs: number,
  toTs: number
): number {
  const probe = 16;
  const ts = prepare(
    'SELECT ts FROM sample WHERE target_id = ? AND collector = ? AND ts > ? ORDER BY ts LIMIT 1 OFFSET ?'
  )
    .pluck()
    .get(targetId, collector, fromTs, probe - 1) as number | undefined;
  if (ts === undefined || ts > toTs) {
    return probe; // fewer than the probe in the whole span
  }
  return Math.ceil(((toTs - fromTs) / Math.max(1, ts - fromTs)) * probe);
}

/**
 * Per edge (ascending, each in (first.ts, last.ts]): the last ok sample before it and the first
 * at or after it, both within [first, last].
 */
export function okSamplesAround(
  prepare: Prepare,
  targetId: number,
  collector: string,
  edges: number[],
  first: OkSample,
  last: OkSample,
  scan: boolean
): Array<{ p: OkSample; i: OkSample }> {
  if (edges.length === 0) {
    return [];
  }
  if (!scan) {
    // per edge in one statement (a call per edge costs more than SQLite's seeks)
    const around = prepare(
      `SELECT p.id, p.ts, n.id, n.ts FROM json_each(@edges) e
       LEFT JOIN sample p ON p.id = (SELECT id FROM sample WHERE target_id = @t AND collector = @c AND ts < e.value AND ok = 1 ORDER BY ts DESC, id DESC LIMIT 1)
       LEFT JOIN sample n ON n.id = (SELECT id FROM sample WHERE target_id = @t AND collector = @c AND ts >= e.value AND ok = 1 ORDER BY ts, id LIMIT 1)
       ORDER BY e.key`
    )
      .raw()
      .all({ edges: JSON.stringify(edges), t: targetId, c: collector }) as Array<
      [number | null, number | null, number | null, number | null]
    >;
    return around.map(([pid, pts, nid, nts]) => ({
      p: pid !== null && pts !== null ? [pid, pts] : first,
      i: nid !== null && nts !== null ? [nid, nts] : last,
    }));
  }
  // every sample of the span from the time index alone (it holds ts and id), handed over one
  // number per row in two walks of one snapshot (Store.stepTotals); the failed ones from the
  // partial index of marked samples
  const span = 'FROM sample WHERE target_id = ? AND collector = ? AND ts >= ? AND ts <= ? ORDER BY ts, id';
  const allIds = prepare(`SELECT id ${span}`).pluck().all(targetId, collector, first[1], last[1]) as number[];
  const allTs = prepare(`SELECT ts ${span}`).pluck().all(targetId, collector, first[1], last[1]) as number[];
  const failed = new Set(
    prepare(
      'SELECT id FROM sample WHERE target_id = ? AND collector = ? AND ts >= ? AND ts <= ? AND (resets = 1 OR ok = 0) AND ok = 0'
    )
      .pluck()
      .all(targetId, collector, first[1], last[1]) as number[]
  );
  const ok: OkSample[] = [];
  for (let k = 0; k < allIds.length; k++) {
    if (!failed.has(allIds[k])) {
      ok.push([allIds[k], allTs[k]]);
    }
  }
  const out: Array<{ p: OkSample; i: OkSample }> = [];
  // k: the first ok sample at or after the edge (edges ascend, so it only moves forward)
  let k = 0;
  for (const e of edges) {
    while (k < ok.length && ok[k][1] < e) {
      k++;
    }
    out.push({ p: k > 0 ? ok[k - 1] : first, i: k < ok.length ? ok[k] : last });
  }
  return out;
}

/** Per sample id (ascending): the last keyframe at or before it (0 when none). */
export function keyframesAt(prepare: Prepare, targetId: number, collector: string, ids: number[]): number[] {
  if (ids.length === 0) {
    return [];
  }
  const before =
    (prepare('SELECT max(id) FROM sample WHERE target_id = ? AND collector = ? AND keyframe = 1 AND id <= ?')
      .pluck()
      .get(targetId, collector, ids[0]) as number | null) ?? 0;
  // keyframes are one sample in 120: the few of the span in one read of their partial index
  const kfs = prepare(
    'SELECT id FROM sample WHERE target_id = ? AND collector = ? AND keyframe = 1 AND id > ? AND id <= ? ORDER BY id'
  )
    .pluck()
    .all(targetId, collector, ids[0], ids[ids.length - 1]) as number[];
  const out: number[] = [];
  let cur = before;
  let k = 0;
  for (const id of ids) {
    while (k < kfs.length && kfs[k] <= id) {
      cur = kfs[k++];
    }
    out.push(cur);
  }
  return out;
}

/** A series' point in force at each of a list of sample ids: where it was stored, value, total. */
export interface PointsAt {
  /** sample id of the point in force, -1 where the series has none up to that id */
  at: number[];
  /** the point has a value (a null value: the row had vanished there) */
  valued: boolean[];
  t: Array<number | null>;
  /** stored rows read */
  rows: number;
}

/** The point in force (the last stored at or before) at each id of `ids` (ascending, distinct). */
export function pointsAt(prepare: Prepare, seriesId: number, ids: number[], idsJson: string, scan: boolean): PointsAt {
  const n = ids.length;
  const out: PointsAt = {
    at: new Array(n).fill(-1),
    valued: new Array(n).fill(false),
    t: new Array(n).fill(null),
    rows: 0,
  };
  if (n === 0) {
    return out;
  }
  // an edge before the series' oldest row: the points in force there are packed (store/chunks.ts)
  const oldestRow = prepare('SELECT min(sample_id) FROM point WHERE series_id = ?').pluck().get(seriesId) as
    | number
    | null;
  if (oldestRow === null || ids[0] < oldestRow) {
    const from = chunkPointAt(prepare, seriesId, ids[0])?.[0] ?? 0;
    const chunks = prepare(
      'SELECT data FROM point_chunk WHERE series_id = ? AND last_sample_id >= ? AND first_sample_id <= ? ORDER BY last_sample_id'
    )
      .pluck()
      .all(seriesId, from, ids[n - 1]) as Buffer[];
    if (chunks.length > 0) {
      return inForce(prepare, seriesId, ids, chunks, out);
    }
  }
  if (!scan) {
    // most series have a point at most samples (a dense one at every one): one equality probe per
    // id, in the ids' order, handing over one number each — the total where the point is there and
    // has a value; null sends the id to the seek for the point in force below
    const exact = prepare(
      `SELECT iif(p.value IS NULL, NULL, p.total) FROM json_each(@ids) j
       LEFT JOIN point p ON p.series_id = @s AND p.sample_id = j.value ORDER BY j.key`
    )
      .pluck()
      .all({ ids: idsJson, s: seriesId }) as Array<number | null>;
    const missing: number[] = [];
    for (let j = 0; j < n; j++) {
      const t = exact[j];
      if (t !== null) {
        out.at[j] = ids[j];
        out.valued[j] = true;
        out.t[j] = t;
      } else {
        missing.push(j);
      }
    }
    out.rows = n - missing.length;
    if (missing.length === 0) {
      return out;
    }
    idsJson = JSON.stringify(missing.map((j) => ids[j]));
    const rows = prepare(
      // CROSS JOIN keeps json_each outside: one seek per sample, not a walk over the series' points
      `SELECT j.key, p.sample_id, p.value, p.total FROM json_each(?) j
       CROSS JOIN point p ON p.series_id = ? AND p.sample_id = (SELECT max(sample_id) FROM point WHERE series_id = ? AND sample_id <= j.value)`
    )
      .raw()
      .all(idsJson, seriesId, seriesId) as Array<[number, number, number | null, number | null]>;
    for (const [k, at, v, t] of rows) {
      const j = missing[k];
      out.at[j] = at;
      out.valued[j] = v !== null;
      out.t[j] = t;
    }
    out.rows += rows.length;
    return out;
  }
  // from the point in force at the first id to the last id: one ordered walk of the primary key,
  // twice, each handing over one number per row (a row as an array costs three times as much):
  // where each point is (negative: its value is null), then its total. The caller holds one read
  // snapshot (Store.stepTotals), so both walks see the same rows.
  const span = `FROM point WHERE series_id = @s AND sample_id <= @b
       AND sample_id >= coalesce((SELECT max(sample_id) FROM point WHERE series_id = @s AND sample_id <= @a), 0)
     ORDER BY sample_id`;
  const args = { s: seriesId, a: ids[0], b: ids[n - 1] };
  const where = prepare(`SELECT iif(value IS NULL, -sample_id, sample_id) ${span}`).pluck().all(args) as number[];
  const totals = prepare(`SELECT total ${span}`).pluck().all(args) as Array<number | null>;
  let r = -1;
  for (let j = 0; j < n; j++) {
    while (r + 1 < where.length && Math.abs(where[r + 1]) <= ids[j]) {
      r++;
    }
    if (r >= 0) {
      out.at[j] = Math.abs(where[r]);
      out.valued[j] = where[r] > 0;
      out.t[j] = totals[r];
    }
  }
  out.rows = where.length;
  return out;
}

/**
 * The point in force at each id, walking the series' chunks from the one in force at the first id
 * (decoded as columns, no array per point) and then its rows: chunks come before rows.
 */
function inForce(prepare: Prepare, seriesId: number, ids: number[], chunks: Buffer[], out: PointsAt): PointsAt {
  const n = ids.length;
  let j = 0;
  let at = -1;
  let v = NaN;
  let t = NaN;
  let read = 0;
  /** the next point: the ids before it had the current one in force */
  const step = (id: number, nv: number, nt: number) => {
    while (j < n && ids[j] < id) {
      if (at >= 0) {
        out.at[j] = at;
        out.valued[j] = !Number.isNaN(v);
        out.t[j] = Number.isNaN(t) ? null : t;
      }
      j++;
    }
    at = id;
    v = nv;
    t = nt;
    read++;
  };
  for (const data of chunks) {
    const c = decodeColumns(data);
    for (let k = 0; k < c.n && j < n; k++) {
      step(c.ids[k], c.v[k], c.t[k]);
    }
  }
  if (j < n) {
    const rows = prepare(
      'SELECT sample_id, value, total FROM point WHERE series_id = ? AND sample_id <= ? ORDER BY sample_id'
    )
      .raw()
      .all(seriesId, ids[n - 1]) as Array<[number, number | null, number | null]>;
    for (const [id, rv, rt] of rows) {
      step(id, rv ?? NaN, rt ?? NaN);
    }
  }
  step(Infinity, NaN, NaN);
  out.rows = read;
  return out;
}
