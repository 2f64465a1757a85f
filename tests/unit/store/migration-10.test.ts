/**
 * Migrations 10 and 11 (sample rows name their stream by an integer; an ok sample between
 * keyframes takes its keyframe's epoch): a store written by the version
 * before it (tests/unit/store/migration-10/build.ts, run with that version's code) opens, migrates,
 * and every read answers exactly as that version answered; an older pgpulse's sample insert is
 * refused naming the cause.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { Store } from '../../../src/sidecar/store/store';
import { storeAnswers } from './migration-10/answers';

const FIXTURE = join(__dirname, 'migration-10');

function fixture(): { dir: string; end: number; answers: unknown; sampleRows: unknown[][] } {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-m10-'));
  writeFileSync(join(dir, 'pgpulse.db'), gunzipSync(readFileSync(join(FIXTURE, 'pgpulse.db.gz'))));
  const recorded = JSON.parse(gunzipSync(readFileSync(join(FIXTURE, 'answers.json.gz'))).toString('utf8')) as {
    end: number;
    answers: unknown;
    sampleRows: unknown[][];
  };
  return { dir, ...recorded };
}

/**
 * Every answer recorded before the migration is given again, value for value; a field a later
 * version adds to an answer (not recorded then) is not compared, so the fixture outlives it.
 */
function assertAnswers(actual: unknown, expected: unknown, path = 'answers'): void {
  if (expected === null || typeof expected !== 'object') {
    assert.deepEqual(actual, expected, path);
    return;
  }
  assert.ok(actual !== null && typeof actual === 'object', `${path}: an object as before`);
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: a list as before`);
    assert.equal(actual.length, expected.length, `${path}: as many entries as before`);
    expected.forEach((e, i) => assertAnswers(actual[i], e, `${path}[${i}]`));
    return;
  }
  for (const [k, e] of Object.entries(expected)) {
    assertAnswers((actual as Record<string, unknown>)[k], e, `${path}.${k}`);
  }
}

test('migrations 10 and 11: a store from before them answers every read exactly as before', () => {
  const { dir, end, answers, sampleRows } = fixture();
  try {
    const raw = new Database(join(dir, 'pgpulse.db'), { readonly: true });
    assert.equal(
      raw.prepare("SELECT type FROM sqlite_master WHERE name = 'sample'").pluck().get(),
      'table',
      'the fixture is a file from before migration 10'
    );
    raw.close();
    const store = Store.open(dir);
    try {
      assert.ok(
        store.db.prepare('SELECT 1 FROM applied_migration WHERE version = 10').get(),
        'migration 10 recorded as applied'
      );
      assert.equal(store.db.prepare("SELECT type FROM sqlite_master WHERE name = 'sample'").pluck().get(), 'view');
      assert.deepEqual(
        store.db
          .prepare('SELECT id, target_id, collector, ts, ok, epoch, keyframe, resets, error FROM sample ORDER BY id')
          .raw()
          .all(),
        sampleRows,
        'every sample kept with its id, stream, time, state, epoch, marks and error'
      );
      // migration 11: an ok sample between keyframes keeps no epoch of its own; the view and every
      // read above give it its keyframe's
      const stored = store.db
        .prepare(
          'SELECT count(*) AS n, count(epoch) AS epochs, sum(ok = 1 AND keyframe = 0 AND epoch IS NOT NULL) AS kept FROM sample_row'
        )
        .get() as { n: number; epochs: number; kept: number };
      assert.equal(stored.kept, 0, 'no ok sample between keyframes stores an epoch: each is its keyframe’s');
      assert.ok(
        stored.epochs < stored.n / 4,
        `epochs stored on keyframes and failures only (${stored.epochs} of ${stored.n})`
      );
      assertAnswers(storeAnswers(store, end), answers);
      // written on after the migration: the new sample reads back through both paths
      const next = store.writeSample({
        target: 'u',
        collector: 'p',
        ts: end + 1000,
        ok: true,
        epoch: 99,
        rows: [{ key: { k: 'one' }, values: { n: 1, m: 2 } }],
        counters: ['n'],
      });
      const last = store.lastSample('u', 'p');
      assert.equal(last?.id, next.sampleId);
      assert.equal(last?.epoch, 99);
      assert.deepEqual(
        store.db.prepare('SELECT target_id, collector, ts FROM sample WHERE id = ?').raw().get(next.sampleId),
        [store.targetId('u'), 'p', end + 1000]
      );
      // the epoch changed (a keyframe holds it); the sample after it stores none and reads it
      const then = store.writeSample({
        target: 'u',
        collector: 'p',
        ts: end + 2000,
        ok: true,
        epoch: 99,
        rows: [{ key: { k: 'one' }, values: { n: 2, m: 2 } }],
        counters: ['n'],
      });
      assert.equal(next.keyframe, true);
      assert.equal(then.keyframe, false);
      assert.equal(store.db.prepare('SELECT epoch FROM sample_row WHERE id = ?').pluck().get(then.sampleId), null);
      assert.equal(store.lastSample('u', 'p')?.epoch, 99);
      assert.deepEqual(
        // (samples() starts with the ok sample before the range: the old epoch)
        store
          .samples('u', 'p', end + 1000, end + 2000)
          .slice(1)
          .map((x) => x.epoch),
        [99, 99]
      );
      assert.equal(store.db.prepare('SELECT epoch FROM sample WHERE id = ?').pluck().get(then.sampleId), 99);
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migration 10: the file opened read-only before migrating (a data directory not writable) answers the same', () => {
  const { dir, end, answers } = fixture();
  try {
    const store = new Store(join(dir, 'pgpulse.db'), {}, new Error('EROFS: read-only file system'));
    try {
      assert.equal(store.status().mode, 'read-only');
      assertAnswers(storeAnswers(store, end), answers);
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migration 10: an older pgpulse writing the migrated file is refused with the cause and the fix', () => {
  const { dir } = fixture();
  try {
    Store.open(dir).close();
    const db = new Database(join(dir, 'pgpulse.db'));
    try {
      // the insert of the versions before migration 10, as released
      assert.throws(
        () =>
          db
            .prepare(
              'INSERT INTO sample (target_id, collector, ts, ok, epoch, keyframe, duration_ms, rows, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'
            )
            .run(1, 'x', 1, 1, 1, 0, 5, 1, null),
        /upgraded by a newer pgpulse \(schema migration 10.*restore the backup taken before upgrading/
      );
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
