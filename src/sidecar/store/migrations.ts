/**
 * Versioned schema migrations for the SQLite history. Append only: a released migration is never
 * edited, so every existing data directory upgrades the same way.
 */
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { collectorSpecs } from '../../model/catalog/collectors';
import { storeFaultKind } from './faults';
import { backfillRunningTotals } from './running-totals';
import { epochOf } from './sample-epochs';
import { scrubStatement } from './scrub';
import type { Prepare } from './statements';

export interface Migration {
  version: number;
  sql: string;
  run?: (db: Database.Database) => void;
  /** a migration that rewrites every sample: how many it will rewrite on this file, and its cost each */
  rewrites?: { samples: (db: Database.Database) => number; cost: RewriteCost };
}

/** per sample rewritten, measured by bench/sample-migration.ts (bench/results/sample-migration.md) */
interface RewriteCost {
  seconds: number;
  /** free disk the rewrite takes before its transaction commits: the new rows beside the old, and the WAL */
  bytes: number;
}

// measured 0.80 / 0.59 µs and 72.6 / 27.5 B a sample (1 million samples, 2 cores at load 1.5:
// bench/results/sample-migration.md), rounded up: a busier machine is slower, a file with longer
// error texts larger, and too little free disk asked for fails the start
const MIGRATION_10_COST: RewriteCost = { seconds: 1e-6, bytes: 80 };
const MIGRATION_11_COST: RewriteCost = { seconds: 0.75e-6, bytes: 32 };

export const migrations: Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE target (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
      -- one row per collector cycle, successful or not: gaps are visible as failed or missing samples
      CREATE TABLE sample (
        id INTEGER PRIMARY KEY,
        target_id INTEGER NOT NULL REFERENCES target(id),
        collector TEXT NOT NULL,
        ts INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        epoch REAL,
        keyframe INTEGER NOT NULL DEFAULT 0,
        duration_ms REAL,
        rows INTEGER,
        error TEXT
      );
      CREATE INDEX sample_by_time ON sample (target_id, collector, ts);
      CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        target_id INTEGER NOT NULL,
        collector TEXT NOT NULL,
        labels TEXT NOT NULL,
        field TEXT NOT NULL,
        UNIQUE (target_id, collector, labels, field)
      );
      CREATE INDEX series_by_field ON series (target_id, collector, field);
      -- values are stored only when they change (and at keyframes); readers carry them forward
      CREATE TABLE point (
        series_id INTEGER NOT NULL,
        sample_id INTEGER NOT NULL,
        value REAL,
        PRIMARY KEY (series_id, sample_id)
      ) WITHOUT ROWID;
      CREATE INDEX point_by_sample ON point (sample_id);
      CREATE TABLE entity (
        target_id INTEGER NOT NULL,
        collector TEXT NOT NULL,
        labels TEXT NOT NULL,
        info TEXT,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        PRIMARY KEY (target_id, collector, labels)
      ) WITHOUT ROWID;
      CREATE TABLE statement_text (
        target_id INTEGER NOT NULL,
        queryid TEXT NOT NULL,
        text TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        PRIMARY KEY (target_id, queryid)
      ) WITHOUT ROWID;
      -- annotations: resets, restarts, objects created/dropped, findings raised/cleared, actions
      CREATE TABLE event (
        id INTEGER PRIMARY KEY,
        target_id INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        text TEXT NOT NULL DEFAULT '',
        tags TEXT NOT NULL DEFAULT '[]'
      );
      CREATE INDEX event_by_time ON event (target_id, ts);
      CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `,
  },
  {
    // advisors (src/sidecar/advisors) and opt-in actions (src/sidecar/actions)
    version: 2,
    sql: `
      -- one row per advisor finding and target: open while cleared_at IS NULL
      CREATE TABLE advisor_finding (
        target_id INTEGER NOT NULL,
        id TEXT NOT NULL,
        rule TEXT NOT NULL,
        severity TEXT NOT NULL,
        category TEXT NOT NULL,
        object TEXT NOT NULL,
        data TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        cleared_at INTEGER,
        PRIMARY KEY (target_id, id)
      ) WITHOUT ROWID;
      -- every action asked for (dry-run, refused, done or failed): what, when, which trigger, result
      CREATE TABLE action_audit (
        id INTEGER PRIMARY KEY,
        target_id INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        action TEXT NOT NULL,
        object TEXT NOT NULL,
        trigger TEXT NOT NULL,
        dry_run INTEGER NOT NULL,
        sql TEXT NOT NULL,
        status TEXT NOT NULL,
        result TEXT NOT NULL DEFAULT '',
        finished_ts INTEGER
      );
      CREATE INDEX action_audit_by_time ON action_audit (target_id, ts);
    `,
  },
  {
    // statement texts were stored verbatim before: utility statements keep their passwords
    version: 3,
    sql: '',
    run: (db) => {
      const rows = db.prepare('SELECT target_id, queryid, text FROM statement_text').all() as Array<{
        target_id: number;
        queryid: string;
        text: string;
      }>;
      const update = db.prepare('UPDATE statement_text SET text = ? WHERE target_id = ? AND queryid = ?');
      for (const r of rows) {
        const clean = scrubStatement(r.text);
        if (clean !== r.text) {
          update.run(clean, r.target_id, r.queryid);
        }
      }
    },
  },
  {
    // running totals per counter point and reset marks per sample (store/running-totals.ts): range
    // deltas in two lookups. Existing history is filled in here; nothing is removed.
    version: 4,
    sql: '',
    run: (db) => {
      // columns added only where missing: a file whose version was set back still upgrades
      const has = (table: string, column: string) =>
        (db.prepare(`SELECT name FROM pragma_table_info('${table}')`).pluck().all() as string[]).includes(column);
      if (!has('point', 'total')) {
        db.exec('ALTER TABLE point ADD COLUMN total REAL');
      }
      if (!has('sample', 'resets')) {
        db.exec('ALTER TABLE sample ADD COLUMN resets INTEGER NOT NULL DEFAULT 0');
      }
      backfillRunningTotals(db, (collector) => collectorSpecs.find((c) => c.id === collector)?.counters);
    },
  },
  {
    // step sums from running totals look up keyframes and marked samples (resets, failures) near
    // each step edge: small partial indexes make those lookups independent of the history's length
    version: 5,
    sql: '',
    // unchanged for a file before migration 10; after it (a version set back) `sample` is a view,
    // which SQLite refuses to index even where IF NOT EXISTS would find the name on sample_row
    run: (db) => {
      if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sample'").get() === undefined) {
        return;
      }
      db.exec(`
        CREATE INDEX IF NOT EXISTS sample_keyframes ON sample (target_id, collector, id) WHERE keyframe = 1;
        CREATE INDEX IF NOT EXISTS sample_marks ON sample (target_id, collector, ts) WHERE resets = 1 OR ok = 0;
      `);
    },
  },
  {
    // a quarter of every stored point's bytes (12 of 45, bench/results/store-density.md) went to
    // this index; compaction and the running-totals fill-in find points by series instead
    version: 6,
    sql: 'DROP INDEX IF EXISTS point_by_sample;',
  },
  {
    // server-wide collectors stored once per server (store/stream-alias.ts): which history holds a
    // target's stream over which time
    version: 7,
    sql: `
      CREATE TABLE IF NOT EXISTS stream_alias (
        target_id INTEGER NOT NULL,
        collector TEXT NOT NULL,
        source_id INTEGER NOT NULL,
        from_ts INTEGER NOT NULL,
        to_ts INTEGER,
        PRIMARY KEY (target_id, collector, from_ts)
      ) WITHOUT ROWID;
    `,
  },
  {
    // cold chunks (store/chunks.ts): a series' points older than the head window, packed at
    // compaction, a few bytes a point instead of a row each. A rowid table: chunks of ~500 bytes
    // in a WITHOUT ROWID b-tree filled its pages only half (measured: 29 MB of pages for 15 MB)
    version: 8,
    sql: `
      CREATE TABLE IF NOT EXISTS point_chunk (
        series_id INTEGER NOT NULL,
        last_sample_id INTEGER NOT NULL,
        first_sample_id INTEGER NOT NULL,
        n INTEGER NOT NULL,
        data BLOB NOT NULL
      );
      -- first_sample_id too: which chunks overlap a span is answered from the index alone
      CREATE UNIQUE INDEX IF NOT EXISTS point_chunk_by_series ON point_chunk (series_id, last_sample_id, first_sample_id);
    `,
  },
  {
    // what a read connection keeps decoded between queries (store/read-cache.ts) stays valid while
    // the history is only appended to: every other change to it — a sample deleted or updated, a
    // point updated, a chunk written or deleted (compaction, retention, the running-totals
    // fill-in) — moves this number in the same transaction. A sample updated as it is written (its
    // reset mark) is the newest one and moves nothing. Point inserts and deletes are not watched
    // (a trigger per deleted row doubled the hourly compaction, bench/results/compaction.md): the
    // writer inserts at a new sample, and compaction moves and deletes points only in the
    // transaction that deletes their samples (thinning, retention) or writes them into chunks
    // (packing). The read cache's test over a writer that compacts catches a change that does not.
    // A later migration that rewrites sample, point or point_chunk must itself move
    // read_generation: a reader's cache would keep the history from before it otherwise.
    version: 9,
    sql: `
      CREATE TABLE IF NOT EXISTS read_generation (n INTEGER NOT NULL);
      INSERT INTO read_generation (n) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM read_generation);
      CREATE TRIGGER IF NOT EXISTS read_generation_sample_delete AFTER DELETE ON sample
        BEGIN UPDATE read_generation SET n = n + 1; END;
      CREATE TRIGGER IF NOT EXISTS read_generation_sample_update AFTER UPDATE ON sample
        WHEN OLD.id < (SELECT max(id) FROM sample)
        BEGIN UPDATE read_generation SET n = n + 1; END;
      CREATE TRIGGER IF NOT EXISTS read_generation_point_update AFTER UPDATE ON point
        BEGIN UPDATE read_generation SET n = n + 1; END;
      CREATE TRIGGER IF NOT EXISTS read_generation_chunk_insert AFTER INSERT ON point_chunk
        BEGIN UPDATE read_generation SET n = n + 1; END;
      CREATE TRIGGER IF NOT EXISTS read_generation_chunk_delete AFTER DELETE ON point_chunk
        BEGIN UPDATE read_generation SET n = n + 1; END;
      CREATE TRIGGER IF NOT EXISTS read_generation_chunk_update AFTER UPDATE ON point_chunk
        BEGIN UPDATE read_generation SET n = n + 1; END;
    `,
  },
  {
    // a sample row named its collector as text, in the row and again in each index entry, and kept
    // a cycle's duration and row count nobody read: 73 bytes a row with its indexes, ≈10 rows per
    // target every interval (docs/benchmarks.md §9.3). Now the row names its stream (target and
    // collector) by a small integer; `sample` stays as a view with the columns readers use.
    version: 10,
    sql: '',
    run: migrateSampleRows,
    rewrites: { samples: legacySamples, cost: MIGRATION_10_COST },
  },
  {
    // an ok sample between keyframes has its keyframe's epoch (store/sample-epochs.ts): it no
    // longer stores it, 8 bytes a row
    version: 11,
    sql: '',
    run: epochsOnKeyframes,
    rewrites: { samples: sampleRows, cost: MIGRATION_11_COST },
  },
  {
    // the sample view's update and delete as the sample table took them: since migration 11 a
    // keyframe deleted or changed through it moved the epochs of the samples after it, and a
    // sample's target or collector was not changed at all
    version: 12,
    sql: '',
    run: sampleViewWrites,
  },
];

/**
 * Migration 11. Only a stored epoch equal to the one its keyframe holds is dropped, so every
 * sample's epoch reads as before whatever wrote the file; the view shows the epoch in force.
 * read_generation moves once (not once per row: the update trigger is set aside meanwhile).
 */
function epochsOnKeyframes(db: Database.Database): void {
  if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sample_row'").get() === undefined) {
    return;
  }
  db.exec(`
    DROP TRIGGER IF EXISTS read_generation_sample_update;
    UPDATE sample_row SET epoch = NULL
      WHERE ok = 1 AND keyframe = 0 AND epoch IS NOT NULL
        AND epoch = (SELECT k.epoch FROM sample_row k
          WHERE k.stream = sample_row.stream AND k.keyframe = 1 AND k.id < sample_row.id ORDER BY k.id DESC LIMIT 1);
    CREATE TRIGGER read_generation_sample_update AFTER UPDATE ON sample_row
      WHEN OLD.id < (SELECT max(id) FROM sample_row)
      BEGIN UPDATE read_generation SET n = n + 1; END;
    UPDATE read_generation SET n = n + 1;
    DROP VIEW IF EXISTS sample;
    CREATE VIEW sample AS
      SELECT r.id AS id, st.target_id AS target_id, st.collector AS collector, r.ts AS ts, r.ok AS ok,
        ${epochOf('r')} AS epoch, r.keyframe AS keyframe, r.resets AS resets, r.error AS error,
        NULL AS duration_ms, NULL AS rows
      FROM sample_row r JOIN sample_stream st ON st.id = r.stream;
    ${sampleViewTriggers()}
  `);
}

/** why an older pgpulse cannot write a file migrated by 10, and what to do (README "Backups, upgrades and downgrades") */
const SAMPLE_VIEW_WRITE =
  'this history store was upgraded by a newer pgpulse (schema migration 10: samples in sample_row); ' +
  'run that version again, or restore the backup taken before upgrading';

/**
 * The sample view's INSTEAD OF triggers (migrations 10 and 11; dropping the view drops them): it
 * takes updates and deletes, and refuses an insert with the cause.
 */
function sampleViewTriggers(): string {
  return `
    CREATE TRIGGER sample_view_update INSTEAD OF UPDATE ON sample
      BEGIN
        UPDATE sample_row SET ts = NEW.ts, ok = NEW.ok, epoch = NEW.epoch, keyframe = NEW.keyframe,
          resets = NEW.resets, error = NEW.error WHERE id = OLD.id;
      END;
    CREATE TRIGGER sample_view_delete INSTEAD OF DELETE ON sample
      BEGIN DELETE FROM sample_row WHERE id = OLD.id; END;
    CREATE TRIGGER sample_view_insert INSTEAD OF INSERT ON sample
      BEGIN SELECT RAISE(ABORT, '${SAMPLE_VIEW_WRITE}'); END;`;
}

/**
 * The ok samples after keyframe `id` of stream `stream` that take their epoch from it (migration
 * 11): SQL conditions on sample_row. Bounded by the stream's next keyframe (its partial index),
 * walked by id (the samples of every stream written meanwhile) rather than the stream's whole
 * time index.
 */
function inheritorsOf(id: string, stream: string): string {
  return `+stream = ${stream} AND id > ${id} AND ok = 1 AND keyframe = 0 AND epoch IS NULL
    AND id < coalesce((SELECT min(k.id) FROM sample_row k WHERE k.stream = ${stream} AND k.keyframe = 1 AND k.id > ${id}), 9e18)`;
}

/**
 * Migration 12: the view's update and delete triggers again (migration 10's insert trigger stays).
 * An older tool (or pgpulse) changes one sample through the view and expects no other to move:
 * before a keyframe stops holding the epoch of the samples after it (deleted, no longer a keyframe,
 * another epoch, moved to another stream) that epoch is written into them; before a sample becomes
 * a keyframe of a stream with another epoch, the samples after it there get the one they had. A
 * changed target or collector moves the sample to that stream (made when missing). Its id cannot
 * change: points refer to it. (UPDATE and DELETE through the view report 0 changes: SQLite does
 * not count rows an INSTEAD OF trigger writes.)
 */
function sampleViewWrites(db: Database.Database): void {
  if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = 'sample'").get() === undefined) {
    return;
  }
  const oldStream = '(SELECT id FROM sample_stream WHERE target_id = OLD.target_id AND collector = OLD.collector)';
  const newStream = '(SELECT id FROM sample_stream WHERE target_id = NEW.target_id AND collector = NEW.collector)';
  const moved = '(NEW.target_id IS NOT OLD.target_id OR NEW.collector IS NOT OLD.collector)';
  // the epoch in force just before OLD.id in the new stream: what its samples after OLD.id take now
  const epochBefore = `(SELECT k.epoch FROM sample_row k WHERE k.stream = ${newStream} AND k.keyframe = 1 AND k.id < OLD.id ORDER BY k.id DESC LIMIT 1)`;
  db.exec(`
    DROP TRIGGER IF EXISTS sample_view_update;
    DROP TRIGGER IF EXISTS sample_view_delete;
    CREATE TRIGGER sample_view_update INSTEAD OF UPDATE ON sample
      BEGIN
        SELECT RAISE(ABORT, 'sample ids cannot be changed through the sample view (schema migration 10): points refer to them')
          WHERE NEW.id IS NOT OLD.id;
        UPDATE sample_row SET epoch = OLD.epoch
          WHERE OLD.keyframe = 1 AND (NEW.keyframe IS NOT 1 OR NEW.epoch IS NOT OLD.epoch OR ${moved})
            AND ${inheritorsOf('OLD.id', oldStream)};
        INSERT OR IGNORE INTO sample_stream (target_id, collector)
          SELECT NEW.target_id, NEW.collector WHERE ${moved};
        UPDATE sample_row SET epoch = ${epochBefore}
          WHERE NEW.keyframe = 1 AND (OLD.keyframe IS NOT 1 OR ${moved}) AND NEW.epoch IS NOT ${epochBefore}
            AND ${inheritorsOf('OLD.id', newStream)};
        UPDATE sample_row SET stream = ${newStream}, ts = NEW.ts, ok = NEW.ok, keyframe = NEW.keyframe,
          resets = NEW.resets, error = NEW.error,
          -- the epoch it reads (inherited or its own) only where it would read another one otherwise
          epoch = CASE WHEN NEW.epoch IS OLD.epoch AND NEW.keyframe IS OLD.keyframe AND NEW.ok IS OLD.ok AND NOT ${moved}
            THEN epoch ELSE NEW.epoch END
          WHERE id = OLD.id;
      END;
    CREATE TRIGGER sample_view_delete INSTEAD OF DELETE ON sample
      BEGIN
        UPDATE sample_row SET epoch = OLD.epoch WHERE OLD.keyframe = 1 AND ${inheritorsOf('OLD.id', oldStream)};
        DELETE FROM sample_row WHERE id = OLD.id;
      END;
  `);
}

/**
 * Migration 10. Sample ids stay as they were (points refer to them), so every read answers as
 * before; read_generation moves all the same, as migration 9 asks of a migration that rewrites
 * sample. Indexes and triggers keep their names: migrations 5 and 9 (CREATE … IF NOT EXISTS) then
 * find them when a file whose version was set back runs them again, and do not try to create them
 * on the view. The view takes updates and deletes (migration 4's fill-in, tools); an insert into it
 * is refused with the cause: the sample id it would return is not the row's.
 */
function migrateSampleRows(db: Database.Database): void {
  const isTable = (name: string) =>
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
  db.exec(`
    CREATE TABLE IF NOT EXISTS sample_stream (
      id INTEGER PRIMARY KEY,
      target_id INTEGER NOT NULL,
      collector TEXT NOT NULL,
      UNIQUE (target_id, collector)
    );
  `);
  if (isTable('sample_row')) {
    return;
  }
  db.exec(`
    CREATE TABLE sample_row (
      id INTEGER PRIMARY KEY,
      stream INTEGER NOT NULL,
      ts INTEGER NOT NULL,
      ok INTEGER NOT NULL,
      epoch REAL,
      keyframe INTEGER NOT NULL DEFAULT 0,
      resets INTEGER NOT NULL DEFAULT 0,
      error TEXT
    );
  `);
  if (isTable('sample')) {
    db.exec(`
      INSERT OR IGNORE INTO sample_stream (target_id, collector)
        SELECT target_id, collector FROM sample GROUP BY target_id, collector ORDER BY target_id, collector;
      INSERT INTO sample_row (id, stream, ts, ok, epoch, keyframe, resets, error)
        SELECT s.id, st.id, s.ts, s.ok, s.epoch, s.keyframe, s.resets, s.error
        FROM sample s JOIN sample_stream st ON st.target_id = s.target_id AND st.collector = s.collector
        ORDER BY s.id;
      DROP TABLE sample;
    `);
  }
  db.exec(`
    CREATE INDEX sample_by_time ON sample_row (stream, ts);
    CREATE INDEX sample_keyframes ON sample_row (stream, id) WHERE keyframe = 1;
    CREATE INDEX sample_marks ON sample_row (stream, ts) WHERE resets = 1 OR ok = 0;
    CREATE VIEW sample AS
      SELECT r.id AS id, st.target_id AS target_id, st.collector AS collector, r.ts AS ts, r.ok AS ok,
        r.epoch AS epoch, r.keyframe AS keyframe, r.resets AS resets, r.error AS error,
        -- not kept since: named so that an older pgpulse's insert reaches the trigger that says why
        NULL AS duration_ms, NULL AS rows
      FROM sample_row r JOIN sample_stream st ON st.id = r.stream;
    ${sampleViewTriggers()}
    CREATE TRIGGER read_generation_sample_delete AFTER DELETE ON sample_row
      BEGIN UPDATE read_generation SET n = n + 1; END;
    CREATE TRIGGER read_generation_sample_update AFTER UPDATE ON sample_row
      WHEN OLD.id < (SELECT max(id) FROM sample_row)
      BEGIN UPDATE read_generation SET n = n + 1; END;
    UPDATE read_generation SET n = n + 1;
  `);
}

/** migration 10 rewrites the samples of a file that still has its sample table (a later one has the view) */
function legacySamples(db: Database.Database): number {
  const table = db.prepare("SELECT type FROM sqlite_master WHERE name = 'sample'").pluck().get();
  const migrated = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sample_row'").get();
  return table === 'table' && !migrated ? (db.prepare('SELECT count(*) FROM sample').pluck().get() as number) : 0;
}

/** migration 11 rewrites sample_row */
function sampleRows(db: Database.Database): number {
  const migrated = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sample_row'").get();
  return migrated ? (db.prepare('SELECT count(*) FROM sample_row').pluck().get() as number) : 0;
}

/**
 * A migration that rewrites every sample, on a file that has some: told before it starts (with
 * the estimate) and when it is done (with the time taken), so that a long start is not silent.
 */
export interface SampleRewrite {
  version: number;
  samples: number;
  /** the history file's directory: where the free disk is needed */
  dir: string;
  estimatedSeconds: number;
  estimatedBytes: number;
  /** once done */
  seconds?: number;
}

export type SampleRewriteNotes = (phase: 'start' | 'done', rewrite: SampleRewrite) => void;

const mb = (bytes: number) => Math.max(1, Math.ceil(bytes / 1e6));

/** the log line for a SampleRewrite (no secrets: counts and a directory) */
export function sampleRewriteLine(phase: 'start' | 'done', r: SampleRewrite): string {
  const n = r.samples.toLocaleString('en-US');
  return phase === 'start'
    ? `history store upgrade (schema migration ${r.version}): migrating ${n} samples to the new layout, about ` +
        `${Math.max(1, Math.round(r.estimatedSeconds))} s and ${mb(r.estimatedBytes)} MB of free disk at ${r.dir}; ` +
        'pgpulse starts when it is done'
    : `history store upgrade (schema migration ${r.version}) done: ${n} samples migrated in ${(r.seconds ?? 0).toFixed(1)} s`;
}

/**
 * A migration that rewrites every sample ran out of disk. Its transaction was rolled back: the
 * file is as it was. `code` is the storage error's (SQLITE_FULL), so the store reports a full disk.
 */
export class MigrationDiskFullError extends Error {
  readonly code: string;
  constructor(
    readonly rewrite: SampleRewrite,
    cause: unknown
  ) {
    super(
      `history store upgrade (schema migration ${rewrite.version}, ${rewrite.samples} samples) ran out of disk ` +
        `(${(cause as Error).message}); the store is left as it was: free about ${mb(rewrite.estimatedBytes)} MB at ${rewrite.dir} and start pgpulse again`,
      { cause }
    );
    this.name = 'MigrationDiskFullError';
    this.code = (cause as { code: string }).code;
  }

  /** the free disk to ask for, MB */
  get neededMB(): number {
    return mb(this.rewrite.estimatedBytes);
  }
}

/**
 * Runs every migration this file has not run yet, each in its own transaction. Which ran is kept
 * per version (applied_migration), not only as the highest one (user_version): migrations written
 * in parallel may land in any order, and a file that ran 7 must still run a 6 that lands after it.
 * A file from before the table existed ran everything up to its user_version. Every migration
 * from 3 on must therefore be safe to run on a file that already has it (IF NOT EXISTS, column
 * checks); 1 and 2 predate the tracking and only ever run on a new file.
 */
export function applyMigrations(db: Database.Database, notes?: SampleRewriteNotes): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const tracked =
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'applied_migration'").get() !== undefined;
  // a file whose user_version was set back (tests, a copy edited by hand) runs what lies above it again
  const applied = new Set<number>(
    tracked
      ? (db.prepare('SELECT version FROM applied_migration WHERE version <= ?').pluck().all(current) as number[])
      : migrations.filter((m) => m.version <= current).map((m) => m.version)
  );
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS applied_migration (version INTEGER PRIMARY KEY)');
    const mark = db.prepare('INSERT OR IGNORE INTO applied_migration (version) VALUES (?)');
    for (const v of applied) {
      mark.run(v);
    }
  })();
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) {
      continue;
    }
    const rewrite = sampleRewrite(db, m);
    if (rewrite) {
      notes?.('start', rewrite);
    }
    const started = performance.now();
    try {
      db.transaction(() => {
        db.exec(m.sql);
        m.run?.(db);
        db.prepare('INSERT OR IGNORE INTO applied_migration (version) VALUES (?)').run(m.version);
        db.pragma(`user_version = ${Math.max(m.version, db.pragma('user_version', { simple: true }) as number)}`);
      })();
    } catch (e) {
      throw rewrite && storeFaultKind(e)?.kind === 'full' ? new MigrationDiskFullError(rewrite, e) : e;
    }
    if (rewrite) {
      notes?.('done', { ...rewrite, seconds: (performance.now() - started) / 1000 });
    }
  }
}

/** what migration m will rewrite on this file: undefined when it rewrites no samples */
function sampleRewrite(db: Database.Database, m: Migration): SampleRewrite | undefined {
  const samples = m.rewrites?.samples(db) ?? 0;
  if (!m.rewrites || samples === 0) {
    return undefined;
  }
  return {
    version: m.version,
    samples,
    dir: dirname(db.name),
    estimatedSeconds: samples * m.rewrites.cost.seconds,
    estimatedBytes: samples * m.rewrites.cost.bytes,
  };
}

/**
 * Schema versions the file records (applied_migration, user_version) that this pgpulse does not
 * know: a newer pgpulse wrote it, and may keep history where this one does not look (a pgpulse from
 * before migration 8 does not read point_chunk, so it shows nothing older than the head window).
 */
export function unknownMigrations(db: Database.Database): number[] {
  const known = new Set(migrations.map((m) => m.version));
  const tracked =
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'applied_migration'").get() !== undefined;
  const recorded = tracked ? (db.prepare('SELECT version FROM applied_migration').pluck().all() as number[]) : [];
  const userVersion = db.pragma('user_version', { simple: true }) as number;
  const unknown = new Set(recorded.filter((v) => !known.has(v)));
  if (userVersion > Math.max(...known)) {
    unknown.add(userVersion);
  }
  return [...unknown].sort((a, b) => a - b);
}

/**
 * The stand-in streams (standInForMissingTables) of a target the connection looks up by name: one
 * an older pgpulse added after the connection opened has none yet. Nothing on a migrated file.
 */
export function standInStreamsOf(db: Database.Database, prepare: Prepare, targetId: number): void {
  if (!streamStandIns.has(db)) {
    return;
  }
  prepare(
    'INSERT OR IGNORE INTO temp.sample_stream (target_id, collector) SELECT ?, name FROM temp.stand_in_collector'
  ).run(targetId);
}

/** the connections with stand-in streams over a file before migration 10 */
const streamStandIns = new WeakSet<Database.Database>();

/**
 * A connection that cannot migrate its file (read-only: a data directory that is not writable, a
 * query worker beside such a store) may hold a history written before the chunk table existed.
 * An empty one stands in, in the connection's own temp schema, so reads answer from the rows the
 * file holds instead of failing on a missing table. (stream_alias is checked where it is read.)
 * `collectors`: stream names besides the catalog's an older pgpulse may write (standInStreamsOf).
 */
export function standInForMissingTables(db: Database.Database, collectors: readonly string[] = []): void {
  if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sample_row'").get() === undefined) {
    // before migration 10: sample_row and sample_stream over the file's sample table. An older
    // pgpulse in another process may go on writing the file: a stream stands in for every target
    // and every collector it can write (the file's and the catalog's), not only those with a
    // sample now, and for a target added later when it is first looked up (standInStreamsOf)
    db.exec(`
      CREATE TEMP TABLE IF NOT EXISTS sample_stream (
        id INTEGER PRIMARY KEY,
        target_id INTEGER NOT NULL,
        collector TEXT NOT NULL,
        UNIQUE (target_id, collector)
      );
      CREATE TEMP TABLE IF NOT EXISTS stand_in_collector (name TEXT PRIMARY KEY);
      INSERT OR IGNORE INTO temp.sample_stream (target_id, collector)
        SELECT target_id, collector FROM main.sample GROUP BY target_id, collector;
      INSERT OR IGNORE INTO temp.stand_in_collector (name) SELECT DISTINCT collector FROM temp.sample_stream;
      CREATE TEMP VIEW IF NOT EXISTS sample_row AS
        SELECT s.id AS id, st.id AS stream, s.ts AS ts, s.ok AS ok, s.epoch AS epoch, s.keyframe AS keyframe,
          s.resets AS resets, s.error AS error
        FROM main.sample s JOIN temp.sample_stream st ON st.target_id = s.target_id AND st.collector = s.collector;
    `);
    db.prepare('INSERT OR IGNORE INTO temp.stand_in_collector (name) SELECT value FROM json_each(?)').run(
      JSON.stringify([...collectorSpecs.map((c) => c.id), ...collectors])
    );
    db.exec(`
      INSERT OR IGNORE INTO temp.sample_stream (target_id, collector)
        SELECT t.id, c.name FROM main.target t, temp.stand_in_collector c;
    `);
    streamStandIns.add(db);
  }
  if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'point_chunk'").get() !== undefined) {
    return;
  }
  db.exec(`
    CREATE TEMP TABLE IF NOT EXISTS point_chunk (
      series_id INTEGER NOT NULL,
      last_sample_id INTEGER NOT NULL,
      first_sample_id INTEGER NOT NULL,
      n INTEGER NOT NULL,
      data BLOB NOT NULL
    );
  `);
}
