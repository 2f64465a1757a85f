/**
 * What a read connection keeps decoded between queries for Store.stepTotals: per stream its
 * samples (id, ts, ok) and per series its points (id, valued, total), each over one span of the
 * history, as columns; and for Store.rangeTotalsBetween per series its points in force at the
 * range ends it was last asked for (EdgeFacts). A dashboard that refreshes a panel reads the same edges again: from here
 * they cost a merge in JS instead of SQLite handing over every point and JS decoding every chunk
 * again (cache_hit_ratio over 24 h: ≈46,000 points a query).
 *
 * Exact by construction, not by expiry. The history changes in only two ways:
 * - appended: a new sample, with a sample id above every existing one, and its points at that
 *   id. A span read up to sample id `hi` (or time `hiTs`) is extended by reading what lies past it;
 * - rewritten (compaction, retention, the running-totals fill-in): every sample deleted or
 *   updated, point updated, chunk written or deleted bumps `read_generation` (triggers, migration
 *   9) in the same transaction, and points are moved or deleted only together with one of those.
 *   A snapshot that sees another generation drops everything.
 *   The newest sample's update moves nothing (its reset mark and keyframe flag are set after it is
 *   written): so this cache must never keep `resets` or `keyframe`.
 * A file without that table (read-only, written before migration 9) is read without the cache.
 *
 * Bounded: spans are evicted least recently used first past `budgetBytes`.
 */
import { decodeColumns } from './chunk-codec';
import type { Prepare } from './statements';

/** bytes a query connection may keep decoded (17 per point or sample) */
export const READ_CACHE_BYTES = 16 * 1024 * 1024;
const BYTES_PER_ENTRY = 17;
/** the triggers of migration 9 */
const TRIGGERS = ['sample_delete', 'sample_update', 'point_update', 'chunk_insert', 'chunk_delete', 'chunk_update'];

/** growable columns: id, a flag, a number */
class Columns {
  id = new Float64Array(64);
  flag = new Uint8Array(64);
  x = new Float64Array(64);
  n = 0;

  push(id: number, flag: number, x: number): void {
    if (this.n === this.id.length) {
      const grow = <T extends Float64Array | Uint8Array>(a: T, b: T): T => {
        b.set(a);
        return b;
      };
      const cap = Math.max(64, this.n * 2);
      this.id = grow(this.id, new Float64Array(cap));
      this.flag = grow(this.flag, new Uint8Array(cap));
      this.x = grow(this.x, new Float64Array(cap));
    }
    this.id[this.n] = id;
    this.flag[this.n] = flag;
    this.x[this.n++] = x;
  }

  /** gives back the room a read left over */
  trim(): void {
    if (this.id.length > this.n) {
      this.id = this.id.slice(0, this.n);
      this.flag = this.flag.slice(0, this.n);
      this.x = this.x.slice(0, this.n);
    }
  }

  get bytes(): number {
    return this.id.length * BYTES_PER_ENTRY;
  }
}

/**
 * A series' points: every one with a sample id in (the point in force at `lo`) … `hi`, ascending;
 * flag = the point has a value, x = its running total (NaN: none).
 */
export class PointSpan extends Columns {
  constructor(
    public lo: number,
    public hi: number
  ) {
    super();
  }
}

/** A stream's samples with ts in [loTs, hiTs], by (ts, id); flag = ok; x = ts. */
export class SampleSpan extends Columns {
  constructor(
    public loTs: number,
    public hiTs: number,
    /** the highest sample id (any stream) when read: later samples have higher ones */
    public maxId: number
  ) {
    super();
  }
}

/** facts kept per series: two with the point's sample id (range starts: two ranges), one without (an end) */
const FACTS = 3;
const END_SLOT = 2;
/** numbers per fact: lo, hi, at, v, t */
const FACT_WIDTH = 5;

/**
 * A series' points in force at range ends (Store.rangeTotalsBetween): each fact says "at every
 * sample id in lo…hi the point in force is the one at `at`, with value v and running total t"
 * (NaN: null; `at` NaN: not known, only its total). A refreshed "top queries" table finds its
 * start here instead of fetching and decoding the chunk that holds it. An append never lands in
 * lo…hi: hi is at most the sample id the fact was read at or the id before a point that exists.
 * A refresh reads a new end on every new sample: ends have a slot of their own, so they do not
 * push out the starts, which hold until the next point.
 */
export class EdgeFacts {
  readonly f = new Float64Array(FACTS * FACT_WIDTH).fill(NaN);
  private next = 0;

  add(lo: number, hi: number, at: number, v: number, t: number): void {
    let slot = END_SLOT;
    if (!Number.isNaN(at)) {
      slot = this.next;
      this.next = (this.next + 1) % END_SLOT;
    }
    const o = slot * FACT_WIDTH;
    this.f[o] = lo;
    this.f[o + 1] = hi;
    this.f[o + 2] = at;
    this.f[o + 3] = v;
    this.f[o + 4] = t;
  }

  /** the offset in `f` of a fact covering sample id x (with `at` known when asked), or -1 */
  find(x: number, needAt: boolean): number {
    // an empty slot's NaN bounds hold no x
    for (let k = 0; k < FACTS; k++) {
      const o = k * FACT_WIDTH;
      if (this.f[o] <= x && x <= this.f[o + 1] && (!needAt || !Number.isNaN(this.f[o + 2]))) {
        return o;
      }
    }
    return -1;
  }

  get bytes(): number {
    // the array, and what a Map entry and this object cost besides
    return this.f.byteLength + 96;
  }
}

/**
 * A stream's series of some fields as the series table lists them (id, labels, field), with each
 * row's labels parsed once and frozen (they are handed to every query that lists them). Series
 * are only ever inserted: a list is good while no series has been added since (`maxId`).
 */
export class SeriesList {
  readonly parsed = new Map<string, Readonly<Record<string, string>>>();
  readonly bytes: number;

  constructor(
    readonly maxId: number,
    readonly rows: Array<[id: number, labels: string, field: string]>,
    parse: (labels: string) => Record<string, string>
  ) {
    let bytes = 0;
    for (const [, labels] of rows) {
      if (!this.parsed.has(labels)) {
        this.parsed.set(labels, Object.freeze(parse(labels)));
        // the string twice (stored, parsed), an object and a Map entry
        bytes += 4 * labels.length + 160;
      }
    }
    this.bytes = bytes + rows.length * 48;
  }
}

export class ReadCache {
  private generation: number | undefined;
  /** least recently used first */
  private readonly points = new Map<number, PointSpan>();
  private readonly samples = new Map<string, SampleSpan>();
  private readonly edges = new Map<number, EdgeFacts>();
  private readonly lists = new Map<string, SeriesList>();
  private bytes = 0;
  /** what the last snapshot answered from the cache (tests check the cached path is taken) */
  readonly stats = { hits: 0, reads: 0, extended: 0, dropped: 0, evicted: 0, edgeHits: 0, edgeReads: 0 };

  constructor(readonly budgetBytes = READ_CACHE_BYTES) {}

  /**
   * At the start of a read snapshot: whether the cache may be used in it (the file has a
   * generation), dropping everything when the history was rewritten since the last one.
   */
  begin(prepare: Prepare): boolean {
    let gen: number | undefined;
    try {
      // all six triggers: a table dropped and made again (by hand, in tests) loses its own
      gen = prepare(
        `SELECT n FROM read_generation WHERE (SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (${TRIGGERS.map((t) => `'read_generation_${t}'`).join(', ')})) = ${TRIGGERS.length}`,
        'pluck'
      ).get() as number | undefined;
    } catch {
      gen = undefined; // no such table: a file migration 9 has not run on
    }
    if (gen === undefined || gen !== this.generation) {
      this.clear();
      if (this.generation !== undefined) {
        this.stats.dropped++;
      }
    }
    this.generation = gen;
    return gen !== undefined;
  }

  clear(): void {
    this.points.clear();
    this.samples.clear();
    this.edges.clear();
    this.lists.clear();
    this.bytes = 0;
  }

  /** the series list kept under `key` if no series was added since (`maxId`), else `read` and kept */
  seriesList(key: string, maxId: number, read: () => SeriesList): SeriesList {
    const kept = this.lists.get(key);
    if (kept && kept.maxId === maxId) {
      this.touch(this.lists, key, kept);
      return kept;
    }
    this.forget(this.lists, key);
    const list = read();
    this.lists.set(key, list);
    this.grow(list.bytes);
    return list;
  }

  /**
   * The facts kept on the series (EdgeFacts) and the offset of one covering sample id x, or
   * undefined. Counted as a hit or, when `missed`, a read.
   */
  edgeAt(seriesId: number, x: number, needAt: boolean): { facts: EdgeFacts; o: number } | undefined {
    const facts = this.edges.get(seriesId);
    const o = facts ? facts.find(x, needAt) : -1;
    if (facts && o >= 0) {
      this.stats.edgeHits++;
      this.touch(this.edges, seriesId, facts);
      return { facts, o };
    }
    this.stats.edgeReads++;
    return undefined;
  }

  /** keeps a fact on the series' point in force over sample ids lo…hi (EdgeFacts) */
  keepEdge(seriesId: number, lo: number, hi: number, at: number, v: number, t: number): void {
    let facts = this.edges.get(seriesId);
    if (!facts) {
      facts = new EdgeFacts();
      this.edges.set(seriesId, facts);
      this.grow(facts.bytes);
    }
    facts.add(lo, hi, at, v, t);
  }

  /** bytes held now */
  get size(): number {
    return this.bytes;
  }

  /**
   * The series' points from the one in force at `lo` to `hi`: from the cache (extended past its
   * end when `hi` lies beyond it), or read when `read` allows it (else undefined). `start`: the
   * index of the point in force at `lo` (-1 … none), `end`: past the last one ≤ hi.
   */
  pointsOf(
    prepare: Prepare,
    seriesId: number,
    lo: number,
    hi: number,
    /** whether to read the span when the cache does not hold it */
    read: () => boolean
  ): { span: PointSpan; start: number; end: number } | undefined {
    let span = this.points.get(seriesId);
    if (span && span.lo <= lo) {
      this.stats.hits++;
      // the most recent before it grows: growing evicts from the least recent
      this.touch(this.points, seriesId, span);
      if (span.hi < hi) {
        const before = span.bytes;
        readPoints(prepare, seriesId, span, span.hi, hi);
        span.hi = hi;
        this.stats.extended++;
        this.grow(span.bytes - before);
      }
    } else if (read()) {
      this.stats.reads++;
      span = new PointSpan(lo, hi);
      readPoints(prepare, seriesId, span, undefined, hi);
      span.trim();
      this.forget(this.points, seriesId);
      this.points.set(seriesId, span);
      this.grow(span.bytes);
    } else {
      return undefined;
    }
    // the last point ≤ lo, and past the last ≤ hi
    const end = upperBound(span.id, span.n, hi);
    const start = upperBound(span.id, end, lo) - 1;
    return { span, start, end };
  }

  /**
   * The stream's samples with ts in [fromTs, toTs], by (ts, id), as PointsOf does for points:
   * `start`…`end` index them in the span.
   */
  samplesOf(
    prepare: Prepare,
    targetId: number,
    collector: string,
    fromTs: number,
    toTs: number,
    read: boolean
  ): { span: SampleSpan; start: number; end: number } | undefined {
    const key = `${targetId}\u0000${collector}`;
    let span = this.samples.get(key);
    const maxId = () =>
      (prepare('SELECT id FROM sample_row ORDER BY id DESC LIMIT 1', 'pluck').get() as number | null) ?? 0;
    // appended samples come after the span in time too; one that does not (a clock set back)
    // lands inside it: then it is read afresh. Checked over the samples written since (the rowid)
    const insertedInside = (s: SampleSpan, now: number) =>
      now > s.maxId &&
      prepare(
        'SELECT 1 FROM sample_row WHERE id > ? AND +stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND +ts <= ? LIMIT 1',
        'pluck'
      ).get(s.maxId, targetId, collector, s.hiTs) !== undefined;
    if (span) {
      const now = maxId();
      if (span.loTs > fromTs || insertedInside(span, now)) {
        this.forget(this.samples, key);
        span = undefined;
      } else {
        span.maxId = now;
      }
    }
    if (span) {
      this.stats.hits++;
      // the most recent before it grows: growing evicts from the least recent
      this.touch(this.samples, key, span);
      if (span.hiTs < toTs) {
        const before = span.bytes;
        readSamples(prepare, targetId, collector, span, span.hiTs, toTs);
        span.hiTs = toTs;
        this.stats.extended++;
        this.grow(span.bytes - before);
      }
    } else if (read) {
      this.stats.reads++;
      span = new SampleSpan(fromTs, toTs, maxId());
      readSamples(prepare, targetId, collector, span, undefined, toTs);
      span.trim();
      this.forget(this.samples, key);
      this.samples.set(key, span);
      this.grow(span.bytes);
    } else {
      return undefined;
    }
    return { span, start: lowerBound(span.x, span.n, fromTs), end: upperBound(span.x, span.n, toTs) };
  }

  private touch<K, V>(map: Map<K, V>, key: K, value: V): void {
    map.delete(key);
    map.set(key, value);
  }

  private forget<K>(map: Map<K, { bytes: number }>, key: K): void {
    const old = map.get(key);
    if (old) {
      this.bytes -= old.bytes;
      map.delete(key);
    }
  }

  /** accounts for new bytes, evicting the least recently used spans past the budget (never the newest) */
  private grow(delta: number): void {
    this.bytes += delta;
    for (const map of [this.points, this.samples, this.edges, this.lists] as Array<Map<unknown, { bytes: number }>>) {
      for (const [k, v] of map) {
        if (this.bytes <= this.budgetBytes || map.size <= 1) {
          break;
        }
        this.bytes -= v.bytes;
        map.delete(k);
        this.stats.evicted++;
      }
    }
  }
}

/** the first index in a[0…n) whose value is > x */
function upperBound(a: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] <= x) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/** the first index in a[0…n) whose value is ≥ x */
function lowerBound(a: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < x) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/**
 * Appends the series' points to `into`: those with sample ids in (after, hi], or with `after`
 * undefined from the point in force at into.lo. Chunks come before rows (store/chunks.ts).
 */
function readPoints(prepare: Prepare, seriesId: number, into: PointSpan, after: number | undefined, hi: number): void {
  const from = after ?? into.lo;
  const oldestRow = prepare('SELECT min(sample_id) FROM point WHERE series_id = ?', 'pluck').get(seriesId) as
    | number
    | null;
  if (oldestRow === null || from < oldestRow) {
    // with no `after`: the chunk before `lo` too, it may hold the point in force there
    const chunks = prepare(
      `SELECT data FROM point_chunk WHERE series_id = @s AND first_sample_id <= @b
         AND last_sample_id >= coalesce((SELECT max(last_sample_id) FROM point_chunk WHERE series_id = @s AND last_sample_id < @a), 0)
       ORDER BY last_sample_id`,
      'pluck'
    ).all({ s: seriesId, a: after === undefined ? from : from + 1, b: hi }) as Buffer[];
    for (const data of chunks) {
      const c = decodeColumns(data);
      for (let k = 0; k < c.n; k++) {
        const id = c.ids[k];
        if (id > hi) {
          break;
        }
        if (after !== undefined && id <= after) {
          continue;
        }
        const v = c.v[k];
        into.push(id, v === v ? 1 : 0, c.t[k]);
      }
    }
  }
  if (oldestRow === null || hi < oldestRow) {
    return;
  }
  // rows: one number per row in two walks of the caller's snapshot; without `after` from the
  // row in force at `lo` (a chunk before it is superseded: points before it drop out below)
  const span =
    after === undefined
      ? `FROM point WHERE series_id = @s AND sample_id <= @b
           AND sample_id >= coalesce((SELECT max(sample_id) FROM point WHERE series_id = @s AND sample_id <= @a), 0)
         ORDER BY sample_id`
      : 'FROM point WHERE series_id = @s AND sample_id > @a AND sample_id <= @b ORDER BY sample_id';
  const args = { s: seriesId, a: from, b: hi };
  const where = prepare(`SELECT iif(value IS NULL, -sample_id, sample_id) ${span}`, 'pluck').all(args) as number[];
  const totals = prepare(`SELECT total ${span}`, 'pluck').all(args) as Array<number | null>;
  for (let r = 0; r < where.length; r++) {
    const at = where[r];
    into.push(Math.abs(at), at > 0 ? 1 : 0, totals[r] ?? NaN);
  }
}

/** Appends the stream's samples with ts in (after, toTs] (with `after` undefined: [into.loTs, toTs]). */
function readSamples(
  prepare: Prepare,
  targetId: number,
  collector: string,
  into: SampleSpan,
  after: number | undefined,
  toTs: number
): void {
  const span = `FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts ${after === undefined ? '>=' : '>'} ? AND ts <= ? ORDER BY ts, id`;
  const from = after ?? into.loTs;
  const ids = prepare(`SELECT id ${span}`, 'pluck').all(targetId, collector, from, toTs) as number[];
  const ts = prepare(`SELECT ts ${span}`, 'pluck').all(targetId, collector, from, toTs) as number[];
  // `(resets = 1 OR ok = 0)` is the partial index sample_marks' condition, written out so SQLite
  // uses that index (failed samples are few) rather than walking every sample of the span
  const failed = new Set(
    prepare(
      `SELECT id FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts ${after === undefined ? '>=' : '>'} ? AND ts <= ? AND (resets = 1 OR ok = 0) AND ok = 0`,
      'pluck'
    ).all(targetId, collector, from, toTs) as number[]
  );
  for (let k = 0; k < ids.length; k++) {
    into.push(ids[k], failed.has(ids[k]) ? 0 : 1, ts[k]);
  }
}
