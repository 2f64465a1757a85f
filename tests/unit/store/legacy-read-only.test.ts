/**
 * A history file in the layout before migration 10, read by a connection that cannot migrate it
 * (a query connection, a data directory that is not writable) while an older pgpulse in another
 * process goes on writing it: the stand-in streams (migrations.ts standInForMissingTables) cover
 * the samples written after the connection opened — on streams it knew, of a target added since,
 * and of a collector the file had no sample of yet.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Store } from '../../../src/sidecar/store/store';
import { legacySampleLayout } from '../../support/legacy-sample';

test('a legacy history read while an older pgpulse writes on: samples of new targets and collectors are read too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-legacy-ro-'));
  const file = join(dir, 'pgpulse.db');
  const store = Store.open(dir);
  for (let i = 0; i < 5; i++) {
    store.writeSample({
      target: 't',
      collector: 'database',
      ts: 1000 * (i + 1),
      ok: true,
      epoch: 1,
      rows: [{ key: { datname: 'd' }, values: { n: i } }],
    });
  }
  store.close();
  const older = new Database(file);
  legacySampleLayout(older);
  const reader = new Store(file, { reader: true });
  try {
    assert.equal(reader.samples('t', 'database', 0, 1e9).length, 5);
    assert.equal(reader.samples('u', 'database', 0, 1e9).length, 0, 'no such target yet');
    // the older pgpulse's inserts, as released: the stream it had, a target added to its config, a collector new to the file
    const insert = older.prepare(
      'INSERT INTO sample (target_id, collector, ts, ok, epoch, keyframe, duration_ms, rows, error) VALUES (?, ?, ?, 1, 1, ?, 3, 1, NULL)'
    );
    const t = older.prepare("SELECT id FROM target WHERE name = 't'").pluck().get() as number;
    const u = Number(older.prepare("INSERT INTO target (name) VALUES ('u')").run().lastInsertRowid);
    insert.run(t, 'database', 6000, 0);
    insert.run(u, 'database', 6000, 1);
    insert.run(u, 'database', 7000, 0);
    insert.run(t, 'locks', 6000, 1);
    const truth = (target: number, collector: string) =>
      older
        .prepare('SELECT id FROM sample WHERE target_id = ? AND collector = ? ORDER BY ts, id')
        .pluck()
        .all(target, collector);
    assert.deepEqual(
      reader.samples('t', 'database', 0, 1e9).map((s) => s.id),
      truth(t, 'database')
    );
    assert.deepEqual(
      reader.samples('u', 'database', 0, 1e9).map((s) => s.id),
      truth(u, 'database')
    );
    assert.deepEqual(
      reader.samples('t', 'locks', 0, 1e9).map((s) => s.id),
      truth(t, 'locks')
    );
    assert.equal(reader.lastSample('u', 'database')?.ts, 7000);
  } finally {
    reader.close();
    older.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
