/**
 * A write that fails (here a real SQLITE_FULL from `PRAGMA max_page_count`) leaves no trace in the
 * store's caches: series created in the rolled-back transaction are created again, values land under
 * their own series, and the store resumes by itself once space returns.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isStoreWriteError } from '../../../src/sidecar/store/faults';
import { Store } from '../../../src/sidecar/store/store';
import type { SampleRow } from '../../../src/sidecar/store/types';

const rows = (prefix: string, n: number, base: number): SampleRow[] =>
  Array.from({ length: n }, (_, i) => ({ key: { relname: `${prefix}${i}` }, values: { n: base + i } }));

function latest(store: Store, collector: string): Map<string, number | null> {
  const samples = store.samples('t', collector, 0, 1e15);
  const out = new Map<string, number | null>();
  for (const s of store.matrix('t', collector, ['n'], undefined, samples)) {
    out.set(s.labels.relname, s.values[s.values.length - 1]);
  }
  return out;
}

test('disk full mid-write: the failed sample leaves no cached series or values; after space returns every value lands under its own series', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-store-full-'));
  const store = Store.open(dir);
  try {
    store.retryPolicy = { minMs: 0, maxMs: 0 };
    const problems: string[] = [];
    store.onProblem = (p, prev) => problems.push(p ? `start:${p.kind}` : `end:${prev?.kind}`);
    store.writeSample({ target: 't', collector: 'tables', ts: 1000, ok: true, epoch: 1, rows: rows('base', 5, 100) });
    const before = store.db.prepare('SELECT series_id, sample_id, value FROM point ORDER BY 1, 2').all();

    // no page may be added any more: the next sample with 200 new series fails with SQLITE_FULL
    const pages = store.db.pragma('page_count', { simple: true }) as number;
    store.db.pragma(`max_page_count = ${pages}`);
    let thrown: unknown;
    try {
      store.writeSample({
        target: 't',
        collector: 'tables',
        ts: 2000,
        ok: true,
        epoch: 1,
        rows: [...rows('base', 5, 100), ...rows('x', 200, 1000)],
      });
    } catch (e) {
      thrown = e;
    }
    assert.ok(isStoreWriteError(thrown), `expected a StoreWriteError, got ${String(thrown)}`);
    assert.equal(thrown.problem.kind, 'full');
    assert.equal(thrown.problem.code, 'SQLITE_FULL');
    assert.equal(thrown.problem.path, join(dir, 'pgpulse.db'));
    assert.match(thrown.problem.fix, /free space/);
    assert.equal(store.status().writable, false);
    assert.equal(
      (store.db.prepare("SELECT count(*) AS n FROM series WHERE labels LIKE '%x%'").get() as { n: number }).n,
      0,
      'nothing of the failed sample is stored'
    );

    // space returns: other new series are written first and take the row ids the failed ones had
    store.db.pragma('max_page_count = 1073741823');
    store.writeSample({ target: 't', collector: 'indexes', ts: 3000, ok: true, epoch: 1, rows: rows('y', 200, 5000) });
    assert.equal(store.status().writable, true);
    assert.deepEqual(problems, ['start:full', 'end:full']);
    store.writeSample({
      target: 't',
      collector: 'tables',
      ts: 4000,
      ok: true,
      epoch: 1,
      rows: [...rows('base', 5, 100), ...rows('x', 200, 1000)],
    });

    const tables = latest(store, 'tables');
    assert.equal(tables.size, 205, 'every series of the retried sample exists');
    for (let i = 0; i < 200; i++) {
      assert.equal(tables.get(`x${i}`), 1000 + i, `x${i} under its own series`);
    }
    const indexes = latest(store, 'indexes');
    assert.equal(indexes.size, 200);
    for (let i = 0; i < 200; i++) {
      assert.equal(indexes.get(`y${i}`), 5000 + i, `y${i} under its own series`);
    }
    const after = store.db
      .prepare('SELECT series_id, sample_id, value FROM point WHERE sample_id <= 1 ORDER BY 1, 2')
      .all();
    assert.deepEqual(after, before, 'what was stored before the fault is intact');
    assert.equal(store.db.pragma('integrity_check', { simple: true }), 'ok');
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed write does not advance the change cache: a value equal to the unstored one is still written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-store-full-'));
  const store = Store.open(dir);
  try {
    store.retryPolicy = { minMs: 0, maxMs: 0 };
    store.writeSample({ target: 't', collector: 'c', ts: 1000, ok: true, epoch: 1, rows: rows('a', 50, 1) });
    store.db.pragma(`max_page_count = ${store.db.pragma('page_count', { simple: true }) as number}`);
    // every value changes: the rows do not fit
    assert.throws(
      () =>
        store.writeSample({
          target: 't',
          collector: 'c',
          ts: 2000,
          ok: true,
          epoch: 1,
          rows: rows('a', 50, 1e9).concat(rows('pad', 400, 7)),
        }),
      isStoreWriteError
    );
    store.db.pragma('max_page_count = 1073741823');
    const w = store.writeSample({
      target: 't',
      collector: 'c',
      ts: 3000,
      ok: true,
      epoch: 1,
      rows: rows('a', 50, 1e9),
    });
    assert.equal(w.points, 50, 'the values the failed sample never stored are written now');
    const l = latest(store, 'c');
    assert.equal(l.get('a7'), 1e9 + 7);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('while the store is failing, writes are refused at once until the back-off is over', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-store-full-'));
  const store = Store.open(dir);
  try {
    store.retryPolicy = { minMs: 60_000, maxMs: 60_000 };
    store.writeSample({ target: 't', collector: 'c', ts: 1000, ok: true, epoch: 1, rows: rows('a', 5, 1) });
    store.db.pragma(`max_page_count = ${store.db.pragma('page_count', { simple: true }) as number}`);
    assert.throws(
      () => store.writeSample({ target: 't', collector: 'c', ts: 2000, ok: true, epoch: 1, rows: rows('b', 500, 1) }),
      isStoreWriteError
    );
    store.db.pragma('max_page_count = 1073741823');
    assert.equal(store.writeAllowed(), false);
    // refused without touching SQLite: the attempt counter does not move
    assert.throws(() => store.addEvent('t', { ts: 1, kind: 'k', title: 't' }), isStoreWriteError);
    assert.equal(store.status().problem?.failures, 1);
    assert.equal(store.writeAllowed(Date.now() + 61_000), true);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a read-only history written before chunks existed (no point_chunk) is served as stored, by the store and by a query worker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-store-ro-old-'));
  const file = join(dir, 'pgpulse.db');
  try {
    const writer = Store.open(dir);
    for (let i = 0; i < 6; i++) {
      writer.writeSample({
        target: 't',
        collector: 'c',
        ts: 1000 * (i + 1),
        ok: true,
        epoch: 1,
        rows: rows('r', 3, i * i),
        counters: ['n'],
      });
    }
    const answers = (s: Store) => {
      const samples = s.samples('t', 'c', 0, 1e15);
      return JSON.stringify([
        s.matrix('t', 'c', ['n'], undefined, samples),
        s.rangeTotals('t', 'c', ['n'], undefined, samples),
        s.rangeTotalsBetween('t', 'c', ['n'], undefined, 0, 1e15),
      ]);
    };
    const expected = answers(writer);
    // the file as the version before migration 8 left it
    writer.db.exec('DROP TABLE point_chunk; DELETE FROM applied_migration WHERE version = 8; PRAGMA user_version = 7');
    writer.close();
    // the data directory turned out read-only at start: the stored history is served read-only
    const readOnly = new Store(file, {}, Object.assign(new Error('read-only file system'), { code: 'EROFS' }));
    const worker = new Store(file, { reader: true });
    try {
      assert.equal(readOnly.status().mode, 'read-only');
      assert.equal(answers(readOnly), expected);
      assert.equal(answers(worker), expected);
    } finally {
      readOnly.close();
      worker.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
