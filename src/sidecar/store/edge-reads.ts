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
import { decodeColumns } from './chunk-codec';
import type { ReadCache } from './read-cache';
import type { Prepare } from './statements';

/** samples per step edge up to which one scan of the span beats the lookups either side of each edge */
export const SCAN_SAMPLES_PER_EDGE = 16;
/**
 * samples per step edge up to which a span is read whole into a read cache (read-cache.ts) when
 * seeks would answer it: 40 a 7-day panel at 10-minute steps over samples every 15 s, read in about
 * the time of its seeks (0.07 µs a sample and walk against ~5 µs an edge)
 */
export const KEEP_SAMPLES_PER_EDGE = 64;
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
    'SELECT ts FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts > ? ORDER BY ts LIMIT 1 OFFSET ?',
    'pluck'
  ).get(targetId, collector, fromTs, probe - 1) as number | undefined;
  if (ts === undefined || ts > toTs) {
    return probe; // fewer than the probe in the whole span
  }
  return Math.ceil(((toTs - fromTs) / Math.max(1, ts - fromTs)) * probe);
}

/** Per step edge, as columns (no object per edge): the ok samples either side of it. */
export interface Around {
  /** the last ok sample before the edge: id, ts */
  pId: Float64Array;
  pTs: Float64Array;
  /** the first ok sample at or after it */
  iId: Float64Array;
  iTs: Float64Array;
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
  scan: boolean,
  cache?: ReadCache,
  /** read the span into the cache where it does not hold it */
  keep = scan
): Around {
  const m = edges.length;
  const out: Around = {
    pId: new Float64Array(m),
    pTs: new Float64Array(m),
    iId: new Float64Array(m),
    iTs: new Float64Array(m),
  };
  if (m === 0) {
    return out;
  }
  const set = (j: number, p: OkSample | undefined, i: OkSample | undefined) => {
    out.pId[j] = (p ?? first)[0];
    out.pTs[j] = (p ?? first)[1];
    out.iId[j] = (i ?? last)[0];
    out.iTs[j] = (i ?? last)[1];
  };
  const cached = cache?.samplesOf(prepare, targetId, collector, first[1], last[1], keep);
  if (cached) {
    const { span, start, end } = cached;
    return around(edges, span.id, span.x, span.flag, start, end, first, last, out);
  }
  if (!scan) {
    // per edge in one statement (a call per edge costs more than SQLite's seeks)
    const around = prepare(
      `SELECT p.id, p.ts, n.id, n.ts FROM json_each(@edges) e
       LEFT JOIN sample_row p ON p.id = (SELECT id FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = @t AND collector = @c) AND ts < e.value AND ok = 1 ORDER BY ts DESC, id DESC LIMIT 1)
       LEFT JOIN sample_row n ON n.id = (SELECT id FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = @t AND collector = @c) AND ts >= e.value AND ok = 1 ORDER BY ts, id LIMIT 1)
       ORDER BY e.key`,
      'raw'
    ).all({ edges: JSON.stringify(edges), t: targetId, c: collector }) as Array<
      [number | null, number | null, number | null, number | null]
    >;
    around.forEach(([pid, pts, nid, nts], j) =>
      set(
        j,
        pid !== null && pts !== null ? [pid, pts] : undefined,
        nid !== null && nts !== null ? [nid, nts] : undefined
      )
    );
    return out;
  }
  // every sample of the span from the time index alone (it holds ts and id), handed over one
  // number per row in two walks of one snapshot (Store.stepTotals); the failed ones from the
  // partial index of marked samples
  const span =
    'FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ? AND ts <= ? ORDER BY ts, id';
  const ids = prepare(`SELECT id ${span}`, 'pluck').all(targetId, collector, first[1], last[1]) as number[];
  const ts = prepare(`SELECT ts ${span}`, 'pluck').all(targetId, collector, first[1], last[1]) as number[];
  const failed = new Set(
    prepare(
      'SELECT id FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ? AND ts <= ? AND (resets = 1 OR ok = 0) AND ok = 0',
      'pluck'
    ).all(targetId, collector, first[1], last[1]) as number[]
  );
  const ok = new Uint8Array(ids.length);
  for (let k = 0; k < ids.length; k++) {
    ok[k] = failed.size === 0 || !failed.has(ids[k]) ? 1 : 0;
  }
  return around(edges, ids, ts, ok, 0, ids.length, first, last, out);
}

/** the merge of the edges with the samples start…end (by ts, id) into `out` */
function around(
  edges: number[],
  ids: ArrayLike<number>,
  ts: ArrayLike<number>,
  ok: Uint8Array,
  start: number,
  end: number,
  first: OkSample,
  last: OkSample,
  out: Around
): Around {
  // k: the first sample at or after the edge, p: the last ok one before it (edges ascend, so both
  // only move forward)
  let k = start;
  let p = -1;
  for (let j = 0; j < edges.length; j++) {
    const e = edges[j];
    while (k < end && ts[k] < e) {
      if (ok[k] === 1) {
        p = k;
      }
      k++;
    }
    let i = k;
    while (i < end && ok[i] === 0) {
      i++;
    }
    out.pId[j] = p >= 0 ? ids[p] : first[0];
    out.pTs[j] = p >= 0 ? ts[p] : first[1];
    out.iId[j] = i < end ? ids[i] : last[0];
    out.iTs[j] = i < end ? ts[i] : last[1];
  }
  return out;
}

/** Per sample id (ascending): the last keyframe at or before it (0 when none). */
export function keyframesAt(prepare: Prepare, targetId: number, collector: string, ids: Float64Array): Float64Array {
  const out = new Float64Array(ids.length);
  if (ids.length === 0) {
    return out;
  }
  const before =
    (prepare(
      'SELECT max(id) FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND keyframe = 1 AND id <= ?',
      'pluck'
    ).get(targetId, collector, ids[0]) as number | null) ?? 0;
  // keyframes are one sample in 120: the few of the span in one read of their partial index
  const kfs = prepare(
    'SELECT id FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND keyframe = 1 AND id > ? AND id <= ? ORDER BY id',
    'pluck'
  ).all(targetId, collector, ids[0], ids[ids.length - 1]) as number[];
  let cur = before;
  let k = 0;
  for (let j = 0; j < ids.length; j++) {
    while (k < kfs.length && kfs[k] <= ids[j]) {
      cur = kfs[k++];
    }
    out[j] = cur;
  }
  return out;
}

/**
 * A series' point in force at each of a list of sample ids: where it was stored, value, total.
 * Columns reused from one series to the next (one panel reads many series at the same ids).
 */
export class PointsAt {
  /** sample id of the point in force, -1 where the series has none up to that id */
  readonly at: Float64Array;
  /** 1: the point has a value (a null value: the row had vanished there) */
  readonly valued: Uint8Array;
  /** its running total, NaN where it has none (written before running totals existed) */
  readonly t: Float64Array;
  /** stored rows read */
  rows = 0;

  constructor(n: number) {
    this.at = new Float64Array(n);
    this.valued = new Uint8Array(n);
    this.t = new Float64Array(n);
  }

  reset(): this {
    this.at.fill(-1);
    this.valued.fill(0);
    this.t.fill(NaN);
    this.rows = 0;
    return this;
  }
}

/**
 * The point in force (the last stored at or before) at each id of `ids` (ascending, distinct),
 * into `out`. `idsJson()`: the ids as JSON, for the probes.
 */
export function pointsAt(
  prepare: Prepare,
  seriesId: number,
  ids: Float64Array,
  idsJson: () => string,
  scan: boolean,
  out: PointsAt,
  cache?: ReadCache
): PointsAt {
  out.reset();
  const n = ids.length;
  if (n === 0) {
    return out;
  }
  let oldest: number | null | undefined;
  const oldestRow = () =>
    oldest !== undefined
      ? oldest
      : (oldest = prepare('SELECT min(sample_id) FROM point WHERE series_id = ?', 'pluck').get(seriesId) as
          | number
          | null);
  // a span that is read whole anyway (chunks, or a walk of the rows) is kept for the next query
  const cached = cache?.pointsOf(prepare, seriesId, ids[0], ids[n - 1], () => {
    const o = oldestRow();
    return scan || o === null || ids[0] < o;
  });
  if (cached) {
    const { span, start, end } = cached;
    // k: the last point at or before the id
    let k = start;
    for (let j = 0; j < n; j++) {
      const id = ids[j];
      while (k + 1 < end && span.id[k + 1] <= id) {
        k++;
      }
      if (k >= 0) {
        out.at[j] = span.id[k];
        out.valued[j] = span.flag[k];
        out.t[j] = span.x[k];
      }
    }
    out.rows = end - Math.max(0, start);
    return out;
  }
  if (oldestRow() === null || ids[0] < (oldestRow() as number)) {
    // the chunks of the span and the one before it (it holds the point in force at the first id
    // when that id falls before the next chunk's first point): one read, no lookup of its own
    const chunks = prepare(
      `SELECT data FROM point_chunk WHERE series_id = @s AND first_sample_id <= @b
         AND last_sample_id >= coalesce((SELECT max(last_sample_id) FROM point_chunk WHERE series_id = @s AND last_sample_id < @a), 0)
       ORDER BY last_sample_id`,
      'pluck'
    ).all({ s: seriesId, a: ids[0], b: ids[n - 1] }) as Buffer[];
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
       LEFT JOIN point p ON p.series_id = @s AND p.sample_id = j.value ORDER BY j.key`,
      'pluck'
    ).all({ ids: idsJson(), s: seriesId }) as Array<number | null>;
    const missing: number[] = [];
    for (let j = 0; j < n; j++) {
      const t = exact[j];
      if (t !== null) {
        out.at[j] = ids[j];
        out.valued[j] = 1;
        out.t[j] = t;
      } else {
        missing.push(j);
      }
    }
    out.rows = n - missing.length;
    if (missing.length === 0) {
      return out;
    }
    const rows = prepare(
      // CROSS JOIN keeps json_each outside: one seek per sample, not a walk over the series' points
      `SELECT j.key, p.sample_id, p.value, p.total FROM json_each(?) j
       CROSS JOIN point p ON p.series_id = ? AND p.sample_id = (SELECT max(sample_id) FROM point WHERE series_id = ? AND sample_id <= j.value)`,
      'raw'
    ).all(JSON.stringify(missing.map((j) => ids[j])), seriesId, seriesId) as Array<
      [number, number, number | null, number | null]
    >;
    for (const [k, at, v, t] of rows) {
      const j = missing[k];
      out.at[j] = at;
      out.valued[j] = v !== null ? 1 : 0;
      out.t[j] = t ?? NaN;
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
  const where = prepare(`SELECT iif(value IS NULL, -sample_id, sample_id) ${span}`, 'pluck').all(args) as number[];
  const totals = prepare(`SELECT total ${span}`, 'pluck').all(args) as Array<number | null>;
  const w = new Walk(ids, out);
  for (let r = 0; r < where.length; r++) {
    const at = where[r];
    w.point(Math.abs(at), at > 0 ? 1 : 0, totals[r] ?? NaN);
  }
  w.point(Infinity, 0, NaN);
  out.rows = where.length;
  return out;
}

/**
 * The merge of a series' points (ascending) with the ids: each point is in force at the ids from
 * its own up to the next point's.
 */
class Walk {
  private j = 0;
  private at = -1;
  private valued = 0;
  private t = NaN;

  constructor(
    private readonly ids: Float64Array,
    private readonly out: PointsAt
  ) {}

  /** every id is answered: the points after this one change nothing */
  get done(): boolean {
    return this.j >= this.ids.length;
  }

  point(id: number, valued: number, t: number): void {
    const { ids, out } = this;
    let j = this.j;
    if (j < ids.length && ids[j] < id && this.at >= 0) {
      const { at, valued: val, t: tot } = this;
      for (; j < ids.length && ids[j] < id; j++) {
        out.at[j] = at;
        out.valued[j] = val;
        out.t[j] = tot;
      }
    }
    while (j < ids.length && ids[j] < id) {
      j++; // before the series' first point: none in force
    }
    this.j = j;
    this.at = id;
    this.valued = valued;
    this.t = t;
  }
}

/**
 * The point in force at each id, walking the series' chunks (decoded as columns, no array per
 * point) and then its rows: chunks come before rows.
 */
function inForce(prepare: Prepare, seriesId: number, ids: Float64Array, chunks: Buffer[], out: PointsAt): PointsAt {
  const n = ids.length;
  const w = new Walk(ids, out);
  let read = 0;
  for (let c = 0; c < chunks.length && !w.done; c++) {
    const cols = decodeColumns(chunks[c]);
    for (let k = 0; k < cols.n; k++) {
      const v = cols.v[k];
      w.point(cols.ids[k], v === v ? 1 : 0, cols.t[k]);
    }
    read += cols.n;
  }
  if (!w.done) {
    // the rows after the chunks, one number per row in two walks of the caller's snapshot
    const span = 'FROM point WHERE series_id = ? AND sample_id <= ? ORDER BY sample_id';
    const where = prepare(`SELECT iif(value IS NULL, -sample_id, sample_id) ${span}`, 'pluck').all(
      seriesId,
      ids[n - 1]
    ) as number[];
    const totals = prepare(`SELECT total ${span}`, 'pluck').all(seriesId, ids[n - 1]) as Array<number | null>;
    for (let r = 0; r < where.length; r++) {
      const at = where[r];
      w.point(Math.abs(at), at > 0 ? 1 : 0, totals[r] ?? NaN);
    }
    read += where.length;
  }
  w.point(Infinity, 0, NaN);
  out.rows = read;
  return out;
}

/** the values of some columns, ascending and distinct */
export function distinctSorted(columns: Float64Array[]): Float64Array {
  // each column ascends as a rule (the samples of ascending edges): merged, not sorted
  if (columns.length <= 2 && columns.every(ascending)) {
    const [a, b = new Float64Array(0)] = columns;
    const out = new Float64Array(a.length + b.length);
    let d = 0;
    for (let i = 0, j = 0; i < a.length || j < b.length; ) {
      const x = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
      if (d === 0 || out[d - 1] !== x) {
        out[d++] = x;
      }
    }
    return out.subarray(0, d);
  }
  const all = new Float64Array(columns.reduce((a, c) => a + c.length, 0));
  let k = 0;
  for (const c of columns) {
    all.set(c, k);
    k += c.length;
  }
  all.sort();
  let d = 0;
  for (let j = 0; j < all.length; j++) {
    if (j === 0 || all[j] !== all[d - 1]) {
      all[d++] = all[j];
    }
  }
  return all.subarray(0, d);
}

function ascending(c: Float64Array): boolean {
  for (let k = 1; k < c.length; k++) {
    if (c[k] < c[k - 1]) {
      return false;
    }
  }
  return true;
}
