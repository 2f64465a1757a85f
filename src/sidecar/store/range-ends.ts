/**
 * Per series, its stored points in force at the two ends of a range (Store.rangeTotalsBetween):
 * at the start the point itself (sample id, value, running total), at the end its total. The
 * difference of the totals is the series' delta over the range, whatever its length.
 *
 * What costs here is the start of a range older than the head window: it lies inside a chunk,
 * fetched (a Buffer handed to JS) and decoded per series — 1,000 of each for a 24-hour "top
 * queries". Each end is one statement over the series' ids (json_each as the outer loop: a
 * statement per series costs ~7 µs of calls alone), and what it answers is kept in the read
 * cache (read-cache.ts, EdgeFacts) with the sample ids it holds for, so a refreshed table reads
 * only the ends that moved past a point.
 */
import { decodeColumns, type ChunkColumns } from './chunk-codec';
import type { ReadCache } from './read-cache';
import type { Prepare } from './statements';

/** at the end: no point up to it, a point with its total, a point without one (before running totals) */
export const NO_POINT = 0;
export const TOTAL = 1;
export const NO_TOTAL = 2;

/** per series (in the order of `ids`), as columns; NaN stands for null */
export interface RangeEnds {
  /** the point in force at the start: its sample id (NaN: none), value and total */
  k0: Float64Array;
  v0: Float64Array;
  t0: Float64Array;
  /** the point in force at the end: NO_POINT, TOTAL or NO_TOTAL, and that total */
  s1: Uint8Array;
  t1: Float64Array;
}

/** Reads the points in force at sample ids `a` (start) and `b` (end) of each series. */
export function readRangeEnds(
  prepare: Prepare,
  ids: number[],
  a: number,
  b: number,
  cache: ReadCache | undefined
): RangeEnds {
  const n = ids.length;
  const out: RangeEnds = {
    k0: new Float64Array(n).fill(NaN),
    v0: new Float64Array(n).fill(NaN),
    t0: new Float64Array(n).fill(NaN),
    s1: new Uint8Array(n),
    t1: new Float64Array(n).fill(NaN),
  };
  const startMissed: number[] = [];
  const endMissed: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = cache?.edgeAt(ids[i], a, true);
    if (s) {
      out.k0[i] = s.facts.f[s.o + 2];
      out.v0[i] = s.facts.f[s.o + 3];
      out.t0[i] = s.facts.f[s.o + 4];
    } else {
      startMissed.push(i);
    }
    const e = cache?.edgeAt(ids[i], b, false);
    if (e) {
      // a start's fact may be on a point without a running total: the end then has none either, as read
      const t = e.facts.f[e.o + 4];
      out.s1[i] = Number.isNaN(t) ? NO_TOTAL : TOTAL;
      out.t1[i] = t;
    } else {
      endMissed.push(i);
    }
  }
  if (startMissed.length > 0) {
    readStarts(prepare, ids, startMissed, a, cache, out);
  }
  if (endMissed.length > 0) {
    readEnds(prepare, ids, endMissed, b, cache, out);
  }
  return out;
}

function readStarts(
  prepare: Prepare,
  ids: number[],
  which: number[],
  a: number,
  cache: ReadCache | undefined,
  out: RangeEnds
): void {
  const rows = prepare(
    // the row in force (max below, then the primary key) and, to keep it, the next row, which
    // bounds how long it stays in force; no row: the chunk holding the point in force (store/chunks.ts)
    `SELECT p0.sample_id, p0.value, p0.total,
       ${cache ? 'CASE WHEN p0.sample_id IS NOT NULL THEN (SELECT min(sample_id) FROM point WHERE series_id = j.value AND sample_id > @a) END' : 'NULL'},
       CASE WHEN p0.sample_id IS NULL THEN
         (SELECT data FROM point_chunk WHERE series_id = j.value AND first_sample_id <= @a ORDER BY last_sample_id DESC LIMIT 1)
       END
     FROM json_each(@ids) j
     LEFT JOIN point p0 ON p0.series_id = j.value
       AND p0.sample_id = (SELECT max(sample_id) FROM point WHERE series_id = j.value AND sample_id <= @a)`,
    'raw'
  ).all({ a, ids: JSON.stringify(which.map((i) => ids[i])) }) as Array<
    [number | null, number | null, number | null, number | null, Buffer | null]
  >;
  for (let r = 0; r < which.length; r++) {
    const i = which[r];
    const [k, v, t, next, chunk] = rows[r];
    if (k !== null) {
      out.k0[i] = k;
      out.v0[i] = v ?? NaN;
      out.t0[i] = t ?? NaN;
      // the newest row stays in force until a point is appended: past `a`, unknown
      cache?.keepEdge(ids[i], k, next === null ? a : next - 1, k, out.v0[i], out.t0[i]);
    } else if (chunk !== null) {
      const c = decodeColumns(chunk, a);
      const p = inForce(c, a);
      out.k0[i] = c.ids[p];
      out.v0[i] = c.v[p];
      out.t0[i] = c.t[p];
      cache?.keepEdge(ids[i], c.ids[p], p + 1 < c.n ? c.ids[p + 1] - 1 : a, c.ids[p], c.v[p], c.t[p]);
    }
  }
}

function readEnds(
  prepare: Prepare,
  ids: number[],
  which: number[],
  b: number,
  cache: ReadCache | undefined,
  out: RangeEnds
): void {
  const totals = prepare(
    // only the total is needed: one descent ('none': a point without one, NULL: no row)
    `SELECT (SELECT coalesce(total, 'none') FROM point WHERE series_id = j.value AND sample_id <= @b
             ORDER BY sample_id DESC LIMIT 1)
     FROM json_each(@ids) j`,
    'pluck'
  ).all({ b, ids: JSON.stringify(which.map((i) => ids[i])) }) as Array<number | 'none' | null>;
  // no row up to the end (one older than the head window): the chunk holding the point in force
  const packed = which.filter((_, r) => totals[r] === null);
  const chunks =
    packed.length === 0
      ? []
      : (prepare(
          `SELECT (SELECT data FROM point_chunk WHERE series_id = j.value AND first_sample_id <= @b
                   ORDER BY last_sample_id DESC LIMIT 1)
           FROM json_each(@ids) j`,
          'pluck'
        ).all({ b, ids: JSON.stringify(packed.map((i) => ids[i])) }) as Array<Buffer | null>);
  for (let r = 0, q = 0; r < which.length; r++) {
    const i = which[r];
    let t = totals[r];
    const chunk = t === null ? chunks[q++] : null;
    if (chunk) {
      const c = decodeColumns(chunk, b);
      const p = inForce(c, b);
      t = Number.isNaN(c.t[p]) ? 'none' : c.t[p];
      if (t !== 'none') {
        cache?.keepEdge(ids[i], c.ids[p], p + 1 < c.n ? c.ids[p + 1] - 1 : b, c.ids[p], c.v[p], t);
      }
    } else if (typeof t === 'number') {
      // the point in force at `b` itself: an append comes after it
      cache?.keepEdge(ids[i], b, b, NaN, NaN, t);
    }
    if (t === null) {
      out.s1[i] = NO_POINT;
    } else if (t === 'none') {
      out.s1[i] = NO_TOTAL;
    } else {
      out.s1[i] = TOTAL;
      out.t1[i] = t;
    }
  }
}

/**
 * The index of the point in force at x in a chunk decoded up to the first point past x (the
 * chunk holds one ≤ x): the point after it, if decoded, bounds how long it stays in force.
 */
function inForce(c: ChunkColumns, x: number): number {
  let p = c.n - 1;
  while (p > 0 && c.ids[p] > x) {
    p--;
  }
  return p;
}
