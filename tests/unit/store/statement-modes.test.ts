/**
 * The store prepares each SQL text once and shares the statement between callers; better-sqlite3
 * keeps raw()/pluck()/expand() on the statement object. A read that takes a statement raw (the
 * advisor's value ends) must leave the next reader of the same text its row objects: a dashboard's
 * step sums after an advisor evaluation threw "'undefined' is not valid JSON" on the labels.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
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
