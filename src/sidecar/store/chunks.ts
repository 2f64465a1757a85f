/**
 * Cold chunks: a series' points older than the head window, packed at compaction into rows of
 * `point_chunk` (up to CHUNK_POINTS points each, store/chunk-codec.ts) instead of a row per point.
 *
 * One rule keeps every read simple: **all of a series' chunked points come before all of its
 * rows** (by sample id), and its newest point is always a row. So where a series has a row at or
 * before a sample, that row is the point in force there and chunks need not be read; only a read
 * reaching further back than the series' oldest row looks into its chunks. Writers only append
 * rows; compaction takes the chunks it changes (takeChunks), writes them back thinned
 * (writeChunks) and packs rows (packSeries) inside one transaction, so readers never see the rule
 * broken. unpackChunks is for the running-totals fill-in, which rewrites points as rows.
 */
import { decodeChunk, decodeColumns, encodeChunk, type ChunkColumns, type ChunkPoint } from './chunk-codec';
import type { Prepare } from './statements';

export type { ChunkPoint } from './chunk-codec';

export type { Prepare } from './statements';

/** points per chunk: a read that needs one point decodes at most this many */
export const CHUNK_POINTS = 128;
/**
 * rows past the head are packed once there are this many: each packing decodes and re-encodes the
 * series' last chunk, so an hourly pass that packed every series' few new points cost ten times
 * the thinning (bench/results/compaction.md)
 */
const MIN_PACK = 32;

/** the series' chunked points with ids in [lo, hi], ascending */
export function chunkPointsIn(prepare: Prepare, seriesId: number, lo: number, hi: number): ChunkPoint[] {
  const blobs = prepare(
    'SELECT data FROM point_chunk WHERE series_id = ? AND last_sample_id >= ? AND first_sample_id <= ? ORDER BY last_sample_id',
    'pluck'
  ).all(seriesId, lo, hi) as Buffer[];
  const out: ChunkPoint[] = [];
  for (const b of blobs) {
    for (const p of decodeChunk(b)) {
      if (p[0] >= lo && p[0] <= hi) {
        out.push(p);
      }
    }
  }
  return out;
}

/** the chunked point in force at `at` (the last with an id ≤ at), if any */
export function chunkPointAt(prepare: Prepare, seriesId: number, at: number): ChunkPoint | undefined {
  const around = prepare(
    'SELECT first_sample_id, data FROM point_chunk WHERE series_id = ? AND last_sample_id >= ? ORDER BY last_sample_id LIMIT 1',
    'raw'
  ).get(seriesId, at) as [number, Buffer] | undefined;
  if (around && around[0] <= at) {
    return lastPointUpTo(around[1], at);
  }
  const before = prepare(
    'SELECT data FROM point_chunk WHERE series_id = ? AND last_sample_id < ? ORDER BY last_sample_id DESC LIMIT 1',
    'pluck'
  ).get(seriesId, at) as Buffer | undefined;
  if (!before) {
    return undefined;
  }
  const c = decodeColumns(before);
  return point(c, c.n - 1);
}

function point(c: ChunkColumns, k: number): ChunkPoint {
  return [c.ids[k], Number.isNaN(c.v[k]) ? null : c.v[k], Number.isNaN(c.t[k]) ? null : c.t[k]];
}

/** the last point with an id ≤ at of a chunk that holds one */
export function lastPointUpTo(data: Buffer, at: number): ChunkPoint {
  const c = decodeColumns(data, at);
  let k = c.n - 1;
  while (k > 0 && c.ids[k] > at) {
    k--;
  }
  return point(c, k);
}

/** the first chunked point with an id > after, if any */
export function chunkPointAfter(prepare: Prepare, seriesId: number, after: number): ChunkPoint | undefined {
  const data = prepare(
    'SELECT data FROM point_chunk WHERE series_id = ? AND last_sample_id > ? ORDER BY last_sample_id LIMIT 1',
    'pluck'
  ).get(seriesId, after) as Buffer | undefined;
  if (!data) {
    return undefined;
  }
  const c = decodeColumns(data, after);
  let k = 0;
  while (c.ids[k] <= after) {
    k++;
  }
  return point(c, k);
}

/**
 * Removes the series' chunks that overlap [lo, hi] and returns their points (ascending) and the
 * last id they held (−∞ when none): compaction changes them and writes them back (writeChunks).
 */
export function takeChunks(
  prepare: Prepare,
  seriesId: number,
  lo: number,
  hi: number
): { points: ChunkPoint[]; end: number } {
  const chunks = prepare(
    'SELECT last_sample_id, data FROM point_chunk WHERE series_id = ? AND last_sample_id >= ? AND first_sample_id <= ? ORDER BY last_sample_id',
    'raw'
  ).all(seriesId, lo, hi) as Array<[number, Buffer]>;
  const drop = prepare('DELETE FROM point_chunk WHERE series_id = ? AND last_sample_id = ?');
  const points: ChunkPoint[] = [];
  for (const [last, data] of chunks) {
    points.push(...decodeChunk(data));
    drop.run(seriesId, last);
  }
  return { points, end: chunks.length > 0 ? chunks[chunks.length - 1][0] : -Infinity };
}

/** Writes a series' points (ascending, between its other chunks) as chunks of up to CHUNK_POINTS. */
export function writeChunks(prepare: Prepare, seriesId: number, points: ChunkPoint[]): void {
  const insert = prepare(
    'INSERT INTO point_chunk (series_id, last_sample_id, first_sample_id, n, data) VALUES (?, ?, ?, ?, ?)'
  );
  for (let k = 0; k < points.length; k += CHUNK_POINTS) {
    const part = points.slice(k, k + CHUNK_POINTS);
    insert.run(seriesId, part[part.length - 1][0], part[0][0], part.length, encodeChunk(part));
  }
}

/** Turns the series' chunks that overlap [lo, hi] back into rows (compaction changes them next). */
export function unpackChunks(prepare: Prepare, seriesId: number, lo: number, hi: number): void {
  const chunks = prepare(
    'SELECT last_sample_id, data FROM point_chunk WHERE series_id = ? AND last_sample_id >= ? AND first_sample_id <= ?',
    'raw'
  ).all(seriesId, lo, hi) as Array<[number, Buffer]>;
  const insert = prepare('INSERT INTO point (series_id, sample_id, value, total) VALUES (?, ?, ?, ?)');
  const drop = prepare('DELETE FROM point_chunk WHERE series_id = ? AND last_sample_id = ?');
  for (const [last, data] of chunks) {
    for (const [id, v, t] of decodeChunk(data)) {
      insert.run(seriesId, id, v, t);
    }
    drop.run(seriesId, last);
  }
}

/**
 * Packs the series' rows with a sample id below `before` into chunks, all but its newest row, once
 * there are `minPack` of them (rows before a chunk always; benches pack a copy with 1). Rows
 * between existing chunks (compaction unpacked one) become chunks of their own there; rows after
 * the last chunk top it up first when it is not full.
 */
export function packSeries(prepare: Prepare, seriesId: number, before: number, minPack = MIN_PACK): void {
  // rows before a chunk are packed whatever the head (a larger head window, points compaction
  // moved into a sample before a chunk): chunks must stay before rows
  const lastChunk = prepare('SELECT max(last_sample_id) FROM point_chunk WHERE series_id = ?', 'pluck').get(
    seriesId
  ) as number | null;
  if (lastChunk !== null && lastChunk >= before) {
    before = lastChunk + 1;
  }
  const rows = prepare(
    'SELECT sample_id, value, total FROM point WHERE series_id = ? AND sample_id < ? ORDER BY sample_id',
    'raw'
  ).all(seriesId, before) as ChunkPoint[];
  if (rows.length === 0) {
    return;
  }
  const newest = prepare('SELECT max(sample_id) FROM point WHERE series_id = ?', 'pluck').get(seriesId) as number;
  if (rows[rows.length - 1][0] === newest) {
    rows.pop();
  }
  // a few new rows wait for more (packing re-encodes the last chunk), unless a chunk follows them
  if (rows.length === 0 || (rows.length < minPack && (lastChunk === null || lastChunk < rows[0][0]))) {
    return;
  }
  // chunks after the first row split the rows into runs: a chunk never spans another one
  const firsts = prepare(
    'SELECT first_sample_id FROM point_chunk WHERE series_id = ? AND last_sample_id > ? ORDER BY 1',
    'pluck'
  ).all(seriesId, rows[0][0]) as number[];
  const previous = prepare(
    'SELECT last_sample_id, n, data FROM point_chunk WHERE series_id = ? AND last_sample_id < ? ORDER BY last_sample_id DESC LIMIT 1',
    'raw'
  );
  const insert = prepare(
    'INSERT INTO point_chunk (series_id, last_sample_id, first_sample_id, n, data) VALUES (?, ?, ?, ?, ?)'
  );
  const dropChunk = prepare('DELETE FROM point_chunk WHERE series_id = ? AND last_sample_id = ?');
  const dropRows = prepare('DELETE FROM point WHERE series_id = ? AND sample_id >= ? AND sample_id <= ?');
  let f = 0;
  for (let i = 0; i < rows.length; ) {
    while (f < firsts.length && firsts[f] < rows[i][0]) {
      f++;
    }
    const stop = f < firsts.length ? firsts[f] : Infinity;
    let j = i;
    while (j < rows.length && rows[j][0] < stop) {
      j++;
    }
    const run = rows.slice(i, j);
    dropRows.run(seriesId, run[0][0], run[run.length - 1][0]);
    const prev = previous.get(seriesId, run[0][0]) as [number, number, Buffer] | undefined;
    let points = run;
    if (prev && prev[1] < CHUNK_POINTS) {
      points = [...decodeChunk(prev[2]), ...run];
      dropChunk.run(seriesId, prev[0]);
    }
    writeChunks(prepare, seriesId, points);
    i = j;
  }
}
