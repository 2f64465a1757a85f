/**
 * Server-wide collectors stored once per server. Targets that are databases of one server share
 * one read per cycle of each server-wide view (cluster/shared-reads.ts); the result is written once,
 * under the server's own history (a target row named serverStreamName()), and every member's
 * stream of that collector is an alias of it: stream_alias (migration 7) says over which time a
 * target's (target, collector) history is held by which other history. Reads resolve it here:
 *
 * - no alias row: the target's own history, as before;
 * - one history holds the whole range (the usual case: a target that joined its server's group
 *   when it was added, whose alias starts at 0): the read goes to that history unchanged;
 * - else the range is made of pieces (the target's own history before it joined, the server's
 *   after; a server stream left and another taken): samples carry the history they come from
 *   (SampleInfo.stream), so matrix and range totals read each piece from its own history and
 *   values carry across the change as raw values. Running-total shortcuts answer undefined
 *   there and the callers take their raw path.
 *
 * Why a server history rather than "the first target's": which member reads first changes (a
 * target removed, failing, its timer drifted) but the history it writes to does not, so no member
 * sees a gap or a cut when the reader changes — only joining or leaving the group is a change.
 */
import { epochOf, inheritEpochs } from './sample-epochs';
import type Database from 'better-sqlite3';
import type { Prepare } from './statements';
import type { EntityInfo, RangeTotal, SampleInfo, SeriesValues } from './types';

/** names of server histories: a colon is not allowed in a configured target name, so they never clash */
export const SERVER_STREAM_PREFIX = 'server:';

export function isServerStream(name: string): boolean {
  return name.startsWith(SERVER_STREAM_PREFIX);
}

/** a stretch of a target's history held by one stored history ([from, to], ms, inclusive) */
export interface StreamPiece {
  id: number;
  name: string;
  own: boolean;
  from: number;
  to: number;
}

/** where a read of (target, collector) over a range goes */
export type Route = { target: string } | { pieces: StreamPiece[] };

const END = Number.MAX_SAFE_INTEGER;

interface AliasRow {
  id: number;
  name: string;
  from: number;
  to: number;
}

const tables = new WeakMap<Database.Database, true>();

/** whether the file has stream_alias (a read-only file of an older version does not) */
export function hasAliases(db: Database.Database): boolean {
  if (tables.has(db)) {
    return true;
  }
  const found = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stream_alias'").get();
  if (found) {
    tables.set(db, true);
  }
  return found !== undefined;
}

function aliasRows(prep: Prepare, targetId: number, collector: string, from: number, to: number): AliasRow[] {
  return (
    prep(
      `SELECT a.source_id, t.name, a.from_ts, coalesce(a.to_ts, ${END}) FROM stream_alias a JOIN target t ON t.id = a.source_id
       WHERE a.target_id = ? AND a.collector = ? AND a.from_ts <= ? AND (a.to_ts IS NULL OR a.to_ts >= ?) ORDER BY a.from_ts`,
      'raw'
    ).all(targetId, collector, to, from) as Array<[number, string, number, number]>
  ).map(([id, name, f, t]) => ({ id, name, from: f, to: t }));
}

/** the whole range [from, to] as pieces: alias rows and the target's own history between them */
function timeline(
  prep: Prepare,
  target: { id: number; name: string },
  collector: string,
  from: number,
  to: number
): StreamPiece[] {
  const out: StreamPiece[] = [];
  let cursor = from;
  for (const r of aliasRows(prep, target.id, collector, from, to)) {
    if (r.from > cursor) {
      out.push({ id: target.id, name: target.name, own: true, from: cursor, to: r.from - 1 });
    }
    const piece = { id: r.id, name: r.name, own: false, from: Math.max(r.from, cursor), to: Math.min(r.to, to) };
    out.push(piece);
    cursor = piece.to + 1;
  }
  if (cursor <= to) {
    out.push({ id: target.id, name: target.name, own: true, from: cursor, to });
  }
  return out;
}

function hasSamples(prep: Prepare, p: StreamPiece, collector: string): boolean {
  return (
    prep(
      'SELECT 1 FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ? AND ts <= ? LIMIT 1'
    ).get(p.id, collector, p.from, p.to) !== undefined
  );
}

/**
 * Which history answers (target, collector) over [from, to]: one name when one history holds the
 * whole range and also the time back to the last ok sample before it (deltas start there), else
 * the pieces, each clipped to its time (stretches of the target's own history without samples
 * left out).
 */
export function route(
  db: Database.Database,
  prep: Prepare,
  target: { id: number; name: string },
  collector: string,
  from: number,
  to: number
): Route {
  if (target.id < 0 || !hasAliases(db)) {
    return { target: target.name };
  }
  const lo = Math.max(0, Math.min(from, to));
  const hi = Math.min(END, Math.max(from, to));
  // all of the target's rows for the collector: one per change of history, a handful at most
  const rows = aliasRows(prep, target.id, collector, 0, END);
  if (rows.length === 0) {
    return { target: target.name };
  }
  const over = rows.filter((r) => r.from <= hi && r.to >= lo);
  const held =
    over.length === 0
      ? {
          id: target.id,
          name: target.name,
          start: rows.filter((r) => r.to < lo).reduce((m, r) => Math.max(m, r.to + 1), 0),
        }
      : over.length === 1 && over[0].from <= lo && over[0].to >= hi
        ? { id: over[0].id, name: over[0].name, start: over[0].from }
        : undefined;
  if (held) {
    // ordered, not max(): the index walks back from `lo` to the first ok sample instead of reading all before it
    const before = prep(
      'SELECT ts FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts < ? AND ok = 1 ORDER BY ts DESC LIMIT 1',
      'pluck'
    ).get(held.id, collector, lo) as number | undefined;
    if (before === undefined ? held.start === 0 : before >= held.start) {
      return { target: held.name };
    }
  }
  return {
    pieces: timeline(prep, target, collector, lo, hi).filter((p) => !p.own || hasSamples(prep, p, collector)),
  };
}

/** samples(target, collector, from, to) over pieces: each piece's samples, tagged with its history */
export function stitchSamples(
  prep: Prepare,
  target: { id: number; name: string },
  collector: string,
  pieces: StreamPiece[],
  from: number,
  to: number
): SampleInfo[] {
  const tag = (p: StreamPiece, r: [number, number, number, number | null]): SampleInfo => ({
    id: r[0],
    ts: r[1],
    ok: r[2] === 1,
    epoch: r[3],
    stream: p.name,
  });
  // deltas need the last ok sample before `from`: in the history that held the time before it
  let before: SampleInfo | undefined;
  const earlier = from > 0 ? timeline(prep, target, collector, 0, from - 1).reverse() : [];
  for (const p of earlier.slice(0, 3)) {
    const r = prep(
      `SELECT id, ts, ok, ${epochOf('r')} AS epoch FROM sample_row r WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ? AND ts <= ? AND ok = 1 ORDER BY ts DESC, id DESC LIMIT 1`,
      'raw'
    ).get(p.id, collector, p.from, p.to) as [number, number, number, number | null] | undefined;
    if (r) {
      before = tag(p, r);
      break;
    }
  }
  const out: SampleInfo[] = before ? [before] : [];
  for (const p of pieces) {
    const rows = prep(
      'SELECT id, ts, ok, epoch, keyframe FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ? AND ts <= ? ORDER BY ts, id',
      'raw'
    ).all(p.id, collector, Math.max(from, p.from), Math.min(to, p.to)) as Array<
      [number, number, number, number | null, number]
    >;
    inheritEpochs(
      prep,
      p.id,
      collector,
      rows.length,
      (i) => rows[i][0],
      (i) => rows[i][2] === 1 && rows[i][4] === 0 && rows[i][3] === null,
      (i, e) => (rows[i][3] = e)
    );
    for (const [id, ts, ok, epoch] of rows) {
      out.push(tag(p, [id, ts, ok, epoch]));
    }
  }
  return out;
}

/**
 * Samples grouped into runs of one history each: undefined when they all come from `target`'s own
 * (what callers without routing pass), else the runs with their offsets.
 */
export function runsOf(
  target: string,
  samples: SampleInfo[]
): Array<{ stream: string; at: number; samples: SampleInfo[] }> | undefined {
  const first = samples[0]?.stream ?? target;
  if (samples.every((s) => (s.stream ?? target) === first)) {
    // one history (the usual case): no copy of the samples
    return first === target ? undefined : [{ stream: first, at: 0, samples }];
  }
  const runs: Array<{ stream: string; at: number; samples: SampleInfo[] }> = [];
  samples.forEach((s, i) => {
    const stream = s.stream ?? target;
    const last = runs[runs.length - 1];
    if (last && last.stream === stream) {
      last.samples.push(s);
    } else {
      runs.push({ stream, at: i, samples: [s] });
    }
  });
  return runs;
}

/** matrix() over runs of several histories: each run from its own, series joined by labels and field */
export function stitchMatrix(
  runs: NonNullable<ReturnType<typeof runsOf>>,
  total: number,
  read: (stream: string, samples: SampleInfo[]) => SeriesValues[]
): SeriesValues[] {
  const out = new Map<string, SeriesValues>();
  for (const run of runs) {
    for (const s of read(run.stream, run.samples)) {
      const key = `${JSON.stringify(Object.entries(s.labels).sort())}\u0000${s.field}`;
      let into = out.get(key);
      if (!into) {
        into = { labels: s.labels, field: s.field, values: new Array<number | null>(total).fill(null) };
        out.set(key, into);
      }
      for (let j = 0; j < s.values.length; j++) {
        into.values[run.at + j] = s.values[j];
      }
    }
  }
  return [...out.values()];
}

/**
 * rangeTotals() over runs of several histories: the sum of each run's totals. The one delta
 * across a change of history (joining or leaving the server's group) is not counted here; the
 * step sums (stepTotals undefined → matrix) do count it.
 */
export function stitchTotals(
  runs: NonNullable<ReturnType<typeof runsOf>>,
  read: (stream: string, samples: SampleInfo[]) => RangeTotal[]
): RangeTotal[] {
  const out = new Map<string, RangeTotal>();
  for (const run of runs) {
    for (const t of read(run.stream, run.samples)) {
      const key = `${JSON.stringify(Object.entries(t.labels).sort())}\u0000${t.field}`;
      const into = out.get(key);
      if (into) {
        into.total += t.total;
        into.seen ||= t.seen;
      } else {
        out.set(key, { ...t });
      }
    }
  }
  return [...out.values()];
}

/** the histories a target's stream of a collector has ever been held by (its own first) */
export function sources(prep: Prepare, target: { id: number; name: string }, collector: string): StreamPiece[] {
  return [
    { id: target.id, name: target.name, own: true, from: 0, to: END },
    ...aliasRows(prep, target.id, collector, 0, END).map((r) => ({ ...r, own: false })),
  ];
}

/** lastSample() over every history that held the stream: the latest sample of them all */
export function lastOf(
  prep: Prepare,
  pieces: StreamPiece[],
  collector: string,
  okOnly: boolean
): SampleInfo | undefined {
  let best: SampleInfo | undefined;
  for (const p of pieces) {
    const r = prep(
      `SELECT id, ts, ok, ${epochOf('r')} AS epoch FROM sample_row r WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ? AND ts <= ? ${okOnly ? 'AND ok = 1' : ''} ORDER BY ts DESC, id DESC LIMIT 1`,
      'raw'
    ).get(p.id, collector, p.from, p.to) as [number, number, number, number | null] | undefined;
    if (r && (!best || r[1] > best.ts)) {
      best = { id: r[0], ts: r[1], ok: r[2] === 1, epoch: r[3], stream: p.name };
    }
  }
  return best;
}

/** entities() over every history that held the stream: one per labels, the most recently seen */
export function mergeEntities(lists: EntityInfo[][]): EntityInfo[] {
  const out = new Map<string, EntityInfo>();
  for (const list of lists) {
    for (const e of list) {
      const key = JSON.stringify(Object.entries(e.labels).sort());
      const had = out.get(key);
      if (!had || e.lastSeen > had.lastSeen) {
        out.set(key, had ? { ...e, firstSeen: Math.min(e.firstSeen, had.firstSeen) } : e);
      } else {
        had.firstSeen = Math.min(had.firstSeen, e.firstSeen);
      }
    }
  }
  return [...out.values()];
}

/**
 * The writer's side: from `ts` on, the target's stream of the collector is held by `sourceId`
 * (undefined: by its own history again). A row left open (to_ts NULL) runs until the next change,
 * so a steady member writes nothing here per cycle; a sidecar restart reopens the row it closed
 * when the target's own history got nothing in between.
 */
export function setAlias(
  prep: Prepare,
  targetId: number,
  collector: string,
  sourceId: number | undefined,
  ts: number
): void {
  const open = prep(
    'SELECT source_id, from_ts FROM stream_alias WHERE target_id = ? AND collector = ? AND to_ts IS NULL',
    'raw'
  ).get(targetId, collector) as [number, number] | undefined;
  if (open && open[0] === sourceId) {
    return;
  }
  if (open) {
    prep('UPDATE stream_alias SET to_ts = ? WHERE target_id = ? AND collector = ? AND from_ts = ?').run(
      Math.max(open[1], ts - 1),
      targetId,
      collector,
      open[1]
    );
  }
  if (sourceId === undefined) {
    return;
  }
  const last = prep(
    'SELECT source_id, from_ts, to_ts FROM stream_alias WHERE target_id = ? AND collector = ? ORDER BY from_ts DESC LIMIT 1',
    'raw'
  ).get(targetId, collector) as [number, number, number] | undefined;
  const ownOk = (after: number) =>
    prep(
      'SELECT 1 FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts > ? AND ok = 1 LIMIT 1'
    ).get(targetId, collector, after) !== undefined;
  if (last && last[0] === sourceId && !ownOk(last[2])) {
    prep('UPDATE stream_alias SET to_ts = NULL WHERE target_id = ? AND collector = ? AND from_ts = ?').run(
      targetId,
      collector,
      last[1]
    );
    return;
  }
  // a target with no history of its own (added with its server's group) has the server's from the start
  const from = last ? Math.max(ts, last[2] + 1) : ownOk(-1) ? ts : 0;
  prep('INSERT INTO stream_alias (target_id, collector, source_id, from_ts, to_ts) VALUES (?, ?, ?, ?, NULL)').run(
    targetId,
    collector,
    sourceId,
    from
  );
}

/** every open alias of the target ends at `ts` (the target stopped: removed from the configuration) */
export function endAliases(prep: Prepare, targetId: number, ts: number): void {
  prep('UPDATE stream_alias SET to_ts = max(from_ts, ?) WHERE target_id = ? AND to_ts IS NULL').run(ts, targetId);
}

/** the history holding the target's stream of the collector now (an open row), if any */
export function openAlias(prep: Prepare, targetId: number, collector: string): string | undefined {
  return prep(
    'SELECT t.name FROM stream_alias a JOIN target t ON t.id = a.source_id WHERE a.target_id = ? AND a.collector = ? AND a.to_ts IS NULL',
    'pluck'
  ).get(targetId, collector) as string | undefined;
}

/** the latest history named `prefix…` that held any stream of the target */
export function lastSourceLike(prep: Prepare, targetId: number, prefix: string): string | undefined {
  return prep(
    `SELECT t.name FROM stream_alias a JOIN target t ON t.id = a.source_id
     WHERE a.target_id = ? AND substr(t.name, 1, ?) = ? ORDER BY coalesce(a.to_ts, ${END}) DESC LIMIT 1`,
    'pluck'
  ).get(targetId, prefix.length, prefix) as string | undefined;
}

/**
 * The history that would go on holding the target's stream: the open row's, or the last closed
 * one's when the target's own history got nothing after it (a sidecar restart, a stop and start)
 */
export function resumable(prep: Prepare, targetId: number, collector: string): string | undefined {
  const last = prep(
    `SELECT t.name, a.to_ts FROM stream_alias a JOIN target t ON t.id = a.source_id
     WHERE a.target_id = ? AND a.collector = ? ORDER BY a.from_ts DESC LIMIT 1`,
    'raw'
  ).get(targetId, collector) as [string, number | null] | undefined;
  if (!last) {
    return undefined;
  }
  const [name, to] = last;
  const ownAfter =
    to !== null &&
    prep(
      'SELECT 1 FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts > ? AND ok = 1 LIMIT 1'
    ).get(targetId, collector, to) !== undefined;
  return ownAfter ? undefined : name;
}
