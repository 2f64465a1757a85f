/**
 * Where each series' values are not null over a range, read at its ends (Store.valueEnds): the
 * first and the last ok sample at which matrix() would show a value, and the value at the last —
 * a few primary-key lookups per series instead of a value per series per sample. What the advisor
 * needs of gauges (their newest value) and of a row's span (first and last seen, still present).
 *
 * matrix() carries a series' stored point forward from sample to sample until its next point or a
 * keyframe without one (a keyframe holds every row present then), and shows null at failed
 * samples. So the value at an ok sample is the point in force there, unless a keyframe came in
 * between; and a non-null point N stays visible up to (not including) the first of its series' next
 * point and the next keyframe after it. Points are written at ok samples only, and compaction
 * moves them to ok samples.
 */
import { epochOf, inheritEpochs } from './sample-epochs';
import { decodeChunk, type ChunkPoint } from './chunk-codec';
import { chunkPointAfter, chunkPointAt, type Prepare } from './chunks';

export interface ValueEnd {
  /** the series' labels as stored (canonicalLabels) */
  labels: string;
  field: string;
  /** the first ok sample in the range where the value is not null */
  first: { id: number; ts: number } | null;
  /**
   * the last one, and the value there; with `epochs`, also the counters' epoch there: the row's own
   * (its `_epoch` as matrix() shows it at that sample), else the sample's
   */
  last: { id: number; ts: number; value: number; epoch?: number | null } | null;
}

export interface ValueEnds {
  /** the first ok sample of the range (as samples() lists them): counter deltas pair it with the next */
  firstOk: { id: number; ts: number } | undefined;
  /** the last ok sample of the range (as samples() lists them): a row with a value there is present */
  lastOk: { id: number; ts: number } | undefined;
  series: ValueEnd[];
}

/** ascending ids: the index of the last one ≤ x, -1 when none */
function lastAtOrBelow(ids: Float64Array | number[], n: number, x: number): number {
  let lo = 0;
  let hi = n - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ids[mid] <= x) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/**
 * The ends of the values of every series of `fields` of one history over samples(…, from, to): the
 * last ok sample before `from` and the ok samples in [from, to]. Series are listed whenever the range
 * holds a sample (as matrix() lists them), with null ends when no ok sample shows a value.
 */
export function readValueEnds(
  prepare: Prepare,
  targetId: number,
  collector: string,
  fields: string[],
  from: number,
  to: number,
  /** told of each lookup, for the reading query's budget */
  read: (lookups: number) => void,
  epochs = false
): ValueEnds {
  const before = prepare(
    `SELECT id, ts, ${epochOf('r')} AS epoch FROM sample_row r WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts < ? AND ok = 1 ORDER BY ts DESC, id DESC LIMIT 1`,
    'raw'
  ).get(targetId, collector, from) as [number, number, number | null] | undefined;
  const any = prepare(
    'SELECT 1 FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ? AND ts <= ? LIMIT 1',
    'pluck'
  ).get(targetId, collector, from, to);
  if (fields.length === 0 || (!before && any === undefined)) {
    return { firstOk: undefined, lastOk: undefined, series: [] };
  }
  // the ok samples in order (two numbers each, not an object per sample: the range may be the whole history)
  let okIds = new Float64Array(1024);
  let okTs = new Float64Array(1024);
  /** the samples' epochs, NaN for none */
  let okEpochs = new Float64Array(1024);
  let n = 0;
  const push = (id: number, ts: number, epoch: number | null) => {
    if (n === okIds.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      okIds = grow(okIds);
      okTs = grow(okTs);
      okEpochs = grow(okEpochs);
    }
    okIds[n] = id;
    okTs[n] = ts;
    okEpochs[n] = epoch ?? NaN;
    n++;
  };
  if (before) {
    push(...before);
  }
  const inRange = prepare(
    'SELECT id, ts, epoch, keyframe FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ? AND ts <= ? AND ok = 1 ORDER BY ts, id',
    'raw'
  ).all(targetId, collector, from, to) as Array<[number, number, number | null, number]>;
  inheritEpochs(
    prepare,
    targetId,
    collector,
    inRange.length,
    (i) => inRange[i][0],
    (i) => inRange[i][3] === 0 && inRange[i][2] === null,
    (i, e) => (inRange[i][2] = e)
  );
  for (const [id, ts, epoch] of inRange) {
    push(id, ts, epoch);
  }
  const placeholders = fields.map(() => '?').join(',');
  // listed as matrix() lists them (Store.readPoints), in the same order
  const series = prepare(
    `SELECT id, labels, field FROM series WHERE target_id = ? AND collector = ? AND field IN (${placeholders})`,
    'raw'
  ).all(targetId, collector, ...fields) as Array<[number, string, string]>;
  if (n === 0) {
    // only failed samples: matrix() shows every series, without values
    return {
      firstOk: undefined,
      lastOk: undefined,
      series: series.map(([, labels, field]) => ({ labels, field, first: null, last: null })),
    };
  }
  const a = okIds[0];
  const b = okIds[n - 1];
  const keyframes = prepare(
    'SELECT id FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND keyframe = 1 AND id <= ? ORDER BY id',
    'pluck'
  ).all(targetId, collector, b) as number[];
  /** the first keyframe after x, Infinity when none */
  const keyframeAfter = (x: number) => {
    const i = lastAtOrBelow(keyframes, keyframes.length, x) + 1;
    return i < keyframes.length ? keyframes[i] : Infinity;
  };

  const rowAtOrBefore = prepare(
    'SELECT sample_id, value FROM point WHERE series_id = ? AND sample_id <= ? ORDER BY sample_id DESC LIMIT 1',
    'raw'
  );
  const newestRow = prepare(
    'SELECT sample_id, value FROM point WHERE series_id = ? AND sample_id >= ? AND sample_id <= ? AND value IS NOT NULL ORDER BY sample_id DESC LIMIT 1',
    'raw'
  );
  const firstRow = prepare(
    'SELECT sample_id FROM point WHERE series_id = ? AND sample_id >= ? AND sample_id <= ? AND value IS NOT NULL ORDER BY sample_id LIMIT 1',
    'pluck'
  );
  const rowAfter = prepare(
    'SELECT sample_id FROM point WHERE series_id = ? AND sample_id > ? ORDER BY sample_id LIMIT 1',
    'pluck'
  );
  const chunksNewestFirst = prepare(
    'SELECT data FROM point_chunk WHERE series_id = ? AND last_sample_id >= ? AND first_sample_id <= ? ORDER BY last_sample_id DESC',
    'pluck'
  );
  const chunksOldestFirst = prepare(
    'SELECT data FROM point_chunk WHERE series_id = ? AND last_sample_id >= ? AND first_sample_id <= ? ORDER BY last_sample_id',
    'pluck'
  );

  // every chunked point of a series comes before its rows (store/chunks.ts): rows first when
  // looking back, chunks first when looking forward
  const pointAtOrBefore = (sid: number, x: number): [number, number | null] | undefined => {
    const r = rowAtOrBefore.get(sid, x) as [number, number | null] | undefined;
    if (r) {
      return r;
    }
    const c = chunkPointAt(prepare, sid, x);
    return c ? [c[0], c[1]] : undefined;
  };
  const newestNonNull = (sid: number, lo: number, hi: number): [number, number] | undefined => {
    const r = newestRow.get(sid, lo, hi) as [number, number] | undefined;
    if (r) {
      return r;
    }
    for (const data of chunksNewestFirst.iterate(sid, lo, hi) as Iterable<Buffer>) {
      const pts: ChunkPoint[] = decodeChunk(data);
      for (let k = pts.length - 1; k >= 0; k--) {
        const [id, v] = pts[k];
        if (id >= lo && id <= hi && v !== null) {
          return [id, v];
        }
      }
    }
    return undefined;
  };
  const firstNonNull = (sid: number, lo: number, hi: number): number | undefined => {
    for (const data of chunksOldestFirst.iterate(sid, lo, hi) as Iterable<Buffer>) {
      for (const [id, v] of decodeChunk(data)) {
        if (id >= lo && id <= hi && v !== null) {
          return id;
        }
      }
    }
    return firstRow.get(sid, lo, hi) as number | undefined;
  };
  const pointAfter = (sid: number, x: number): number => {
    const c = chunkPointAfter(prepare, sid, x);
    return c ? c[0] : ((rowAfter.get(sid, x) as number | undefined) ?? Infinity);
  };

  /** the value matrix() shows at an ok sample: the point in force there, unless a keyframe came after it */
  const valueAt = (sid: number, x: number): number | null => {
    const p = pointAtOrBefore(sid, x);
    return p !== undefined && keyframeAfter(p[0]) > x ? p[1] : null;
  };
  const rowEpochSeries = epochs
    ? new Map(
        prepare(`SELECT labels, id FROM series WHERE target_id = ? AND collector = ? AND field = '_epoch'`, 'raw').all(
          targetId,
          collector
        ) as Array<[string, number]>
      )
    : undefined;
  /** per row, its epoch at the sample last looked up (a row's counters mostly end at the same one) */
  const rowEpochAt = new Map<string, [number, number | null]>();
  const epochAt = (labels: string, j: number): number | null => {
    const sid = rowEpochSeries?.get(labels);
    let own: number | null = null;
    if (sid !== undefined) {
      const known = rowEpochAt.get(labels);
      if (known && known[0] === okIds[j]) {
        own = known[1];
      } else {
        own = valueAt(sid, okIds[j]);
        rowEpochAt.set(labels, [okIds[j], own]);
        read(1);
      }
    }
    return own ?? (Number.isNaN(okEpochs[j]) ? null : okEpochs[j]);
  };

  const out: ValueEnd[] = [];
  for (const [sid, labels, field] of series) {
    // the value at the range's first ok sample: the point in force there, unless a keyframe came after it
    const p = pointAtOrBefore(sid, a);
    const atStart = p !== undefined && p[1] !== null && keyframeAfter(p[0]) > a ? p : undefined;
    // the newest non-null point that shows in the range: in force at its start, or inside it
    const newest = newestNonNull(sid, atStart ? atStart[0] : a + 1, b);
    read(3);
    if (!newest) {
      out.push({ labels, field, first: null, last: null });
      continue;
    }
    // it shows until the series' next point or the next keyframe, whichever comes first
    const end = Math.min(pointAfter(sid, newest[0]), keyframeAfter(newest[0]));
    const j = lastAtOrBelow(okIds, n, Math.min(end - 1, b));
    const firstId = atStart ? a : firstNonNull(sid, a + 1, b);
    // the first ok sample at or after that point (the point's own)
    const i = firstId === undefined ? n : lastAtOrBelow(okIds, n, firstId - 1) + 1;
    read(2);
    out.push({
      labels,
      field,
      first: i >= n ? null : { id: okIds[i], ts: okTs[i] },
      last:
        j < 0
          ? null
          : epochs
            ? { id: okIds[j], ts: okTs[j], value: newest[1], epoch: epochAt(labels, j) }
            : { id: okIds[j], ts: okTs[j], value: newest[1] },
    });
  }
  return { firstOk: { id: a, ts: okTs[0] }, lastOk: { id: b, ts: okTs[n - 1] }, series: out };
}
