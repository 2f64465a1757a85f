/**
 * The point side of compaction (Store.compact): the points of removed samples move to the sample
 * that takes their place, found series by series along the primary key (series_id, sample_id).
 * There is no index by sample (migration 6 dropped it: a quarter of each point's bytes), so the
 * removed samples are grouped into spans of the stream's history and each series is read once per
 * span: a pass costs what the spans hold, not a lookup per removed sample in an index.
 */
import { packSeries, takeChunks, writeChunks, type ChunkPoint, type Prepare } from './chunks';

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
 * as UPDATE OR IGNORE in that order would. `order`: the ids of the stream's samples in the order
 * compaction walks them (ascending ids: the order they were written in, which carried values follow),
 * the removed ones and every target among them.
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
    'SELECT sample_id, value, total FROM point WHERE series_id = ? AND sample_id BETWEEN ? AND ?',
    'raw'
  );
  const insert = prepare('INSERT INTO point (series_id, sample_id, value, total) VALUES (?, ?, ?, ?)');
  const drop = prepare('DELETE FROM point WHERE series_id = ? AND sample_id = ?');
  for (const s of seriesIds) {
    for (const { lo, hi } of spans) {
      const chunks = takeChunks(prepare, s, lo, hi);
      const rows = read.all(s, lo, hi) as ChunkPoint[];
      if (rows.length === 0 && chunks.points.length === 0) {
        continue;
      }
      // the span's points: packed ones first (they come before every row), as [id, value, total]
      const at = new Map<number, ChunkPoint>();
      for (const p of chunks.points) {
        at.set(p[0], p);
      }
      const isRow = new Set<number>();
      for (const p of rows) {
        at.set(p[0], p);
        isRow.add(p[0]);
      }
      // only the span's own: a chunk reaching past it is written back, its other points left to their span
      const moving = [...at.values()]
        .filter((p) => p[0] >= lo && p[0] <= hi && rank.has(p[0]))
        .sort((a, b) => (rank.get(a[0]) as number) - (rank.get(b[0]) as number));
      for (const [id, value, total] of moving) {
        const r = removals[rank.get(id) as number];
        if (r.target !== undefined && !at.has(r.target) && (!r.totalsOnly || total !== null)) {
          const p: ChunkPoint = [r.target, r.totalsOnly ? null : value, total];
          at.set(r.target, p);
          // past the packed ones it is a row (packSeries packs it when a chunk follows)
          if (r.target > chunks.end) {
            insert.run(s, ...p);
            isRow.add(r.target);
          }
        }
        at.delete(id);
        if (isRow.delete(id)) {
          drop.run(s, id);
        }
      }
      // what stays of the packed points is packed again, in chunks of up to CHUNK_POINTS
      writeChunks(
        prepare,
        s,
        [...at.values()].filter((p) => p[0] <= chunks.end).sort((a, b) => a[0] - b[0])
      );
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
    ? (prepare(
        'SELECT min(id) FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ?',
        'pluck'
      ).get(targetId, collector, headFrom) as number | null)
    : 0;
  for (const s of seriesIds) {
    packSeries(prepare, s, head ?? Number.MAX_SAFE_INTEGER);
  }
}
