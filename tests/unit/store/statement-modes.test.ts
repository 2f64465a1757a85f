/**
 * better-sqlite3 keeps raw()/pluck()/expand() on the statement object, and the store prepares each
 * SQL text once. A read that takes a statement raw (the advisor's value ends) must leave the next
 * reader of the same text its row objects: a dashboard's step sums after an advisor evaluation threw
 * "'undefined' is not valid JSON" on the labels. So each SQL text and mode has its own statement
 * (store/statements.ts), and one held in a mode keeps it whatever else is read meanwhile.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { preparer, StatementCache } from '../../../src/sidecar/store/statements';
import { Store } from '../../../src/sidecar/store/store';
import { FIELDS, writeHistory } from './random-history';

test('a statement read raw by one store read answers the next reader of the same SQL with row objects', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-stmt-modes-'));
  const { store, end } = writeHistory(dir, 7, { counters: true, collector: 'x', compact: false });
  const other = Store.open(dir, { reader: true });
  try {
    const step = Math.max(1, Math.floor(end / 8));
    const grid = { starts: Array.from({ length: 8 }, (_, i) => i * step), step };
    const range = { from: 0, to: end };
    const sums = (s: Store) => s.stepTotals('t', 'x', FIELDS, undefined, range, grid, 'end', 1e9);
    const expected = sums(other);
    assert.ok(expected && expected.series.length > 0, 'the history has series to sum');
    // value ends read the series list (the same SQL text as step sums) raw
    assert.ok(store.valueEnds('t', 'x', FIELDS, 0, end), 'value ends answered');
    assert.deepEqual(sums(store), expected);
    // and the other way round: a plain read first, then the raw one still gets arrays
    assert.deepEqual(store.valueEnds('t', 'x', FIELDS, 0, end), other.valueEnds('t', 'x', FIELDS, 0, end));
  } finally {
    other.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a statement held in one mode keeps its shape while the same SQL is fetched and read in the others', () => {
  const db = new Database(':memory:');
  try {
    db.exec("CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y')");
    const sql = 'SELECT a, b FROM t ORDER BY a';
    const cache = new StatementCache(db);
    const plucked = cache.get(sql, 'pluck');
    const raw = cache.get(sql, 'raw');
    // fetched and read after the others were handed out: one statement whose mode each fetch set
    // (or reset) would answer the holders below in the last fetch's shape
    assert.deepEqual(cache.get(sql).all(), [
      { a: 1, b: 'x' },
      { a: 2, b: 'y' },
    ]);
    assert.deepEqual(plucked.all(), [1, 2]);
    assert.deepEqual(raw.all(), [
      [1, 'x'],
      [2, 'y'],
    ]);
    assert.deepEqual(cache.get(sql).get(), { a: 1, b: 'x' });
    // prepared once per SQL text and mode
    assert.equal(cache.get(sql, 'pluck'), plucked);
    assert.equal(cache.get(sql, 'raw'), raw);
    assert.notEqual(cache.get(sql), plucked);
    // the uncached preparer (migrations, tests) hands out the same shapes
    const prepare = preparer(db);
    assert.deepEqual(prepare(sql, 'pluck').all(), [1, 2]);
    assert.deepEqual(prepare(sql, 'raw').get(), [1, 'x']);
    assert.deepEqual(prepare(sql).get(), { a: 1, b: 'x' });
  } finally {
    db.close();
  }
});
