/**
 * Migrations 10 and 11 rewrite every sample once. On a store from before them the sidecar says so
 * before each (how many samples, about how long, how much free disk where) and after (the time
 * taken); a disk too small for the rewrite leaves the store as it was, and the store's problem
 * names the cause and how much to free where, serves the history read-only and upgrades by itself
 * once space returns.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import pino from 'pino';
import { startSidecar } from '../../../src/sidecar/app';
import { applyMigrations, MigrationDiskFullError } from '../../../src/sidecar/store/migrations';
import { Store } from '../../../src/sidecar/store/store';
import { sidecarConfig } from '../../support/config';
import { legacySampleLayout } from '../../support/legacy-sample';

const BULK = 30_000;

/** a store in the layout before migration 10: a few samples written by the store, then BULK more rows of another stream */
function legacyStore(dir: string): number {
  const store = Store.open(dir);
  for (let i = 0; i < 5; i++) {
    store.writeSample({
      target: 't',
      collector: 'database',
      ts: 1000 * (i + 1),
      ok: true,
      epoch: 7,
      rows: [{ key: { datname: 'd' }, values: { xact_commit: 10 * i } }],
      counters: ['xact_commit'],
    });
  }
  store.close();
  const db = new Database(join(dir, 'pgpulse.db'));
  try {
    legacySampleLayout(db);
    db.exec(`
      WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${BULK - 1})
      INSERT INTO sample (target_id, collector, ts, ok, epoch, keyframe, duration_ms, rows, error, resets)
        SELECT 1, 'locks', 10000 + i * 1000, 1, 7, i % 120 = 0, 2.5, 3, NULL, 0 FROM n;
    `);
    return db.prepare('SELECT count(*) FROM sample').pluck().get() as number;
  } finally {
    db.close();
  }
}

interface LogLine {
  msg: string;
  migration?: number;
  samples?: number;
  seconds?: number;
}

async function startLog(dataDir: string): Promise<LogLine[]> {
  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    })
  );
  const config = sidecarConfig(dataDir, 'rewrite-secret-token');
  const sidecar = await startSidecar({ config, logger, http: false, grpc: false, sampling: false });
  await sidecar.stop();
  return lines.map((l) => JSON.parse(l) as LogLine);
}

test('migrations 10 and 11 on a store from before them: one line before each (samples, time and disk estimate, where) and one after (time taken)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-m10-log-'));
  try {
    const samples = legacyStore(dir);
    assert.equal(samples, BULK + 5);
    const lines = await startLog(dir);
    const notes = lines.filter((l) => l.migration !== undefined);
    assert.deepEqual(
      notes.map((l) => [l.migration, l.samples]),
      [
        [10, samples],
        [10, samples],
        [11, samples],
        [11, samples],
      ]
    );
    const n = samples.toLocaleString('en-US');
    // 30,005 samples: 80 and 32 B each (bench/results/sample-migration.md, rounded up), at least 1 s
    assert.equal(
      notes[0].msg,
      `history store upgrade (schema migration 10): migrating ${n} samples to the new layout, about 1 s and 3 MB of free disk at ${dir}; pgpulse starts when it is done`
    );
    assert.match(
      notes[2].msg,
      new RegExp(
        `^history store upgrade \\(schema migration 11\\): migrating ${n} samples .* about 1 s and 1 MB of free disk at `
      )
    );
    for (const done of [notes[1], notes[3]]) {
      assert.match(
        done.msg,
        new RegExp(`^history store upgrade \\(schema migration \\d+\\) done: ${n} samples migrated in \\d+\\.\\d s$`)
      );
      assert.ok(typeof done.seconds === 'number' && done.seconds >= 0);
    }
    const all = lines.map((l) => JSON.stringify(l)).join('\n');
    assert.doesNotMatch(all, /rewrite-secret-token/, 'no secret in the log');
    // migrated: the next start rewrites nothing and says nothing of it
    assert.deepEqual(
      (await startLog(dir)).filter((l) => l.migration !== undefined),
      []
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a new store says nothing of a rewrite: there are no samples to migrate', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-m10-log-'));
  try {
    assert.deepEqual(
      (await startLog(dir)).filter((l) => l.migration !== undefined),
      []
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migration 10 out of disk: the store is left as it was, the problem says how much to free where, the history is served and the upgrade retried', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-m10-full-'));
  try {
    const samples = legacyStore(dir);
    const file = join(dir, 'pgpulse.db');
    const db = new Database(file);
    let thrown: unknown;
    try {
      db.pragma('journal_mode = WAL');
      // the disk is full: the file may not grow by more than a few pages (a real SQLITE_FULL)
      db.pragma(`max_page_count = ${(db.pragma('page_count', { simple: true }) as number) + 4}`);
      try {
        applyMigrations(db);
      } catch (e) {
        thrown = e;
      }
      assert.ok(thrown instanceof MigrationDiskFullError, `expected a MigrationDiskFullError, got ${String(thrown)}`);
      assert.equal(thrown.code, 'SQLITE_FULL');
      assert.equal(thrown.rewrite.version, 10);
      assert.equal(thrown.neededMB, 3);
      assert.match(thrown.message, new RegExp(`ran out of disk .*left as it was: free about 3 MB at ${dir} and start`));
      // as it was: the sample table with every sample, migration 10 not recorded, no sample_row
      assert.equal(db.prepare("SELECT type FROM sqlite_master WHERE name = 'sample'").pluck().get(), 'table');
      assert.equal(db.prepare('SELECT count(*) FROM sample').pluck().get(), samples);
      assert.equal(
        db.prepare("SELECT count(*) FROM sqlite_master WHERE name IN ('sample_row', 'sample_stream')").pluck().get(),
        0
      );
      assert.equal(db.prepare('SELECT count(*) FROM applied_migration WHERE version >= 10').pluck().get(), 0);
      assert.equal(db.pragma('user_version', { simple: true }), 9);
    } finally {
      db.close();
    }

    // while less room is free than the error asks for, the upgrade is not tried again (it would
    // rewrite for seconds and fail): here it asks for more than any disk has
    const hopeless = new Store(
      file,
      {},
      new MigrationDiskFullError({ ...thrown.rewrite, estimatedBytes: 1e18 }, thrown.cause)
    );
    try {
      const later = t.mock.timers;
      later.enable({ apis: ['Date'], now: Date.now() + 60_000 });
      assert.throws(
        () => hopeless.writeSample({ target: 't', collector: 'database', ts: 9e9, ok: true, epoch: 7, rows: [] }),
        /history store problem: .*needs about 1000000000000 MB free/
      );
      later.reset();
      assert.equal(hopeless.status().mode, 'read-only');
      assert.equal(hopeless.status().problem?.failures, 2);
    } finally {
      hopeless.close();
    }
    const raw = new Database(file, { readonly: true });
    assert.equal(
      raw.prepare("SELECT type FROM sqlite_master WHERE name = 'sample'").pluck().get(),
      'table',
      'not tried'
    );
    raw.close();

    // the store that met it: read-only with the problem named, the stored history served
    const store = new Store(file, {}, thrown);
    try {
      assert.equal(store.status().mode, 'read-only');
      const p = store.status().problem;
      assert.equal(p?.kind, 'full');
      assert.match(
        p?.message ?? '',
        /is full \(SQLITE_FULL\): upgrading its 30005 samples \(schema migration 10\) needs about 3 MB free; the store is left as it was/
      );
      assert.match(
        p?.fix ?? '',
        new RegExp(
          `^free about 3 MB on the filesystem of ${dir}.*retries the upgrade by itself once that much is free$`
        )
      );
      assert.equal(store.lastSample('t', 'database')?.epoch, 7);
      assert.equal(store.samples('t', 'locks', 0, 1e12).length, BULK);
      // space returned: the next write opens the file afresh, migrates it and lands
      // (past the store's back-off before its next attempt)
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 60_000 });
      store.writeSample({ target: 't', collector: 'database', ts: 9e9, ok: true, epoch: 7, rows: [] });
      assert.equal(store.status().writable, true);
      assert.equal(store.db.prepare("SELECT type FROM sqlite_master WHERE name = 'sample'").pluck().get(), 'view');
      assert.equal(store.db.prepare('SELECT count(*) FROM sample_row').pluck().get(), samples + 1);
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
