/**
 * Migration 11: an ok sample that is not a keyframe stores no epoch — it has its keyframe's. The
 * writer starts a keyframe at every epoch change (and at the first sample after opening), and
 * compaction writes the epoch into any sample it makes a keyframe, so the epoch in force at an ok
 * sample is the latest keyframe's at or before it, by id. Failed samples and keyframes keep theirs.
 * 8 of a sample row's ≈49 bytes (docs/benchmarks.md §9.3).
 */
import type { Prepare } from './statements';

/** SQL: the epoch of the sample_row aliased `r` (for reads of a row or a few) */
export function epochOf(r: string): string {
  return `CASE WHEN ${r}.epoch IS NOT NULL OR ${r}.keyframe = 1 OR ${r}.ok = 0 THEN ${r}.epoch ELSE (SELECT k.epoch FROM sample_row k WHERE k.stream = ${r}.stream AND k.keyframe = 1 AND k.id < ${r}.id ORDER BY k.id DESC LIMIT 1) END`;
}

/** the stored epoch of a sample the writer writes */
export function storedEpoch(ok: boolean, keyframe: boolean, epoch: number | null): number | null {
  return ok && !keyframe ? null : epoch;
}

/**
 * The epochs of many samples of one stream read as stored (with their keyframe flag): those an ok
 * sample takes from its keyframe are filled in from one read of the stream's keyframes over their
 * ids, instead of a lookup per row. `inherits(i)`: row i is ok, not a keyframe, epoch null.
 */
export function inheritEpochs(
  prepare: Prepare,
  targetId: number,
  collector: string,
  n: number,
  idAt: (i: number) => number,
  inherits: (i: number) => boolean,
  set: (i: number, epoch: number | null) => void
): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    if (inherits(i)) {
      lo = Math.min(lo, idAt(i));
      hi = Math.max(hi, idAt(i));
    }
  }
  if (lo > hi) {
    return;
  }
  const stream = '(SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?)';
  const start = prepare(
    `SELECT max(id) FROM sample_row WHERE stream = ${stream} AND keyframe = 1 AND id < ?`,
    'pluck'
  ).get(targetId, collector, lo) as number | null;
  const keyframes = prepare(
    `SELECT id, epoch FROM sample_row WHERE stream = ${stream} AND keyframe = 1 AND id >= ? AND id < ? ORDER BY id`,
    'raw'
  ).all(targetId, collector, start ?? 0, hi) as Array<[number, number | null]>;
  for (let i = 0; i < n; i++) {
    if (!inherits(i)) {
      continue;
    }
    const id = idAt(i);
    // the last keyframe below id
    let a = 0;
    let b = keyframes.length - 1;
    let at = -1;
    while (a <= b) {
      const m = (a + b) >> 1;
      if (keyframes[m][0] < id) {
        at = m;
        a = m + 1;
      } else {
        b = m - 1;
      }
    }
    set(i, at < 0 ? null : keyframes[at][1]);
  }
}

/** a sample row read with its ok and keyframe flags; `epoch` as stored until inheritRowEpochs fills it in */
export interface EpochRow {
  id: number;
  ok: number;
  keyframe: number;
  epoch: number | null;
}

/** inheritEpochs over rows read as objects: each ok sample that is not a keyframe and stores no epoch gets its keyframe's */
export function inheritRowEpochs(prepare: Prepare, targetId: number, collector: string, rows: EpochRow[]): void {
  inheritEpochs(
    prepare,
    targetId,
    collector,
    rows.length,
    (i) => rows[i].id,
    (i) => rows[i].ok === 1 && rows[i].keyframe === 0 && rows[i].epoch === null,
    (i, e) => (rows[i].epoch = e)
  );
}
