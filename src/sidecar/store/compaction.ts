/**
 * The point side of compaction (Store.compact): the points of removed samples move to the sample
 * that takes their place, found series by series along the primary key (series_id, sample_id).
 * There is no index by sample (migration 6 dropped it: a quarter of each point's bytes), so the
 * removed samples are grouped into spans of the stream's history and each series is read once per
 * span: a pass costs what the spans hold, not a lookup per removed sample in an index.
 */
import { packSeries, unpackChunks, type Prepare } from './chunks';

/** What becomes of one removed sample's points. */
export interface Removal {
  id: number;
  /** the kept sample its points move to (undefined: they are dropped) */
  target: number | undefined;
  /** the target took a dropped keyframe's points: only running totals move there, the value stays null */
  totalsOnly: boolean;
}

/**
 * removed samples further apart than this many kept ones start a span of their own: between them
 * each series' points would be read for nothing
 */
const SPAN_GAP = 16;

/**
 * Moves the points of `removals` (in the order compaction decided them: latest sample first) to
 * their targets for every series of the stream, and deletes them. A target that already has a point
 * for a series keeps it; otherwise the first removal (the latest) to reach it gives it its point,
 * as UPDATE OR IGNORE in that order would. `order`: the ids of the stream's samples ascending by
 * time, the removed ones and every target among them.
 */
export function moveRemovedPoints(prepare: Prepare, seriesIds: number[], order: number[], removals: Removal[]): void {
  if (removals.length === 0 || seriesIds.length === 0) {
    return;
  }
  const rank = new Map(removals.map((r, i) => [r.id, i]));
  const position = new Map(order.map((id, i) => [id, i]));
  // spans of the stream's order, each from a removed sample to its target, merged when close
  const ends = removals
    .map((r) => {
      const at = position.get(r.id) as number;
      return { at, to: r.target === undefined ? at : (position.get(r.target) as number) };
    })
    .sort((a, b) => a.at - b.at);
  const spans: Array<{ lo: number; hi: number }> = [];
  let from = ends[0].at;
  let to = ends[0].to;
  const close = () => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = from; i <= to; i++) {
      lo = Math.min(lo, order[i]);
      hi = Math.max(hi, order[i]);
    }
    spans.push({ lo, hi });
  };
  for (const e of ends) {
    if (e.at > to + SPAN_GAP) {
      close();
      from = e.at;
      to = e.to;
    } else {
      to = Math.max(to, e.to);
    }
  }
  close();
  const read = prepare(
    'SELECT sample_id, value, total FROM point WHERE series_id = ? AND sample_id BETWEEN ? AND ?'
  ).raw();
  const insert = prepare('INSERT INTO point (series_id, sample_id, value, total) VALUES (?, ?, ?, ?)');
  const drop = prepare('DELETE FROM point WHERE series_id = ? AND sample_id = ?');
  for (const s of seriesIds) {
    for (const { lo, hi } of spans) {
      // packed points of the span are moved as rows (packed again after, packSeries)
      unpackChunks(prepare, s, lo, hi);
      const rows = read.all(s, lo, hi) as Array<[number, number | null, number | null]>;
      if (rows.length === 0) {
        continue;
      }
      const present = new Set(rows.map((r) => r[0]));
      const moving = rows
        .filter((r) => rank.has(r[0]))
        .sort((a, b) => (rank.get(a[0]) as number) - (rank.get(b[0]) as number));
      for (const [id, value, total] of moving) {
        const r = removals[rank.get(id) as number];
        if (r.target !== undefined && !present.has(r.target) && (!r.totalsOnly || total !== null)) {
          insert.run(s, r.target, r.totalsOnly ? null : value, total);
          present.add(r.target);
        }
        drop.run(s, id);
      }
    }
  }
}

/**
 * Packs every series of a stream older than the head: its rows before the first sample at or
 * after `headFrom` (a time), all but each series' newest (store/chunks.ts).
 */
export function packStream(
  prepare: Prepare,
  targetId: number,
  collector: string,
  seriesIds: number[],
  headFrom: number
): void {
  // no head window (headFrom −∞): nothing new is packed
  const head = Number.isFinite(headFrom)
    ? (prepare('SELECT min(id) FROM sample WHERE target_id = ? AND collector = ? AND ts >= ?')
        .pluck()
        .get(targetId, collector, headFrom) as number | null)
    : 0;
  for (const s of seriesIds) {
    packSeries(prepare, s, head ?? Number.MAX_SAFE_INTEGER);
  }
}
