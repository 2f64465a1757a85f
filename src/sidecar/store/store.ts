/**
 * The sidecar's history: SQLite (better-sqlite3) in WAL mode. Counters are stored raw and only
 * when they change (plus periodic keyframes), so sampling thousands of statements per cycle writes
 * only what moved; the engine turns raw values into deltas at read time.
 */
import Database from 'better-sqlite3';
import {
  accessSync,
  constants as fsConstants,
  existsSync,
  mkdirSync,
  readFileSync,
  statfsSync,
  statSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { describeFault, nextDelayMs, storeFaultKind, StoreWriteError, type StoreProblem } from './faults';
import {
  distinctSorted,
  estimateSamples,
  keyframesAt,
  okSamplesAround,
  pointsAt,
  PointsAt,
  SCAN_POINTS_PER_READ,
  SCAN_SAMPLES_PER_EDGE,
  KEEP_SAMPLES_PER_EDGE,
} from './edge-reads';
import { decodeChunk } from './chunk-codec';
import { chunkPointAfter, chunkPointsIn, CHUNK_POINTS } from './chunks';
import { NO_POINT, NO_TOTAL, readRangeEnds } from './range-ends';
import { moveRemovedPoints, packStream, type Removal } from './compaction';
import {
  applyMigrations,
  MigrationDiskFullError,
  standInForMissingTables,
  standInStreamsOf,
  unknownMigrations,
  type SampleRewriteNotes,
} from './migrations';
import { aggregateField, aggregateGroup, AGGREGATE_LABEL, stepCounter, type CounterCarry } from './running-totals';
import { ReadCache, SeriesList } from './read-cache';
import { scrubStatement } from './scrub';
import { CarryColumn, LabelColumn, NumberColumn, SeriesIndex } from './series-columns';
import { readValueEnds, type ValueEnd, type ValueEnds } from './value-ends';
import { epochOf, inheritRowEpochs, storedEpoch } from './sample-epochs';
import { StatementCache, type FixedStatement, type Prepare, type StatementMode } from './statements';
import {
  endAliases,
  hasAliases,
  isServerStream,
  lastOf,
  lastSourceLike,
  openAlias,
  mergeEntities,
  resumable,
  route,
  runsOf,
  setAlias,
  sources,
  stitchMatrix,
  stitchSamples,
  stitchTotals,
  type Route,
} from './stream-alias';
import type {
  CollectedSample,
  EntityInfo,
  LabelFilter,
  RangeTotal,
  SampleInfo,
  SeriesValues,
  StepTotals,
  StoredEvent,
} from './types';

/** a full copy of every value this often, so readers never scan far back to carry values forward */
const KEYFRAME_EVERY = 120;
/** a history file larger than this is not copied into memory when it can only be read */
const MAX_SNAPSHOT_BYTES = 1 << 30;
/** page cache of a query worker's read connection, KiB */
const READER_CACHE_KIB = 32 * 1024;
/**
 * Page cache of the writer's connection, KiB (PGPULSE_STORE_CACHE_KIB). better-sqlite3 builds SQLite
 * with a 16 MB default (SQLITE_DEFAULT_CACHE_SIZE=-16000), not SQLite's 2 MB; a sampling cycle's
 * inserts land on pages all over the point index, so the writer's cache fills to the limit and
 * stays there: ≈19 MB of a sidecar's native memory with 5,000 statements (jemalloc's heap profile,
 * docs/benchmarks.md §8.5). Pages it no longer holds are read back from the OS's file cache.
 */
export const WRITER_CACHE_KIB = 2 * 1024;

/** PGPULSE_STORE_CACHE_KIB: the writer's page cache in KiB (default WRITER_CACHE_KIB) */
export function storeCacheKib(env: NodeJS.ProcessEnv): number {
  const raw = env.PGPULSE_STORE_CACHE_KIB;
  if (raw === undefined || raw === '') {
    return WRITER_CACHE_KIB;
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 64 || n > 4 * 1024 * 1024) {
    throw new Error(
      `PGPULSE_STORE_CACHE_KIB must be a whole number of KiB from 64 to 4194304 (the history writer's SQLite page cache; default ${WRITER_CACHE_KIB}), got "${raw}"`
    );
  }
  return n;
}
/**
 * The stream that records "pgpulse stayed away on purpose" (recordAwayByDesign): an empty sample
 * row per gate decision. The name is what histories written before this API hold, so they stay
 * readable; no collector may take it (assemble refuses).
 */
export const AWAY_BY_DESIGN_STREAM = 'neon_idle';
/** the event kind of a wall clock set back behind a target's history (writeSample) */
export const CLOCK_SET_BACK_EVENT = 'clock_set_back';

/** bytes free to an unprivileged user on the filesystem of dir (Infinity: cannot tell) */
function freeBytes(dir: string): number {
  try {
    const fs = statfsSync(dir);
    return fs.bavail * fs.bsize;
  } catch {
    return Infinity;
  }
}

/** the history file of a data directory */
export function storeFile(dataDir: string): string {
  return join(dataDir, 'pgpulse.db');
}

export function canonicalLabels(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  return JSON.stringify(keys.map((k) => [k, labels[k]]));
}

function finite(raw: number | null | undefined): number | null {
  return raw === null || raw === undefined || !Number.isFinite(raw) ? null : raw;
}

function parseLabels(s: string): Record<string, string> {
  return Object.fromEntries(JSON.parse(s) as Array<[string, string]>);
}

function matches(labels: Record<string, string>, filter: LabelFilter | undefined): boolean {
  if (!filter) {
    return true;
  }
  for (const [k, v] of Object.entries(filter)) {
    if (v !== undefined && labels[k] !== v) {
      return false;
    }
  }
  return true;
}

/** what writeSample remembers of one row of a stream: its series ids by field slot, its entity info */
interface RowCache {
  ids: number[];
  info: string | undefined;
}

/**
 * The rows of one stream (target, collector) by their labels string: one key per row for its series
 * ids and entity info, and a field's id at the field's slot in an array of small integers — a Map
 * of field names per row and a second labels-keyed map held ~3× the memory (bench/store-cache-memory.ts)
 */
interface StreamRows {
  slots: Map<string, number>;
  rows: Map<string, RowCache>;
}

interface StreamState {
  /** the slots of the stream's series in the columns below (series-columns.ts) */
  index: SeriesIndex;
  /** last value written per series id: a value equal to it is not written again */
  last: NumberColumn;
  sinceKeyframe: number;
  epoch: number | null | undefined;
  /** running totals (running-totals.ts): loaded from the file at the first ok write after opening */
  counters?: CounterState;
  /**
   * the stream's newest stored ts (-Infinity: none): no sample is stamped below it, so within a
   * stream ids (write order) never disagree with times, which every reader relies on
   */
  newestTs: number;
  /** the last sample came while the clock was behind newestTs (its set-back was told once) */
  behind: boolean;
}

function newStreamState(newestTs: number): StreamState {
  const index = new SeriesIndex();
  return {
    index,
    last: new NumberColumn(index),
    sinceKeyframe: KEYFRAME_EVERY,
    epoch: undefined,
    newestTs,
    behind: false,
  };
}

/** a stream whose samples came with a ts below its newest stored one: the wall clock was set back */
export interface ClockSetBack {
  /** the stream: its target (a server history's name for a server-wide one) and collector */
  target: string;
  collector: string;
  /** the ts the sample came with, and the stream's newest stored ts it is stamped at instead */
  clockTs: number;
  stampedTs: number;
  /** what the sidecar logs: the stream, how far the clock went back, what the writer does about it */
  message: string;
}

/** a duration for a person: ms under a second, s under two minutes, min under two hours, else h */
function spanText(ms: number): string {
  if (ms < 1000) {
    return `${ms} ms`;
  }
  if (ms < 120_000) {
    return `${Math.round(ms / 100) / 10} s`;
  }
  return ms < 7_200_000 ? `${Math.round(ms / 6000) / 10} min` : `${Math.round(ms / 360_000) / 10} h`;
}

/** the log line and event text of a set-back (no secrets: names, times and the rule) */
export function setBackMessage(target: string, collector: string, clockTs: number, stampedTs: number): string {
  const at = new Date(stampedTs).toISOString();
  return (
    `the host clock went back ${spanText(stampedTs - clockTs)} (it reads ${new Date(clockTs).toISOString()}, ` +
    `the ${collector} history of ${target} holds samples up to ${at}): its samples are stamped at ${at} until ` +
    'the clock passes it, so the history keeps its order (counter changes land at that instant, nothing is ' +
    'lost); typical causes are NTP stepping the clock at boot or a VM resumed from a snapshot'
  );
}

interface CounterState {
  /** the last ok sample of the stream: deltas pair it with the next one */
  prevOk: { epoch: number | null } | undefined;
  /** per counter series: its carried value and running total at prevOk */
  carry: CarryColumn;
  /** per row-epoch series (`_epoch`): its carried value at prevOk */
  rowEpochs: NumberColumn;
  /** per-database sums (running-totals.ts aggregateGroup), by `group\u0000field` */
  aggregates: Map<string, { group: string; field: string; total: number; live: number }>;
  /** the database a counter series belongs to, for its aggregate (undefined: none) */
  groupOf: LabelColumn;
}

/**
 * read-write: the normal case; read-only: the file could be opened for reading only (or was copied
 * into memory) and history is served, not extended; unavailable: nothing could be opened, an empty
 * in-memory schema answers until the file can be opened.
 */
export type StoreMode = 'read-write' | 'read-only' | 'unavailable';

export interface StoreStatus {
  path: string;
  mode: StoreMode;
  writable: boolean;
  problem?: StoreProblem;
}

export interface CompactOptions {
  retentionMs: number;
  downsampleAfterMs: number;
  downsampleStepMs: number;
  /** points older than this are packed into chunks (store/chunks.ts); undefined: none are */
  headMs?: number;
}

/** one (target, collector) history, as compaction walks them */
export interface CompactionStream {
  target_id: number;
  collector: string;
}

/** a sample as compaction reads it (epoch: as stored; filled in where it is inherited) */
interface CompactedSample {
  id: number;
  ts: number;
  ok: number;
  epoch: number | null;
  keyframe: number;
  resets: number;
}

export interface StoreOptions {
  /** a query connection: never writes, never migrates, never creates the file */
  reader?: boolean;
  /** how long a write waits for another process's lock before it counts as a fault */
  busyTimeoutMs?: number;
  /** told before and after a schema migration that rewrites every sample (the sidecar logs it) */
  onSampleRewrite?: SampleRewriteNotes;
  /** the writer's SQLite page cache, KiB (default WRITER_CACHE_KIB) */
  cacheKib?: number;
}

export class Store {
  private conn: Database.Database;
  readonly file: string;
  readonly reader: boolean;
  private mode: StoreMode = 'read-write';
  private problem: StoreProblem | undefined;
  /** back-off between write attempts while the store is failing (tests shorten it) */
  retryPolicy = { minMs: 1000, maxMs: 30_000 };
  /** told once per stream when its samples start coming from a clock behind its history (the sidecar logs it) */
  onClockSetBack?: (setBack: ClockSetBack) => void;
  /** told when a store problem starts, changes kind, or ends (the sidecar logs it) */
  onProblem?: (problem: StoreProblem | undefined, previous: StoreProblem | undefined) => void;
  /** called every few thousand rows a query reads: throws to stop a query over its budget or cancelled */
  interrupt?: () => void;
  /** stored points handed to queries so far (a query's budget counts them) */
  rowsRead = 0;
  /** how stepTotals reads step edges (edge-reads.ts): by its cost estimate, or pinned (tests check both ways) */
  edgeReads: 'auto' | 'scan' | 'seek' = 'auto';
  /** samples and points stepTotals keeps decoded between queries (read-cache.ts); undefined: none */
  readCache: ReadCache | undefined = new ReadCache();
  private readonly busyTimeoutMs: number;
  private readonly onSampleRewrite: SampleRewriteNotes | undefined;
  private readonly cacheKib: number;
  private readonly targetIds = new Map<string, number>();
  /** series ids and entity info by stream (`targetId \0 collector`), then row */
  private readonly rowCaches = new Map<string, StreamRows>();
  /** sample_stream ids by target id \0 collector, learnt after the sample that created them committed */
  private readonly sampleStreams = new Map<string, number>();
  private readonly streams = new Map<string, StreamState>();
  /** per target id: the ts its set-back event announced samples are stamped at, until the clock passes it */
  private readonly setBackTold = new Map<number, number>();
  /** which history holds each (target, collector) stream now, as this writer last set it (stream-alias.ts) */
  private readonly aliasOpen = new Map<string, string | null>();
  /** the history each (target, collector) stream would go on in (resumableStream), as last looked up or set */
  private readonly aliasResumable = new Map<string, string | null>();
  private statements: StatementCache;
  private writing = false;
  /** the schema upgrade that last ran out of disk (store/migrations.ts), while that is the problem */
  private upgradeWithoutRoom: MigrationDiskFullError | undefined;

  /**
   * Opens (creating) the history in dataDir. A directory that cannot be written does not stop the
   * sidecar: the store opens read-only (or empty) with its problem set, and retries on every write.
   */
  static open(dataDir: string, opts: StoreOptions = {}): Store {
    const file = storeFile(dataDir);
    try {
      mkdirSync(dataDir, { recursive: true });
      return new Store(file, opts);
    } catch (e) {
      if (!storeFaultKind(e) || opts.reader) {
        throw e;
      }
      return new Store(file, opts, e);
    }
  }

  /**
   * A read-only view of the file: directly when SQLite can (the WAL index exists), else a copy in
   * memory (a cleanly closed WAL database on a read-only filesystem cannot be opened in place).
   */
  private static openForReading(file: string): Database.Database | undefined {
    if (!existsSync(file)) {
      return undefined;
    }
    try {
      const db = new Database(file, { readonly: true, fileMustExist: true });
      db.prepare('SELECT count(*) FROM sqlite_master').get();
      standInForMissingTables(db, [AWAY_BY_DESIGN_STREAM]);
      return db;
    } catch {
      /* fall through to a copy */
    }
    try {
      if (statSync(file).size > MAX_SNAPSHOT_BYTES) {
        return undefined;
      }
      const image = readFileSync(file);
      // header bytes 18/19 = 2 mark WAL: a legacy-mode image opens without a WAL index
      if (image.length > 19 && image[18] === 2) {
        image[18] = 1;
        image[19] = 1;
      }
      const db = new Database(image);
      db.prepare('SELECT count(*) FROM sqlite_master').get();
      standInForMissingTables(db, [AWAY_BY_DESIGN_STREAM]);
      return db;
    } catch {
      return undefined;
    }
  }

  /** `openFailure`: why the file could not be opened for writing (then it is opened read-only, or not at all) */
  constructor(file: string, opts: StoreOptions = {}, openFailure?: unknown) {
    this.file = file;
    this.reader = opts.reader ?? false;
    this.busyTimeoutMs = opts.busyTimeoutMs ?? 2000;
    this.onSampleRewrite = opts.onSampleRewrite;
    this.cacheKib = opts.cacheKib ?? WRITER_CACHE_KIB;
    if (this.reader) {
      this.conn = Store.connectReader(file);
    } else if (openFailure === undefined) {
      this.conn = this.connectWriter();
    } else {
      this.conn = this.fallbackConnection();
      this.recordFault(openFailure);
    }
    this.statements = new StatementCache(this.conn);
  }

  /** What can still be served when the file cannot be written: its contents read-only, else an empty schema. */
  private fallbackConnection(): Database.Database {
    const readable = Store.openForReading(this.file);
    this.mode = readable ? 'read-only' : 'unavailable';
    return readable ?? Store.emptySchema();
  }

  /**
   * How many times the file was opened afresh for writing after a fault. Readers on their own
   * connections (query workers) reopen when it changes: the file they hold may no longer be the one
   * at the path (a filesystem that went read-only and was mounted again after a repair).
   */
  generation = 0;

  /** The current connection (it changes when the store reopens after a fault). */
  get db(): Database.Database {
    return this.conn;
  }

  private static connectReader(file: string): Database.Database {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 1000');
    // a 24 h top_queries touches ~28 MB of index pages; with SQLite's 2 MB default each read goes
    // back to the OS for most of them. The cache fills only as reads touch pages, and a query
    // worker exists only while dashboards query (bench/results/query-latency-quiet*.md)
    db.pragma(`cache_size = -${READER_CACHE_KIB}`);
    standInForMissingTables(db, [AWAY_BY_DESIGN_STREAM]);
    return db;
  }

  private connectWriter(): Database.Database {
    // SQLite quietly opens a file it cannot write read-only; ask the filesystem first (EROFS, EACCES)
    accessSync(dirname(this.file), fsConstants.W_OK);
    if (existsSync(this.file)) {
      accessSync(this.file, fsConstants.W_OK);
    }
    const db = new Database(this.file);
    try {
      db.pragma('journal_mode = WAL');
      // NORMAL in WAL: a crash loses at most the last transaction (the sample in flight), never corrupts.
      db.pragma('synchronous = NORMAL');
      // short: a write that waits blocks the event loop; a longer lock is a fault, retried with back-off
      db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
      Store.migrate(db, this.onSampleRewrite);
      // after the migrations: one that rewrites every sample keeps the build's larger cache
      db.pragma(`cache_size = -${this.cacheKib}`);
      return db;
    } catch (e) {
      db.close();
      throw e;
    }
  }

  private static migrate(db: Database.Database, notes?: SampleRewriteNotes): void {
    applyMigrations(db, notes);
  }

  close(): void {
    if (this.conn.open) {
      this.conn.close();
    }
  }

  status(): StoreStatus {
    return {
      path: this.file,
      mode: this.mode,
      writable: this.mode === 'read-write' && !this.problem,
      problem: this.problem ? { ...this.problem } : undefined,
    };
  }

  /** schema migrations the file records that this pgpulse does not know (a newer one wrote it); none: [] */
  unknownMigrations(): number[] {
    return unknownMigrations(this.conn);
  }

  /** false while a failing store waits for its next attempt: samplers skip work that could not be kept */
  writeAllowed(now = Date.now()): boolean {
    return !this.reader && (!this.problem || now >= this.problem.nextRetryAt);
  }

  /** The SQL's statement on the current connection in `mode`, prepared once (statements.ts). */
  private stmt(sql: string, mode?: StatementMode): FixedStatement {
    return this.statements.get(sql, mode);
  }

  /**
   * Every write goes through here: while the store is failing it refuses at once until the next
   * attempt is due; a storage fault (full, read-only, locked, I/O) becomes the store's problem and a
   * StoreWriteError for the caller; the first write that succeeds clears the problem.
   */
  private write<T>(fn: () => T): T {
    if (this.writing) {
      return fn();
    }
    if (this.reader) {
      throw new Error('pgpulse bug: a write on a read-only query connection');
    }
    if (this.problem) {
      if (Date.now() < this.problem.nextRetryAt) {
        throw new StoreWriteError(this.problem);
      }
      // an upgrade that ran out of disk fails again, after seconds of rewriting, until the room
      // its error asks for is there: it is not tried before
      const upgrade = this.upgradeWithoutRoom;
      if (upgrade && freeBytes(upgrade.rewrite.dir) < upgrade.rewrite.estimatedBytes) {
        throw this.fault(upgrade);
      }
      // a connection that met a read-only or broken file stays that way: open the file afresh
      if (
        this.mode !== 'read-write' ||
        this.problem.kind === 'read-only' ||
        this.problem.kind === 'cannot-open' ||
        this.problem.kind === 'io'
      ) {
        try {
          this.reopen();
        } catch (e) {
          throw this.fault(e);
        }
      }
    }
    let out: T;
    this.writing = true;
    try {
      out = fn();
    } catch (e) {
      if (this.conn.inTransaction) {
        try {
          this.conn.exec('ROLLBACK');
        } catch {
          /* the transaction is gone already */
        }
      }
      throw this.fault(e);
    } finally {
      this.writing = false;
    }
    if (this.problem) {
      const previous = this.problem;
      this.problem = undefined;
      this.upgradeWithoutRoom = undefined;
      this.onProblem?.(undefined, previous);
    }
    return out;
  }

  /** Records a storage fault and returns the error to throw (a non-storage error is returned as is). */
  private fault(e: unknown): unknown {
    return this.recordFault(e) ? new StoreWriteError(this.problem as StoreProblem) : e;
  }

  private recordFault(e: unknown): boolean {
    const f = storeFaultKind(e);
    if (!f) {
      return false;
    }
    this.upgradeWithoutRoom = e instanceof MigrationDiskFullError ? e : undefined;
    const now = Date.now();
    const previous = this.problem;
    const failures = (previous?.failures ?? 0) + 1;
    const { message, fix } = describeFault(
      f.kind,
      f.code,
      this.file,
      e instanceof MigrationDiskFullError
        ? { mb: e.neededMB, why: `upgrading its ${e.rewrite.samples} samples (schema migration ${e.rewrite.version})` }
        : undefined
    );
    this.problem = {
      kind: f.kind,
      code: f.code,
      path: this.file,
      message,
      fix,
      since: previous?.since ?? now,
      failures,
      nextRetryAt: now + nextDelayMs(failures, this.retryPolicy),
    };
    if (!previous || previous.kind !== f.kind) {
      this.onProblem?.(this.problem, previous);
    }
    return true;
  }

  /** Opens the file for writing again (after it was read-only or unavailable); caches start afresh. */
  private reopen(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    // our own reader must let go first: it may hold the only handle on the file
    const old = this.conn;
    if (old.open) {
      old.close();
    }
    // what the read cache holds is exact for the file it was read from only: the one at the path now
    // may be another (a backup restored, a repaired copy) whose read_generation is the same number
    this.readCache?.clear();
    try {
      this.conn = this.connectWriter();
    } catch (e) {
      this.conn = this.fallbackConnection();
      this.statements = new StatementCache(this.conn);
      throw e;
    }
    this.mode = 'read-write';
    this.generation++;
    this.statements = new StatementCache(this.conn);
    this.targetIds.clear();
    this.rowCaches.clear();
    this.sampleStreams.clear();
    this.streams.clear();
    this.aliasOpen.clear();
    this.aliasResumable.clear();
  }

  private static emptySchema(): Database.Database {
    const db = new Database(':memory:');
    Store.migrate(db);
    return db;
  }

  /** The id of a target, created when missing (a write). */
  targetId(name: string): number {
    const known = this.readTargetId(name);
    if (known >= 0 || this.reader) {
      return known;
    }
    return this.write(() => {
      this.stmt('INSERT OR IGNORE INTO target (name) VALUES (?)').run(name);
      const id = (this.stmt('SELECT id FROM target WHERE name = ?').get(name) as { id: number }).id;
      if (!this.conn.inTransaction) {
        this.targetIds.set(name, id);
      }
      return id;
    });
  }

  /** The id of a target for reading: -1 (matches nothing) when it has no history. */
  private readTargetId(name: string): number {
    const cached = this.targetIds.get(name);
    if (cached !== undefined) {
      return cached;
    }
    const row = this.stmt('SELECT id FROM target WHERE name = ?').get(name) as { id: number } | undefined;
    if (!row) {
      return -1;
    }
    // a file before migration 10 read as it is: a target an older pgpulse added since it opened
    standInStreamsOf(this.conn, this.prep, row.id);
    // an id read inside a transaction may yet be rolled back
    if (!this.conn.inTransaction) {
      this.targetIds.set(name, row.id);
    }
    return row.id;
  }

  /** stmt() as a function to hand to the store's read and write helpers */
  private readonly prep: Prepare = (sql, mode) => this.statements.get(sql, mode);

  private named(target: string): { id: number; name: string } {
    return { id: this.readTargetId(target), name: target };
  }

  /** which stored history answers a read of the target's stream (stream-alias.ts) */
  private route(target: string, collector: string, from: number, to: number): Route {
    return route(this.conn, this.prep, this.named(target), collector, from, to);
  }

  /** every history that held the target's stream of the collector (just its own when never shared) */
  private heldBy(target: string, collector: string) {
    const me = this.named(target);
    return me.id < 0 || !hasAliases(this.conn) ? [] : sources(this.prep, me, collector);
  }

  /**
   * From `ts` on, the target's stream of a server-wide collector is held by the server's history
   * `source` (written by whichever member read it), or by its own again (undefined).
   */
  holdStream(target: string, collector: string, source: string | undefined, ts: number): void {
    if (this.heldStream(target, collector) === source) {
      return;
    }
    this.write(() =>
      this.conn.transaction(() =>
        setAlias(
          this.prep,
          this.targetId(target),
          collector,
          source === undefined ? undefined : this.targetId(source),
          ts
        )
      )()
    );
    this.aliasOpen.set(`${target}\u0000${collector}`, source ?? null);
    this.aliasResumable.set(`${target}\u0000${collector}`, source ?? null);
  }

  /** the server history the target's stream of the collector is held by now, as this writer set it */
  heldStream(target: string, collector: string): string | undefined {
    return this.cachedAlias(this.aliasOpen, target, collector, openAlias);
  }

  /**
   * The server history the target's stream of the collector would go on in (stream-alias.ts
   * resumable): a target alone on its server again keeps it across a sidecar restart
   */
  resumableStream(target: string, collector: string): string | undefined {
    return this.cachedAlias(this.aliasResumable, target, collector, resumable);
  }

  /** `lookup`'s answer for the stream, remembered in `cache` (null: looked up, none) until the writer changes it */
  private cachedAlias(
    cache: Map<string, string | null>,
    target: string,
    collector: string,
    lookup: (prep: Prepare, targetId: number, collector: string) => string | undefined
  ): string | undefined {
    const key = `${target}\u0000${collector}`;
    let held = cache.get(key);
    if (held === undefined) {
      const me = this.named(target);
      held = me.id < 0 || !hasAliases(this.conn) ? null : (lookup(this.prep, me.id, collector) ?? null);
      cache.set(key, held);
    }
    return held ?? undefined;
  }

  /** the server history the target's streams were last held by among those named `prefix…` (a server restart keeps it) */
  lastServerStream(target: string, prefix: string): string | undefined {
    const me = this.named(target);
    return me.id < 0 || !hasAliases(this.conn) ? undefined : lastSourceLike(this.prep, me.id, prefix);
  }

  /** the target stopped (removed from the configuration, the sidecar stopping): its aliases end at ts */
  releaseStreams(target: string, ts: number): void {
    const id = this.readTargetId(target);
    if (id < 0 || this.reader) {
      return;
    }
    this.write(() => endAliases(this.prep, id, ts));
    for (const k of [...this.aliasOpen.keys()]) {
      if (k.startsWith(`${target}\u0000`)) {
        this.aliasOpen.delete(k);
        this.aliasResumable.delete(k);
      }
    }
  }

  targets(): string[] {
    return (this.db.prepare('SELECT name FROM target ORDER BY name').all() as Array<{ name: string }>)
      .map((r) => r.name)
      .filter((n) => !isServerStream(n));
  }

  /** The id of a series, created in the caller's transaction; new ids go to `staged` until it commits. */
  private seriesId(
    targetId: number,
    collector: string,
    cache: StreamRows,
    labels: string,
    field: string,
    staged: Map<string, number>
  ): number {
    const slot = cache.slots.get(field);
    let id = slot === undefined ? undefined : cache.rows.get(labels)?.ids[slot];
    // -1: a slot the row has no series for yet
    if (id !== undefined && id >= 0) {
      return id;
    }
    const k = `${labels}\u0000${field}`;
    id = staged.get(k);
    if (id === undefined) {
      this.stmt('INSERT OR IGNORE INTO series (target_id, collector, labels, field) VALUES (?, ?, ?, ?)').run(
        targetId,
        collector,
        labels,
        field
      );
      id = (
        this.stmt('SELECT id FROM series WHERE target_id = ? AND collector = ? AND labels = ? AND field = ?').get(
          targetId,
          collector,
          labels,
          field
        ) as { id: number }
      ).id;
      staged.set(k, id);
    }
    return id;
  }

  /**
   * Write one collector cycle atomically. Returns the sample id and how many points were stored.
   * What the caches learn (new series ids, last values, entity info, keyframe count) is staged and
   * applied only after the transaction commits: a failed write leaves no trace in memory.
   */
  writeSample(s: CollectedSample): { sampleId: number; points: number; keyframe: boolean } {
    return this.write(() => {
      const targetId = this.targetId(s.target);
      const streamKey = `${targetId}\u0000${s.collector}`;
      const cache: StreamRows = this.rowCaches.get(streamKey) ?? { slots: new Map(), rows: new Map() };
      const state: StreamState = this.streams.get(streamKey) ?? newStreamState(this.newestTsOf(targetId, s.collector));
      // the clock went back (NTP stepping it, a VM resumed from a snapshot): stamped at the stream's
      // newest time rather than before it, so ids and times never disagree within a stream
      const ts = Math.max(s.ts, state.newestTs);
      const setBack: ClockSetBack | undefined =
        s.ts < ts && !state.behind
          ? {
              target: s.target,
              collector: s.collector,
              clockTs: s.ts,
              stampedTs: ts,
              message: setBackMessage(s.target, s.collector, s.ts, ts),
            }
          : undefined;
      // one event per target and set-back: its other streams are behind the same clock
      const announce =
        setBack !== undefined && !isServerStream(s.target) && !(s.ts < (this.setBackTold.get(targetId) ?? -Infinity));
      const epochChanged = s.ok && state.epoch !== undefined && (s.epoch ?? null) !== state.epoch;
      const keyframe = s.ok && (state.sinceKeyframe >= KEYFRAME_EVERY || epochChanged);
      const insertSample = this.stmt(
        'INSERT INTO sample_row (stream, ts, ok, epoch, keyframe, error) VALUES (?, ?, ?, ?, ?, ?)'
      );
      let sampleStream = this.sampleStreams.get(streamKey);
      const insertPoint = this.stmt(
        'INSERT OR REPLACE INTO point (series_id, sample_id, value, total) VALUES (?, ?, ?, ?)'
      );
      const counterFields = new Set(s.counters ?? []);
      const counters =
        s.ok && counterFields.size > 0
          ? (state.counters ?? this.loadCounterState(targetId, s.collector, state.index))
          : state.counters;
      const counterEpochChanged = counters?.prevOk !== undefined && (s.epoch ?? null) !== counters.prevOk.epoch;
      const carryNext = new Map<number, CounterCarry & { field: string }>();
      const aggNext = new Map<string, { group: string; field: string; total: number; live: number }>();
      const groupNext = new Map<number, string | undefined>();
      /** a counter moved: its database's sum takes the delta, and counts rows with a value */
      const aggregate = (
        sid: number,
        field: string,
        group: string | undefined,
        before: CounterCarry | undefined,
        v: number | null,
        d: number
      ) => {
        if (group === undefined || !counters) {
          return;
        }
        const k = `${group}\u0000${field}`;
        const a = aggNext.get(k) ?? { ...(counters.aggregates.get(k) ?? { group, field, total: 0, live: 0 }) };
        a.total += d;
        a.live += (v !== null ? 1 : 0) - ((before?.v ?? null) !== null ? 1 : 0);
        aggNext.set(k, a);
      };
      const rowEpochNext = new Map<number, number | null>();
      let resets = false;
      const upsertEntity = this.stmt(
        `INSERT INTO entity (target_id, collector, labels, info, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (target_id, collector, labels) DO UPDATE SET info = coalesce(excluded.info, entity.info), last_seen = excluded.last_seen`
      );
      const newSeries = new Map<string, number>();
      const lastValues = new Map<number, number | null>();
      const entities = new Map<string, string>();
      const lastOf = (id: number) => (lastValues.has(id) ? lastValues.get(id) : state.last.get(id));
      let points = 0;
      const sampleId = this.conn.transaction(() => {
        sampleStream ??= this.sampleStreamId(targetId, s.collector);
        if (announce && setBack) {
          this.stmt('INSERT INTO event (target_id, ts, kind, title, text, tags) VALUES (?, ?, ?, ?, ?, ?)').run(
            targetId,
            ts,
            CLOCK_SET_BACK_EVENT,
            `${s.target}: the host clock went back ${spanText(ts - s.ts)}`,
            setBack.message,
            JSON.stringify(['pgpulse', 'clock'])
          );
        }
        const id = Number(
          insertSample.run(
            sampleStream,
            ts,
            s.ok ? 1 : 0,
            storedEpoch(s.ok, keyframe, s.epoch ?? null),
            keyframe ? 1 : 0,
            s.error ?? null
          ).lastInsertRowid
        );
        if (!s.ok) {
          return id;
        }
        const seen = new Set<number>();
        for (const row of s.rows) {
          const labels = canonicalLabels(row.key);
          let rowEpochChanged = false;
          if (counters && '_epoch' in row.values) {
            const sid = this.seriesId(targetId, s.collector, cache, labels, '_epoch', newSeries);
            const now = finite(row.values._epoch);
            rowEpochChanged = (counters.rowEpochs.get(sid) ?? null) !== now;
            rowEpochNext.set(sid, now);
          }
          const group = counters ? aggregateGroup(row.key) : undefined;
          for (const [field, raw] of Object.entries(row.values)) {
            const value = finite(raw);
            const sid = this.seriesId(targetId, s.collector, cache, labels, field, newSeries);
            seen.add(sid);
            const prev = lastOf(sid);
            let total: number | null = null;
            let totalMoved = false;
            const unmoved = counters?.carry.get(sid);
            if (
              unmoved &&
              unmoved.v === value &&
              value !== null &&
              !counterEpochChanged &&
              !rowEpochChanged &&
              counters?.prevOk !== undefined
            ) {
              // an ordinary counter that did not move: delta 0, its total and its database's sum stay
              total = unmoved.total;
            } else if (counters && counterFields.has(field)) {
              const before = counters.carry.get(sid);
              const st = stepCounter(
                before,
                value,
                counters.prevOk !== undefined,
                counterEpochChanged,
                rowEpochChanged
              );
              resets ||= st.reset || st.vanished;
              total = st.total;
              // a reset to the same value (a row epoch moved) moves the total only: it needs a point
              totalMoved = before !== undefined && before.total !== total;
              carryNext.set(sid, { field, v: value, total });
              groupNext.set(sid, group);
              aggregate(sid, field, group, before, value, st.d);
            }
            if (keyframe || prev === undefined || prev !== value || totalMoved) {
              insertPoint.run(sid, id, value, total);
              lastValues.set(sid, value);
              points++;
            }
          }
          const info = row.info ? JSON.stringify(row.info) : null;
          const known = entities.get(labels) ?? cache.rows.get(labels)?.info;
          // last_seen is refreshed at keyframes only: exact enough for "gone since", and no write per row per cycle
          if (known === undefined || (info !== null && known !== info) || keyframe) {
            upsertEntity.run(targetId, s.collector, labels, info, ts, ts);
            entities.set(labels, info ?? known ?? '');
          }
        }
        if (counters) {
          // counters gone from this sample (also those a restart's keyframe leaves out): vanished
          for (const [sid, c] of counters.carry) {
            if (!seen.has(sid) && counterFields.has(c.field)) {
              resets ||= counters.prevOk !== undefined && c.v !== null;
              carryNext.set(sid, { ...c, v: null });
              aggregate(sid, c.field, counters.groupOf.get(sid), c, null, 0);
            }
          }
          for (const sid of counters.rowEpochs.keys()) {
            if (!seen.has(sid)) {
              rowEpochNext.set(sid, null);
            }
          }
          if (resets) {
            this.stmt('UPDATE sample_row SET resets = 1 WHERE id = ?').run(id);
          }
          // per-database sums: written when they move, and at keyframes like every row
          for (const [k, a] of new Map([...counters.aggregates, ...aggNext])) {
            const sid = this.seriesId(
              targetId,
              s.collector,
              cache,
              canonicalLabels({ [AGGREGATE_LABEL]: a.group }),
              aggregateField(a.field),
              newSeries
            );
            seen.add(sid);
            const value = a.live > 0 ? a.total : null;
            const prevTotal = counters.aggregates.get(k)?.total;
            if (keyframe || lastOf(sid) === undefined || lastOf(sid) !== value || prevTotal !== a.total) {
              insertPoint.run(sid, id, value, a.total);
              lastValues.set(sid, value);
              points++;
            }
          }
        }
        // A row that vanished (a state with no backends, a deallocated statement) gets an explicit null,
        // otherwise readers would carry its last value forward.
        for (const [sid, v] of state.last) {
          if (!seen.has(sid) && v !== null) {
            insertPoint.run(sid, id, null, counters?.carry.get(sid)?.total ?? null);
            lastValues.set(sid, null);
            points++;
          }
        }
        return id;
      })();
      // committed: now the caches may learn it
      const rowOf = (labels: string) => {
        let r = cache.rows.get(labels);
        if (!r) {
          r = { ids: [], info: undefined };
          cache.rows.set(labels, r);
        }
        return r;
      };
      for (const [k, id] of newSeries) {
        // staged keys are labels \0 field; a field name holds no NUL
        const cut = k.lastIndexOf('\u0000');
        const field = k.slice(cut + 1);
        let slot = cache.slots.get(field);
        if (slot === undefined) {
          slot = cache.slots.size;
          cache.slots.set(field, slot);
        }
        const ids = rowOf(k.slice(0, cut)).ids;
        // slots fill in order: an array of small integers without holes stays compact
        while (ids.length < slot) {
          ids.push(-1);
        }
        ids[slot] = id;
      }
      for (const [labels, v] of entities) {
        rowOf(labels).info = v;
      }
      this.rowCaches.set(streamKey, cache);
      if (sampleStream !== undefined) {
        this.sampleStreams.set(streamKey, sampleStream);
      }
      for (const [id, v] of lastValues) {
        state.last.set(id, v);
      }
      state.newestTs = ts;
      state.behind = s.ts < ts;
      if (announce) {
        this.setBackTold.set(targetId, ts);
      } else if (this.setBackTold.size > 0 && s.ts >= (this.setBackTold.get(targetId) ?? Infinity)) {
        // the clock passed what the target's event announced: a later set-back is a new one
        this.setBackTold.delete(targetId);
      }
      if (s.ok) {
        state.sinceKeyframe = keyframe ? 1 : state.sinceKeyframe + 1;
        state.epoch = s.epoch ?? null;
        if (counters) {
          for (const [sid, c] of carryNext) {
            counters.carry.set(sid, c);
          }
          for (const [sid, v] of rowEpochNext) {
            counters.rowEpochs.set(sid, v);
          }
          for (const [k, a] of aggNext) {
            counters.aggregates.set(k, a);
          }
          for (const [sid, g] of groupNext) {
            counters.groupOf.set(sid, g);
          }
          counters.prevOk = { epoch: s.epoch ?? null };
          state.counters = counters;
        }
      }
      this.streams.set(streamKey, state);
      if (setBack) {
        this.onClockSetBack?.(setBack);
      }
      return { sampleId, points, keyframe };
    });
  }

  /** the newest stored ts of a (target, collector) stream, -Infinity when it has none: one seek on sample_by_time */
  private newestTsOf(targetId: number, collector: string): number {
    const newest = this.stmt(
      'SELECT max(ts) FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?)',
      'pluck'
    ).get(targetId, collector) as number | null;
    return newest ?? -Infinity;
  }

  /** sample_stream's id of a target's collector (migration 10), created when missing: inside the sample's transaction */
  private sampleStreamId(targetId: number, collector: string): number {
    this.stmt('INSERT OR IGNORE INTO sample_stream (target_id, collector) VALUES (?, ?)').run(targetId, collector);
    return this.stmt('SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?', 'pluck').get(
      targetId,
      collector
    ) as number;
  }

  /**
   * What the raw path would pair the next sample with: the stream's last ok sample, and each
   * series' value there (carried forward; null when a later keyframe has no point for it) and
   * running total. Read once per stream after opening, so a restart continues the totals exactly.
   */
  private loadCounterState(targetId: number, collector: string, index: SeriesIndex): CounterState {
    const state: CounterState = {
      prevOk: undefined,
      carry: new CarryColumn(index),
      rowEpochs: new NumberColumn(index),
      aggregates: new Map(),
      groupOf: new LabelColumn(index),
    };
    const prevOk = this.stmt(
      `SELECT id, ${epochOf('r')} AS epoch FROM sample_row r WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ok = 1 ORDER BY ts DESC, id DESC LIMIT 1`
    ).get(targetId, collector) as { id: number; epoch: number | null } | undefined;
    if (!prevOk) {
      return state;
    }
    state.prevOk = { epoch: prevOk.epoch };
    const kf = this.stmt(
      'SELECT max(id) AS id FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND keyframe = 1 AND id <= ?'
    ).get(targetId, collector, prevOk.id) as { id: number | null };
    const rows = this.stmt(
      `SELECT s.id AS id, s.labels AS labels, s.field AS field, p.sample_id AS k, p.value AS v, p.total AS t FROM series s
       JOIN point p ON p.series_id = s.id AND p.sample_id = (SELECT max(sample_id) FROM point WHERE series_id = s.id AND sample_id <= ?)
       WHERE s.target_id = ? AND s.collector = ?`
    ).all(prevOk.id, targetId, collector) as Array<{
      id: number;
      labels: string;
      field: string;
      k: number;
      v: number | null;
      t: number | null;
    }>;
    const aggregates = new Map<string, number>();
    for (const r of rows) {
      const v = r.k >= (kf.id ?? 0) ? r.v : null;
      if (r.field === '_epoch') {
        state.rowEpochs.set(r.id, v);
      } else if (r.field.startsWith(aggregateField(''))) {
        aggregates.set(
          `${parseLabels(r.labels)[AGGREGATE_LABEL]}\u0000${r.field.slice(aggregateField('').length)}`,
          r.t ?? 0
        );
      } else {
        state.carry.set(r.id, { field: r.field, v, total: r.t });
        const group = aggregateGroup(parseLabels(r.labels));
        state.groupOf.set(r.id, group);
        if (group !== undefined) {
          const k = `${group}\u0000${r.field}`;
          const a = state.aggregates.get(k) ?? { group, field: r.field, total: 0, live: 0 };
          a.live += v !== null ? 1 : 0;
          state.aggregates.set(k, a);
        }
      }
    }
    for (const [k, a] of state.aggregates) {
      a.total = aggregates.get(k) ?? 0;
    }
    return state;
  }

  /** Samples of a collector with ts in [from, to], preceded by the last sample before `from` (deltas need it). */
  samples(target: string, collector: string, from: number, to: number): SampleInfo[] {
    const via = this.route(target, collector, from, to);
    if ('pieces' in via) {
      return stitchSamples(this.prep, this.named(target), collector, via.pieces, from, to);
    }
    // held by another history: its samples, tagged with it (created so, one object shape for all)
    const stream = via.target !== target ? via.target : undefined;
    const targetId = this.readTargetId(via.target);
    const before = this.db
      .prepare(
        `SELECT id, ts, ok, ${epochOf('r')} AS epoch FROM sample_row r WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts < ? AND ok = 1 ORDER BY ts DESC, id DESC LIMIT 1`
      )
      .get(targetId, collector, from) as { id: number; ts: number; ok: number; epoch: number | null } | undefined;
    const rows = this.db
      .prepare(
        'SELECT id, ts, ok, epoch, keyframe FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ? AND ts <= ? ORDER BY ts, id'
      )
      .all(targetId, collector, from, to) as Array<{
      id: number;
      ts: number;
      ok: number;
      epoch: number | null;
      keyframe: number;
    }>;
    inheritRowEpochs(this.prep, targetId, collector, rows);
    const all = before ? [before, ...rows] : rows;
    return stream === undefined
      ? all.map((r) => ({ id: r.id, ts: r.ts, ok: r.ok === 1, epoch: r.epoch }))
      : all.map((r) => ({ id: r.id, ts: r.ts, ok: r.ok === 1, epoch: r.epoch, stream }));
  }

  /**
   * pgpulse did not contact the target at ts on purpose (a sampling gate keeps away from an idle
   * Neon compute, or backs off so it can suspend): sampler staleness counts this as fresh, so no
   * "stale"/"down" alert fires for a target that is fine. A gate writes it; health reads it.
   */
  recordAwayByDesign(target: string, ts: number): void {
    this.writeSample({ target, collector: AWAY_BY_DESIGN_STREAM, ts, ok: true, rows: [] });
  }

  /** when pgpulse stayed away by design: ts in [from, to], preceded by the last one before `from` */
  awayByDesign(target: string, from: number, to: number): number[] {
    return this.samples(target, AWAY_BY_DESIGN_STREAM, from, to).map((s) => s.ts);
  }

  lastSample(target: string, collector: string, okOnly = true): SampleInfo | undefined {
    const held = this.heldBy(target, collector);
    if (held.length > 1) {
      return lastOf(this.prep, held, collector, okOnly);
    }
    const r = this.db
      .prepare(
        `SELECT id, ts, ok, ${epochOf('r')} AS epoch FROM sample_row r WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) ${okOnly ? 'AND ok = 1' : ''} ORDER BY ts DESC, id DESC LIMIT 1`
      )
      .get(this.readTargetId(target), collector) as
      | { id: number; ts: number; ok: number; epoch: number | null }
      | undefined;
    return r ? { id: r.id, ts: r.ts, ok: r.ok === 1, epoch: r.epoch } : undefined;
  }

  /**
   * Values of the matching series at each of `samples` (ascending), carried forward from the last
   * stored point. Failed samples yield null.
   */
  matrix(
    target: string,
    collector: string,
    fields: string[],
    filter: LabelFilter | undefined,
    samples: SampleInfo[]
  ): SeriesValues[] {
    if (samples.length === 0 || fields.length === 0) {
      return [];
    }
    const runs = runsOf(target, samples);
    if (runs && runs.length > 1) {
      return stitchMatrix(runs, samples.length, (stream, part) => this.matrix(stream, collector, fields, filter, part));
    }
    target = runs?.[0].stream ?? target;
    const loaded = this.loadPoints(target, collector, fields, filter, samples);
    if (!loaded) {
      return [];
    }
    const { series, keyframes } = loaded;
    return series.map((s) => {
      const pts = s.points;
      const values: Array<number | null> = new Array(samples.length).fill(null);
      let p = 0;
      let k = 0;
      let current: number | null = null;
      for (let j = 0; j < samples.length; j++) {
        const sm = samples[j];
        for (;;) {
          const nextPoint = p < pts.length && pts[p][0] <= sm.id ? pts[p][0] : Infinity;
          const nextKf = k < keyframes.length && keyframes[k] <= sm.id ? keyframes[k] : Infinity;
          if (nextPoint === Infinity && nextKf === Infinity) {
            break;
          }
          if (nextKf < nextPoint) {
            current = null;
            k++;
          } else {
            if (nextKf === nextPoint) {
              k++;
            }
            current = pts[p][1];
            p++;
          }
        }
        values[j] = sm.ok ? current : null;
      }
      return { labels: s.parsed, field: s.field, values };
    });
  }

  /**
   * The matching series with their stored points (ascending) from the last keyframe at or before
   * the first sample up to the last one, and the keyframes in between: what carrying values
   * forward needs. A keyframe holds every row present at that moment, so a series without a point
   * there had vanished (e.g. while the sidecar was down) and its older value must not be carried past it.
   */
  private loadPoints(
    target: string,
    collector: string,
    fields: string[],
    filter: LabelFilter | undefined,
    samples: SampleInfo[]
  ) {
    // one read snapshot: compaction may pack rows into chunks between the two reads otherwise
    const read = () => this.readPoints(target, collector, fields, filter, samples);
    return this.conn.inTransaction ? read() : this.conn.transaction(read)();
  }

  private readPoints(...[target, collector, fields, filter, samples]: Parameters<Store['loadPoints']>) {
    const targetId = this.readTargetId(target);
    const first = samples[0].id;
    const last = samples[samples.length - 1].id;
    const kf = this.db
      .prepare(
        'SELECT max(id) AS id FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND keyframe = 1 AND id <= ?'
      )
      .get(targetId, collector, first) as { id: number | null };
    const from = kf.id ?? 0;
    const placeholders = fields.map(() => '?').join(',');
    const series = (
      this.db
        .prepare(
          `SELECT id, labels, field FROM series WHERE target_id = ? AND collector = ? AND field IN (${placeholders})`
        )
        .all(targetId, collector, ...fields) as Array<{
        id: number;
        labels: string;
        field: string;
      }>
    )
      .map((x) => ({ ...x, parsed: parseLabels(x.labels), points: [] as Array<[number, number | null]> }))
      .filter((x) => matches(x.parsed, filter));
    if (series.length === 0) {
      return undefined;
    }
    const byId = new Map(series.map((x) => [x.id, x]));
    const stmt = this.db.prepare(
      `SELECT p.series_id AS s, p.sample_id AS k, p.value AS v FROM series s JOIN point p ON p.series_id = s.id AND p.sample_id BETWEEN ? AND ?
       WHERE s.target_id = ? AND s.collector = ? AND s.field IN (${placeholders})`
    );
    let n = 0;
    for (const r of stmt.iterate(from, last, targetId, collector, ...fields) as Iterable<{
      s: number;
      k: number;
      v: number | null;
    }>) {
      byId.get(r.s)?.points.push([r.k, r.v]);
      if (++n % 1024 === 0) {
        this.rowsRead += 1024;
        this.interrupt?.();
      }
    }
    this.rowsRead += n % 1024;
    // points older than the head are packed (store/chunks.ts)
    const chunks = this.stmt(
      `SELECT c.series_id, c.data FROM series s JOIN point_chunk c ON c.series_id = s.id AND c.last_sample_id >= ?
       WHERE s.target_id = ? AND s.collector = ? AND s.field IN (${placeholders}) AND c.first_sample_id <= ?`,
      'raw'
    );
    for (const [sid, data] of chunks.iterate(from, targetId, collector, ...fields, last) as Iterable<
      [number, Buffer]
    >) {
      const x = byId.get(sid);
      if (!x) {
        continue;
      }
      for (const [k, v] of decodeChunk(data)) {
        if (k >= from && k <= last) {
          x.points.push([k, v]);
        }
      }
      this.rowsRead += CHUNK_POINTS;
      this.interrupt?.();
    }
    for (const x of series) {
      x.points.sort((a, b) => a[0] - b[0]);
    }
    const keyframes = (
      this.db
        .prepare(
          'SELECT id FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND keyframe = 1 AND id > ? AND id <= ? ORDER BY id'
        )
        .all(targetId, collector, from, last) as Array<{
        id: number;
      }>
    ).map((r) => r.id);
    return { series, keyframes };
  }

  /**
   * Σ of reset-aware counter deltas per series over `samples` (as samples() returns them), walking
   * only the stored points: the same totals as taking deltas of matrix() sample by sample, without
   * materialising a value per series per sample (what makes 24 h "top queries" fast).
   */
  rangeTotals(
    target: string,
    collector: string,
    fields: string[],
    filter: LabelFilter | undefined,
    samples: SampleInfo[]
  ): RangeTotal[] {
    if (samples.length < 2 || fields.length === 0) {
      return [];
    }
    const runs = runsOf(target, samples);
    if (runs && runs.length > 1) {
      return stitchTotals(runs, (stream, part) => this.rangeTotals(stream, collector, fields, filter, part));
    }
    target = runs?.[0].stream ?? target;
    const loaded = this.loadPoints(target, collector, [...fields, '_epoch'], filter, samples);
    if (!loaded) {
      return [];
    }
    const { series, keyframes } = loaded;
    // deltas pair ok samples: the range starts at its first ok one (samples that failed before it,
    // the first of a history, carry nothing into it)
    const first = (samples.find((sm) => sm.ok) ?? samples[0]).id;
    // for each sample in the range: the epoch of the ok sample before it (deltas pair consecutive ok samples)
    const prevOk = new Map<number, { epoch: number | null; id: number }>();
    let lastOk: { epoch: number | null; id: number } | undefined;
    for (const sm of samples) {
      if (!sm.ok) {
        continue;
      }
      if (lastOk) {
        prevOk.set(sm.id, lastOk);
      }
      lastOk = { epoch: sm.epoch, id: sm.id };
    }
    const epochOf = new Map(samples.map((sm) => [sm.id, sm.epoch]));
    const hasOkAfterFirst = samples.some((sm) => sm.ok && sm.id > first);
    /** the value timeline of one series as [sample id, value] events, keyframe gaps included */
    const events = (pts: Array<[number, number | null]>): Array<[number, number | null]> => {
      const out: Array<[number, number | null]> = [];
      let p = 0;
      let k = 0;
      while (p < pts.length || k < keyframes.length) {
        const np = p < pts.length ? pts[p][0] : Infinity;
        const nk = k < keyframes.length ? keyframes[k] : Infinity;
        if (nk < np) {
          out.push([nk, null]);
          k++;
        } else {
          if (nk === np) {
            k++;
          }
          out.push(pts[p]);
          p++;
        }
      }
      return out;
    };
    // row epochs: the sample ids at which a row's epoch changed
    const rowResets = new Map<string, Set<number>>();
    for (const x of series) {
      if (x.field !== '_epoch') {
        continue;
      }
      const set = new Set<number>();
      // points are read from a keyframe on (or from the first): before its first point the row
      // epoch was null, and null → stamp counts as a reset, as in counterDeltas
      let cur: number | null = null;
      for (const [id, v] of events(x.points)) {
        if (v !== cur && id >= first) {
          set.add(id);
        }
        cur = v;
      }
      rowResets.set(x.labels, set);
    }
    const out: RangeTotal[] = [];
    for (const x of series) {
      if (x.field === '_epoch') {
        continue;
      }
      let cur: number | null = null;
      let total = 0;
      let seen = false;
      let startChecked = false;
      const resets = rowResets.get(x.labels);
      let timeline = events(x.points);
      if (resets && resets.size > 0) {
        // a row epoch that changed while the counter kept its value: reset and regrown to the same number
        const have = new Set(timeline.map((e) => e[0]));
        const extra = [...resets]
          .filter((id) => !have.has(id))
          .map((id): [number, number | null | 'same'] => [id, 'same']);
        timeline = [...timeline, ...extra].sort((a, b) => a[0] - b[0]) as Array<[number, number | null]>;
      }
      for (const [id, raw] of timeline as Array<[number, number | null | 'same']>) {
        const v: number | null = raw === 'same' ? cur : raw;
        if (id > first && !startChecked) {
          // the row already existed when the range began and lived on into it
          seen ||= cur !== null && hasOkAfterFirst;
          startChecked = true;
        }
        const before = prevOk.get(id);
        if (id > first && before && v !== null && epochOf.has(id)) {
          const reset = cur === null || v < cur || epochOf.get(id) !== before.epoch || (resets?.has(id) ?? false);
          total += reset ? v : v - cur!;
          seen = true;
        }
        cur = v;
      }
      if (!startChecked) {
        seen ||= cur !== null && hasOkAfterFirst;
      }
      out.push({ labels: x.parsed, field: x.field, total, seen });
    }
    return out;
  }

  /** A stream's series of `fields` (or of the rows `rowsIn` alone), kept in `cache` when given. */
  private listSeries(
    targetId: number,
    collector: string,
    fields: string[],
    rowsIn: string[] | undefined,
    cache: ReadCache | undefined
  ): SeriesList {
    const placeholders = fields.map(() => '?').join(',');
    if (rowsIn) {
      // the rows asked for, through the unique index on (target, collector, labels, field)
      const rows = this.stmt(
        `SELECT s.id, s.labels, s.field FROM json_each(?) j CROSS JOIN series s
         WHERE s.target_id = ? AND s.collector = ? AND s.labels = j.value AND s.field IN (${placeholders})`,
        'raw'
      ).all(JSON.stringify(rowsIn), targetId, collector, ...fields) as SeriesList['rows'];
      return new SeriesList(0, rows, parseLabels);
    }
    const maxId = (this.stmt('SELECT max(id) FROM series', 'pluck').get() as number | null) ?? 0;
    const read = () =>
      new SeriesList(
        maxId,
        this.stmt(
          `SELECT id, labels, field FROM series WHERE target_id = ? AND collector = ? AND field IN (${placeholders})`,
          'raw'
        ).all(targetId, collector, ...fields) as SeriesList['rows'],
        parseLabels
      );
    // a dashboard lists the same series again and again
    return cache
      ? cache.seriesList(`${targetId}\u0000${collector}\u0000${fields.join('\u0000')}`, maxId, read)
      : read();
  }

  /**
   * The same totals as rangeTotals(…, samples(target, collector, from, to)), from running totals:
   * per series the total at the last ok sample minus the total at the first (the last ok sample
   * before `from`, else the first in the range) — a few index lookups per series, whatever the
   * range length. undefined when some series has points from before running totals existed there
   * (a collector without declared counters, history not filled in): the caller walks the points.
   */
  rangeTotalsBetween(
    target: string,
    collector: string,
    fields: string[],
    filter: LabelFilter | undefined,
    from: number,
    to: number,
    /** only these rows (canonicalLabels of their key): the lookups are made for them alone */
    rowsIn?: string[],
    /**
     * keep the series listed and their points at the ends in the read cache (read-cache.ts): for
     * dashboards, which ask again; not for a one-off read of every series (an advisor evaluation)
     */
    keep = false
  ): RangeTotal[] | undefined {
    // one read snapshot: compaction may pack rows into chunks between two statements otherwise
    const read = () => this.readRangeTotalsBetween(target, collector, fields, filter, from, to, rowsIn, keep);
    return this.conn.inTransaction ? read() : this.conn.transaction(read)();
  }

  private readRangeTotalsBetween(
    ...[target, collector, fields, filter, from, to, rowsIn, keep]: Parameters<Store['rangeTotalsBetween']>
  ): RangeTotal[] | undefined {
    const via = this.route(target, collector, from, to);
    if ('pieces' in via) {
      return undefined; // pieces of several histories: the caller walks the samples
    }
    const targetId = this.readTargetId(via.target);
    const okAt = (sql: string, ...args: unknown[]) =>
      this.stmt(sql).get(targetId, collector, ...args) as { id: number } | undefined;
    const first =
      okAt(
        'SELECT id FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts < ? AND ok = 1 ORDER BY ts DESC, id DESC LIMIT 1',
        from
      ) ??
      okAt(
        'SELECT id FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ? AND ts <= ? AND ok = 1 ORDER BY ts, id LIMIT 1',
        from,
        to
      );
    const last = okAt(
      'SELECT id FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ? AND ts <= ? AND ok = 1 ORDER BY ts DESC, id DESC LIMIT 1',
      from,
      to
    );
    if (fields.length === 0 || !first || !last || last.id <= first.id) {
      // fewer than two ok samples: no delta anywhere
      return [];
    }
    const cache = keep && this.readCache?.begin(this.prep) ? this.readCache : undefined;
    const listed = this.listSeries(targetId, collector, fields, rowsIn, cache);
    // the filter first, before any point is read
    const wanted = filter
      ? listed.rows.filter(([, labels]) => matches(listed.parsed.get(labels)!, filter))
      : listed.rows;
    const ids = wanted.map((r) => r[0]);
    const ends = readRangeEnds(this.prep, ids, first.id, last.id, cache);
    // two stored points per series (the budget counts points read)
    this.rowsRead += ids.length * 2;
    this.interrupt?.();
    const kf =
      (
        this.stmt(
          'SELECT max(id) AS id FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND keyframe = 1 AND id <= ?'
        ).get(targetId, collector, first.id) as { id: number | null }
      ).id ?? 0;
    const firstPointTotal = this.stmt(
      'SELECT total FROM point WHERE series_id = ? AND sample_id > ? ORDER BY sample_id LIMIT 1',
      'pluck'
    );
    const valueInside = this.stmt(
      'SELECT 1 FROM point WHERE series_id = ? AND sample_id > ? AND sample_id <= ? AND value IS NOT NULL LIMIT 1',
      'pluck'
    );
    const out: RangeTotal[] = [];
    const prep = this.prep;
    /** the total of the series' first point after a sample (chunked points come before rows) */
    const firstTotalAfter = (id: number, after: number) => {
      const c = chunkPointAfter(prep, id, after);
      return c ? c[2] : firstPointTotal.get(id, after);
    };
    const { k0, v0, t0, s1, t1 } = ends;
    for (let i = 0; i < wanted.length; i++) {
      const [id, labels, field] = wanted[i];
      if (s1[i] === NO_POINT) {
        continue; // no point up to the range's end: the series did not exist yet
      }
      const started = !Number.isNaN(k0[i]);
      if (
        (started && Number.isNaN(t0[i])) ||
        s1[i] === NO_TOTAL ||
        (!started && firstTotalAfter(id, first.id) === null)
      ) {
        return undefined;
      }
      const total = t1[i] - (started ? t0[i] : 0);
      // a delta fell in the range: the row lived at its start and on into it, or had a value inside it
      const seen =
        total !== 0 ||
        (started && k0[i] >= kf && !Number.isNaN(v0[i])) ||
        valueInside.get(id, first.id, last.id) !== undefined ||
        chunkPointsIn(prep, id, first.id + 1, last.id).some((p) => p[1] !== null);
      out.push({ labels: listed.parsed.get(labels)!, field, total, seen, key: labels });
    }
    return out;
  }

  /**
   * Per series of `fields` (listed as matrix() lists them): the first and the last ok sample of
   * samples(target, collector, from, to) at which matrix() would show a value, and that last value,
   * from a few lookups per series (store/value-ends.ts) instead of a value per sample. undefined
   * for pieces of several histories: the caller walks the samples.
   */
  valueEnds(
    target: string,
    collector: string,
    fields: string[],
    from: number,
    to: number,
    /** each series' `last` with the counters' epoch there (lifetime counters: since when they count) */
    epochs = false
  ):
    | (Omit<ValueEnds, 'series'> & {
        series: Array<Omit<ValueEnd, 'labels'> & { labels: Record<string, string> }>;
      })
    | undefined {
    // one read snapshot: compaction may move points between two lookups otherwise
    const read = () => {
      const via = this.route(target, collector, from, to);
      if ('pieces' in via) {
        return undefined;
      }
      const tick = (k: number) => {
        this.rowsRead += k;
        if (this.rowsRead % 1024 < k) {
          this.interrupt?.();
        }
      };
      const ends = readValueEnds(this.prep, this.readTargetId(via.target), collector, fields, from, to, tick, epochs);
      // the fields of one row share its labels: parse them once
      const parsed = new Map<string, Record<string, string>>();
      const series = ends.series.map((e) => {
        let labels = parsed.get(e.labels);
        if (!labels) {
          labels = parseLabels(e.labels);
          parsed.set(e.labels, labels);
        }
        return { ...e, labels };
      });
      return { ...ends, series };
    };
    return this.conn.inTransaction ? read() : this.conn.transaction(read)();
  }

  /**
   * Per-series step sums of counter deltas from running totals, read at the step edges only: for
   * each edge the ok samples either side of it and each series' total there (a delta spread over
   * the time it covers is linear between them), so a 7-day panel reads about as much as a 1-hour
   * one. Exact where every delta near a step is an ordinary one; steps near a reset, a vanished or
   * new row are listed in `irregular` (runs of steps with the sample span to recompute the raw
   * way). undefined when running totals cannot answer (no totals, or more lookups than `maxLookups`).
   */
  stepTotals(
    target: string,
    collector: string,
    fields: string[],
    filter: LabelFilter | undefined,
    range: { from: number; to: number },
    grid: { starts: number[]; step: number },
    mode: 'end' | 'spread',
    maxLookups: number,
    /** failed samples count as irregular too (sums over rows: a row appearing after a gap spreads from the gap) */
    strict = false
  ): StepTotals | undefined {
    const via = this.route(target, collector, range.from, range.to);
    if ('pieces' in via) {
      return undefined; // pieces of several histories: the caller walks the samples
    }
    // one read snapshot for all of it: the edges, marks and points must come from the same history
    // (compaction moves and drops points between statements otherwise)
    const read = () =>
      this.readStepTotals(via.target, collector, fields, filter, range, grid, mode, maxLookups, strict);
    return this.conn.inTransaction ? read() : this.conn.transaction(read)();
  }

  private readStepTotals(
    ...[target, collector, fields, filter, range, grid, mode, maxLookups, strict = false]: Parameters<
      Store['stepTotals']
    >
  ): StepTotals | undefined {
    const n = grid.starts.length;
    const targetId = this.readTargetId(target);
    const prep = this.prep;
    if (n === 0 || fields.length === 0 || targetId < 0) {
      return undefined;
    }
    const placeholders = fields.map(() => '?').join(',');
    const series = (
      this.stmt(
        `SELECT id, labels, field FROM series WHERE target_id = ? AND collector = ? AND field IN (${placeholders})`
      ).all(targetId, collector, ...fields) as Array<{
        id: number;
        labels: string;
        field: string;
      }>
    )
      .map((x) => ({ ...x, parsed: parseLabels(x.labels) }))
      .filter((x) => matches(x.parsed, filter));
    if (series.length * (n + 1) * 2 > maxLookups) {
      return undefined;
    }
    const okBefore = this.stmt(
      'SELECT id, ts FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts < ? AND ok = 1 ORDER BY ts DESC, id DESC LIMIT 1',
      'raw'
    );
    const okFrom = this.stmt(
      'SELECT id, ts FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ? AND ts <= ? AND ok = 1 ORDER BY ts, id LIMIT 1',
      'raw'
    );
    const lastOk = this.stmt(
      'SELECT id, ts FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ? AND ts <= ? AND ok = 1 ORDER BY ts DESC, id DESC LIMIT 1',
      'raw'
    );
    // the ok samples the raw path pairs: from the last one before `from` to the last one up to `to`
    const first = (okBefore.get(targetId, collector, range.from) ??
      okFrom.get(targetId, collector, range.from, range.to)) as [number, number] | undefined;
    const last = lastOk.get(targetId, collector, range.from, range.to) as [number, number] | undefined;
    const empty = () =>
      series.map((x) => ({
        labels: x.parsed,
        field: x.field,
        sum: new Array<number | null>(n).fill(null),
        elapsed: new Array<number>(n).fill(0),
      }));
    if (
      !first &&
      !this.stmt(
        'SELECT 1 FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ? AND ts <= ? LIMIT 1'
      ).get(targetId, collector, range.from, range.to)
    ) {
      return { series: [], irregular: [] }; // no sample at all: no series either, as matrix() answers
    }
    if (!first || !last || last[0] <= first[0]) {
      return { series: empty(), irregular: [] };
    }
    const [firstId, firstTs] = first;
    const [lastId, lastTs] = last;
    /** how many ok samples are stamped at ts, up to 2 */
    const okAt = (ts: number) =>
      this.stmt(
        'SELECT count(*) FROM (SELECT 1 FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts = ? AND ok = 1 LIMIT 2)',
        'pluck'
      ).get(targetId, collector, ts) as number;
    // per edge: p = last ok sample before it, i = first ok sample at or after it (both within [first, last])
    const edges = Array.from({ length: n + 1 }, (_, j) => grid.starts[0] + j * grid.step);
    const inside = edges.filter((e) => e > firstTs && e <= lastTs);
    // a dense span (few samples per edge) is read in one ordered pass, a sparse one by a seek per edge
    const spanRows = inside.length > 0 ? estimateSamples(prep, targetId, collector, firstTs, lastTs) : 0;
    const pick = (cheap: boolean) => (this.edgeReads === 'auto' ? cheap : this.edgeReads === 'scan');
    const scan = pick(spanRows <= SCAN_SAMPLES_PER_EDGE * (inside.length + 1));
    const cache = this.readCache?.begin(prep) ? this.readCache : undefined;
    // a span up to a few times too sparse to scan is still read whole into the cache: the seeks
    // cost about as much once, and the next refresh reads none of it
    const keep = pick(spanRows <= KEEP_SAMPLES_PER_EDGE * (inside.length + 1));
    const around = okSamplesAround(prep, targetId, collector, inside, first, last, scan, cache, keep);
    // per edge as columns; an edge outside (first, last] has both at the end it lies beyond. In
    // 'end' mode the delta of a step ends in it, so an edge reads the total at p, the last ok
    // sample before it, alone.
    const pId = new Float64Array(n + 1);
    const pTs = new Float64Array(n + 1);
    const iId = new Float64Array(n + 1);
    const iTs = new Float64Array(n + 1);
    for (let j = 0, a = 0; j <= n; j++) {
      const e = edges[j];
      if (e <= firstTs || e > lastTs) {
        pId[j] = iId[j] = e <= firstTs ? firstId : lastId;
        pTs[j] = iTs[j] = e <= firstTs ? firstTs : lastTs;
      } else {
        pId[j] = around.pId[a];
        pTs[j] = around.pTs[a];
        iId[j] = around.iId[a];
        iTs[j] = around.iTs[a++];
      }
    }
    // the condition of the partial index sample_marks, so only marked samples are read
    const marks = (
      this.stmt(
        'SELECT ts, ok FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts > ? AND ts <= ? AND (resets = 1 OR ok = 0) ORDER BY ts',
        'raw'
      ).all(targetId, collector, firstTs, lastTs) as Array<[number, number]>
    )
      .filter(([, ok]) => strict || ok === 1)
      .map(([ts]) => ts);
    // the samples read, ascending and distinct; an edge's totals by their slot in it
    const ids = distinctSorted(mode === 'end' ? [pId] : [pId, iId]);
    // edges ascend, and so do their samples' ids as a rule: the slot after the last one is tried first
    let hint = 0;
    const slotOf = (id: number): number => {
      while (hint < ids.length - 1 && ids[hint] < id) {
        hint++;
      }
      if (ids[hint] === id) {
        return hint;
      }
      let lo = 0;
      let hi = ids.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (ids[mid] < id) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      return lo;
    };
    const kfAt = keyframesAt(prep, targetId, collector, ids);
    let idsJson: string | undefined;
    const idsAsJson = () => (idsJson ??= JSON.stringify(Array.from(ids)));
    // the series' points are at most one per sample of the span
    const scanPoints = pick(spanRows <= SCAN_POINTS_PER_READ * ids.length);
    // what does not depend on the series, once: per edge the slots of the totals it reads and the
    // share of the delta across it; per step the time covered and whether a mark falls into it
    const pS = new Int32Array(n + 1);
    const iS = new Int32Array(n + 1);
    const num = new Float64Array(n + 1);
    const den = new Float64Array(n + 1);
    const T = new Float64Array(n + 1);
    for (let j = 0; j <= n; j++) {
      const e = edges[j];
      pS[j] = slotOf(pId[j]);
      if (mode === 'end') {
        iS[j] = pS[j];
        T[j] = pTs[j] - firstTs;
        continue;
      }
      iS[j] = slotOf(iId[j]);
      if (iId[j] !== pId[j] && e > pTs[j]) {
        num[j] = e - pTs[j];
        den[j] = iTs[j] - pTs[j];
      }
      T[j] = Math.min(Math.max(e, firstTs), lastTs) - firstTs;
    }
    // samples stamped at one time (a clock set back: writeSample) pair into deltas that cover no
    // time, which the raw path puts in the step holding that time. Inside the span a step shows them
    // as its running total moves; the step holding the last sample's time may cover none of the
    // span (it starts there), so it is told apart by a tie there, one seek
    let tiedStep = -1;
    if (mode === 'spread') {
      const b = Math.floor((lastTs - grid.starts[0]) / grid.step);
      if (b >= 0 && b < n && okAt(lastTs) > 1) {
        tiedStep = b;
      }
    }
    /** the last sample whose delta reaches into step b (its first is p of its start) */
    const hiTs = (b: number) => (mode === 'end' ? pTs[b + 1] : iTs[b + 1]);
    const marked = new Uint8Array(n);
    const spans = new Uint8Array(n);
    let m = 0;
    for (let b = 0; b < n; b++) {
      // the samples whose deltas reach into this step: (p of its start, hiTs]
      const lo = pTs[b];
      const hi = hiTs(b);
      while (m < marks.length && marks[m] <= lo) {
        m++;
      }
      marked[b] = m < marks.length && marks[m] <= hi ? 1 : 0;
      spans[b] = hi > lo ? 1 : 0;
    }
    const irregular = new Set<number>();
    const out: StepTotals['series'] = [];
    const total = new Float64Array(ids.length);
    const live = new Uint8Array(ids.length);
    const pts = new PointsAt(ids.length);
    for (const x of series) {
      pointsAt(prep, x.id, ids, idsAsJson, scanPoints, pts, cache);
      this.rowsRead += pts.rows;
      this.interrupt?.();
      total.fill(0);
      live.fill(0);
      for (let j = 0; j < ids.length; j++) {
        if (pts.at[j] < 0) {
          continue;
        }
        const t = pts.t[j];
        if (t !== t) {
          return undefined; // history from before running totals: the raw path answers
        }
        total[j] = t;
        live[j] = pts.valued[j] === 1 && pts.at[j] >= kfAt[j] ? 1 : 0;
      }
      /** the running total at an edge: the total before it plus the share of the delta across it */
      const C = (j: number): number => {
        const tp = total[pS[j]];
        return den[j] === 0 ? tp : tp + ((total[iS[j]] - tp) * num[j]) / den[j];
      };
      const sum = new Array<number | null>(n).fill(null);
      const elapsed = new Array<number>(n).fill(0);
      let c0 = C(0);
      for (let b = 0; b < n; b++) {
        const c1 = C(b + 1);
        if (marked[b] === 1 || (spans[b] === 1 && live[pS[b]] === 0)) {
          irregular.add(b);
        } else if (T[b + 1] > T[b] || b === tiedStep) {
          sum[b] = c1 - c0;
          elapsed[b] = T[b + 1] - T[b];
        }
        c0 = c1;
      }
      out.push({ labels: x.parsed, field: x.field, sum, elapsed });
    }
    // runs of irregular steps, with the sample span whose deltas reach into them
    const runs: StepTotals['irregular'] = [];
    const sorted = [...irregular].sort((a, b) => a - b);
    for (let k = 0; k < sorted.length; ) {
      let e = k;
      while (e + 1 < sorted.length && sorted[e + 1] === sorted[e] + 1) {
        e++;
      }
      const b0 = sorted[k];
      const b1 = sorted[e];
      // callers read the run's samples after fromTs, with the last ok one at or before it as the
      // first; an edge before the range's first ok sample pairs from that one, the first of the
      // samples stamped at its time when there are several (a clock set back), so all are read
      const fromFirst = pId[b0] === firstId && firstTs >= range.from && okAt(firstTs) > 1;
      runs.push({ from: b0, to: b1, fromTs: fromFirst ? firstTs - 1 : pTs[b0], toTs: hiTs(b1) });
      k = e + 1;
    }
    return { series: out, irregular: runs };
  }

  /**
   * The first sample from which a collector's per-database sums (running-totals.ts) are complete:
   * undefined when it has none. Ranges starting earlier sum the rows.
   */
  aggregatesFrom(target: string, collector: string, field: string): number | undefined {
    const via = this.route(target, collector, 0, Number.MAX_SAFE_INTEGER);
    if ('pieces' in via) {
      return undefined;
    }
    target = via.target;
    const first = this.stmt(
      // a series' chunks come before its rows (store/chunks.ts): its first chunk holds its first point
      `SELECT min(coalesce((SELECT first_sample_id FROM point_chunk WHERE series_id = s.id ORDER BY last_sample_id LIMIT 1),
         (SELECT min(sample_id) FROM point WHERE series_id = s.id)))
       FROM series s WHERE s.target_id = ? AND s.collector = ? AND s.field = ?`,
      'pluck'
    ).get(this.readTargetId(target), collector, aggregateField(field)) as number | null;
    return first ?? undefined;
  }

  /** The id of the first ok sample deltas over [from, to] start from (the last ok one before `from`, else the first in it). */
  rangeStart(target: string, collector: string, from: number, to: number): number | undefined {
    const via = this.route(target, collector, from, to);
    if ('pieces' in via) {
      return undefined;
    }
    const targetId = this.readTargetId(via.target);
    const okBefore = this.stmt(
      'SELECT id, ts FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts < ? AND ok = 1 ORDER BY ts DESC, id DESC LIMIT 1',
      'raw'
    );
    const okFrom = this.stmt(
      'SELECT id, ts FROM sample_row WHERE stream = (SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?) AND ts >= ? AND ts <= ? AND ok = 1 ORDER BY ts, id LIMIT 1',
      'raw'
    );
    const first = (okBefore.get(targetId, collector, from) ?? okFrom.get(targetId, collector, from, to)) as
      | [number, number]
      | undefined;
    return first?.[0];
  }

  entities(target: string, collector: string, filter?: LabelFilter): EntityInfo[] {
    const held = this.heldBy(target, collector);
    if (held.length > 1) {
      return mergeEntities(held.map((p) => this.entitiesOf(p.id, collector, filter)));
    }
    return this.entitiesOf(this.readTargetId(target), collector, filter);
  }

  private entitiesOf(targetId: number, collector: string, filter?: LabelFilter): EntityInfo[] {
    const rows = this.db
      .prepare('SELECT labels, info, first_seen, last_seen FROM entity WHERE target_id = ? AND collector = ?')
      .all(targetId, collector) as Array<{
      labels: string;
      info: string | null;
      first_seen: number;
      last_seen: number;
    }>;
    return rows
      .map((r) => ({
        labels: parseLabels(r.labels),
        info: r.info ? (JSON.parse(r.info) as Record<string, unknown>) : {},
        firstSeen: r.first_seen,
        lastSeen: r.last_seen,
      }))
      .filter((e) => matches(e.labels, filter));
  }

  knownQueryIds(target: string): Set<string> {
    const rows = this.db
      .prepare('SELECT queryid FROM statement_text WHERE target_id = ?')
      .all(this.readTargetId(target)) as Array<{ queryid: string }>;
    return new Set(rows.map((r) => r.queryid));
  }

  putStatementTexts(target: string, texts: Array<{ queryid: string; text: string }>, ts: number): void {
    this.write(() => {
      const targetId = this.targetId(target);
      const stmt = this.stmt(
        'INSERT OR IGNORE INTO statement_text (target_id, queryid, text, first_seen) VALUES (?, ?, ?, ?)'
      );
      this.conn.transaction(() => {
        for (const t of texts) {
          stmt.run(targetId, t.queryid, scrubStatement(t.text), ts);
        }
      })();
    });
  }

  statementTexts(target: string, queryids?: string[]): Map<string, string> {
    const targetId = this.readTargetId(target);
    const rows = queryids
      ? // prepared once: a table's ten texts cost more to prepare than to read
        queryids.map(
          (q) =>
            this.stmt('SELECT queryid, text FROM statement_text WHERE target_id = ? AND queryid = ?').get(
              targetId,
              q
            ) as { queryid: string; text: string } | undefined
        )
      : (this.db.prepare('SELECT queryid, text FROM statement_text WHERE target_id = ?').all(targetId) as Array<{
          queryid: string;
          text: string;
        }>);
    const out = new Map<string, string>();
    for (const r of rows) {
      if (r) {
        // scrubbed when stored too; again here so a rule added later also covers older texts
        out.set(r.queryid, scrubStatement(r.text));
      }
    }
    return out;
  }

  addEvent(target: string, ev: { ts: number; kind: string; title: string; text?: string; tags?: string[] }): number {
    return this.write(() =>
      Number(
        this.stmt('INSERT INTO event (target_id, ts, kind, title, text, tags) VALUES (?, ?, ?, ?, ?, ?)').run(
          this.targetId(target),
          ev.ts,
          ev.kind,
          ev.title,
          ev.text ?? '',
          JSON.stringify(ev.tags ?? [])
        ).lastInsertRowid
      )
    );
  }

  events(target: string, from: number, to: number, kinds?: string[]): StoredEvent[] {
    const rows = this.db
      .prepare(
        'SELECT id, ts, kind, title, text, tags FROM event WHERE target_id = ? AND ts >= ? AND ts <= ? ORDER BY ts'
      )
      .all(this.readTargetId(target), from, to) as Array<{
      id: number;
      ts: number;
      kind: string;
      title: string;
      text: string;
      tags: string;
    }>;
    return rows
      .filter((r) => !kinds || kinds.includes(r.kind))
      .map((r) => ({
        id: r.id,
        target,
        ts: r.ts,
        kind: r.kind,
        title: r.title,
        text: r.text,
        tags: JSON.parse(r.tags) as string[],
      }));
  }

  kvGet(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM kv WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  kvSet(key: string, value: string): void {
    this.write(() =>
      this.stmt('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(
        key,
        value
      )
    );
  }

  /**
   * Texts of statements pg_stat_statements has not shown since the cutoff: they are kept no longer
   * than the history that could show them (retention), not forever.
   */
  /** texts deleted by retention so far: the sampler's cache of known queryids reloads when it changes */
  statementTextsDropped = 0;

  private dropUnseenStatementTexts(cutoff: number): void {
    const live = new Set(
      (
        this.db
          .prepare("SELECT target_id, labels FROM entity WHERE collector = 'statements' AND last_seen >= ?")
          .all(cutoff) as Array<{ target_id: number; labels: string }>
      ).map((e) => `${e.target_id}\u0000${parseLabels(e.labels).queryid ?? ''}`)
    );
    const old = this.db
      .prepare('SELECT target_id, queryid FROM statement_text WHERE first_seen < ?')
      .all(cutoff) as Array<{ target_id: number; queryid: string }>;
    const drop = this.db.prepare('DELETE FROM statement_text WHERE target_id = ? AND queryid = ?');
    this.db.transaction(() => {
      for (const t of old) {
        if (!live.has(`${t.target_id}\u0000${t.queryid}`)) {
          drop.run(t.target_id, t.queryid);
          this.statementTextsDropped++;
        }
      }
    })();
  }

  /**
   * Retention and downsampling. A removed sample's points move to the next kept sample when that
   * one has none for the series, so carried-forward values (and counter deltas across the kept
   * samples) stay exact. Then points older than the head window are packed into chunks.
   */
  compact(now: number, opts: CompactOptions): { removed: number } {
    return this.write(() => {
      let removed = 0;
      for (const stream of this.compactionStreams()) {
        removed += this.compactStreamNow(now, opts, stream);
      }
      this.compactTailNow(now, opts);
      return { removed };
    });
  }

  /**
   * The streams one compaction pass walks. The sidecar compacts them one at a time
   * (compactStream) and lets sampling run in between: a whole pass over a fleet's history at once
   * would hold the event loop for seconds; then compactTail.
   */
  compactionStreams(): CompactionStream[] {
    return this.db
      .prepare(
        'SELECT target_id, collector FROM sample_stream st WHERE EXISTS (SELECT 1 FROM sample_row WHERE stream = st.id) ORDER BY target_id, collector'
      )
      .all() as CompactionStream[];
  }

  /** one stream's part of compact(): samples removed */
  compactStream(now: number, opts: CompactOptions, stream: CompactionStream): number {
    return this.write(() => this.compactStreamNow(now, opts, stream));
  }

  /** what compact() does after the streams: events, aliases and statement texts past retention */
  compactTail(now: number, opts: CompactOptions): void {
    this.write(() => this.compactTailNow(now, opts));
  }

  private compactStreamNow(now: number, opts: CompactOptions, { target_id, collector }: CompactionStream): number {
    let removed = 0;
    const dropSample = this.db.prepare('DELETE FROM sample_row WHERE id = ?');
    // a keyframe holds its epoch (sample-epochs.ts): the one in force there, read before anything is deleted
    const markKeyframeAt = this.db.prepare('UPDATE sample_row SET keyframe = 1, epoch = ? WHERE id = ?');
    const epochAt = new Map<number, number | null>();
    const markKeyframe = { run: (id: number) => markKeyframeAt.run(epochAt.get(id) ?? null, id) };
    const stream = '(SELECT id FROM sample_stream WHERE target_id = ? AND collector = ?)';
    const cutoff = now - opts.downsampleAfterMs;
    const columns = 'id, ts, ok, epoch, keyframe, resets';
    const old = this.db
      .prepare(`SELECT ${columns} FROM sample_row WHERE stream = ${stream} AND ts < ? ORDER BY ts, id`)
      .all(target_id, collector, cutoff) as CompactedSample[];
    const seriesIds = this.db
      .prepare('SELECT id FROM series WHERE target_id = ? AND collector = ?')
      .pluck()
      .all(target_id, collector) as number[];
    const prepare = this.prep;
    // without a head window only what compaction unpacked is packed again (packSeries)
    const pack = () => packStream(prepare, target_id, collector, seriesIds, now - (opts.headMs ?? Infinity));
    if (old.length === 0) {
      this.db.transaction(pack)();
      return 0;
    }
    // Epochs, carried values and running totals follow the order samples were written in (ids),
    // so compaction walks that order: a dropped sample's points and keyframe role go to the next
    // kept sample by id. Once the clock was set back, newer samples (not thinned) hold ids among the
    // old ones: they join the walk as kept samples, or a point would move past them. Their ids come
    // from the time index alone; without a set-back there are none and the walk is the time order.
    const last = old.reduce((m, s) => Math.max(m, s.id), 0);
    const newer = this.db
      .prepare(`SELECT id FROM sample_row WHERE stream = ${stream} AND ts >= ?`)
      .pluck()
      .all(target_id, collector, cutoff) as number[];
    const rowAt = this.db.prepare(
      `SELECT ${columns.replace('epoch', `${epochOf('r')} AS epoch`)} FROM sample_row r WHERE id = ?`
    );
    const walk = old.concat(newer.filter((id) => id < last).map((id) => rowAt.get(id) as CompactedSample));
    walk.sort((a, b) => a.id - b.id);
    inheritRowEpochs(this.prep, target_id, collector, walk);
    for (const s of walk) {
      epochAt.set(s.id, s.epoch);
    }
    // the first ok sample written after the walk takes the points of what is dropped at its end
    let next: CompactedSample | undefined;
    for (const id of newer.filter((id) => id > last).sort((a, b) => a - b)) {
      const s = rowAt.get(id) as CompactedSample;
      if (s.ok === 1) {
        next = s;
        break;
      }
    }
    if (next) {
      epochAt.set(next.id, next.epoch);
    }
    // decide what stays: the newer samples in the walk; nothing past retention; otherwise the last ok
    // sample of each step, epoch boundaries and failures (they mark gaps)
    const keep = new Set<number>();
    const lastInBucket = new Map<number, number>();
    let prevEpoch: number | null | undefined;
    let prevOk: number | undefined;
    for (const s of walk) {
      const recent = s.ts >= cutoff;
      if (recent) {
        keep.add(s.id);
      } else if (s.ts < now - opts.retentionMs) {
        continue;
      }
      if (s.ok === 0) {
        keep.add(s.id);
        continue;
      }
      if (prevEpoch !== undefined && s.epoch !== prevEpoch) {
        keep.add(s.id);
      }
      // a counter reset or vanished here: with it and the sample before it kept, the deltas across
      // the samples that stay add up to the running totals (store/running-totals.ts)
      if (s.resets === 1) {
        keep.add(s.id);
        if (prevOk !== undefined) {
          keep.add(prevOk);
        }
      }
      prevEpoch = s.epoch;
      prevOk = s.id;
      if (!recent) {
        lastInBucket.set(Math.floor(s.ts / opts.downsampleStepMs), s.id);
      }
    }
    for (const id of lastInBucket.values()) {
      keep.add(id);
    }
    if (next?.resets === 1 && prevOk !== undefined) {
      keep.add(prevOk);
    }
    this.db.transaction(() => {
      let target: number | undefined = next?.id;
      // a target that took a dropped keyframe's points: a row without a point there had vanished,
      // so points from before that keyframe must not move past it (they would bring the row back)
      let sealed: number | undefined;
      const removals: Removal[] = [];
      for (let i = walk.length - 1; i >= 0; i--) {
        const s = walk[i];
        if (keep.has(s.id)) {
          if (s.ok === 1) {
            target = s.id;
          }
          continue;
        }
        // the row stays gone at a sealed target, but its running total must live on
        removals.push({ id: s.id, target, totalsOnly: target !== undefined && target === sealed });
        if (target !== undefined && target !== sealed && s.keyframe === 1) {
          markKeyframe.run(target);
          sealed = target;
        }
        dropSample.run(s.id);
        removed++;
      }
      const order = walk.map((s) => s.id);
      if (next) {
        order.push(next.id);
      }
      moveRemovedPoints(prepare, seriesIds, order, removals);
      // the oldest surviving sample must be self-contained
      if (target !== undefined) {
        markKeyframe.run(target);
      }
      pack();
    })();
    return removed;
  }

  private compactTailNow(now: number, opts: CompactOptions): void {
    this.db.prepare('DELETE FROM event WHERE ts < ?').run(now - opts.retentionMs);
    if (hasAliases(this.db)) {
      if (this.db.prepare('DELETE FROM stream_alias WHERE to_ts < ?').run(now - opts.retentionMs).changes > 0) {
        // a closed alias past retention no longer says which history a stream resumes on
        this.aliasResumable.clear();
      }
    }
    this.dropUnseenStatementTexts(now - opts.retentionMs);
  }
}
