/**
 * The read cache is exact only for the file it was filled from: read_generation starts at 0 in
 * every file, so a file put in place of another (a backup restored, a repaired copy) can carry the
 * same generation while holding another history. A store that opens its file afresh after a fault
 * must start its read cache afresh too.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { grid } from '../../../src/sidecar/engine/steps';
import { isStoreWriteError } from '../../../src/sidecar/store/faults';
import { Store } from '../../../src/sidecar/store/store';

/** a counter rising by `by` each second from ts 1000 to 10000 */
function history(store: Store, by: number): void {
  for (let i = 0; i < 10; i++) {
    store.writeSample({
      target: 't',
      collector: 'x',
      ts: 1000 + i * 1000,
      ok: true,
      epoch: 1,
      rows: [{ key: { name: 'a' }, values: { c: i * by } }],
      counters: ['c'],
    });
  }
}

function stepSum(store: Store): number | null | undefined {
  const range = { from: 1000, to: 10_000 };
  const got = store.stepTotals('t', 'x', ['c'], undefined, range, grid(range, 1000), 'end', 1e6);
  return got?.series[0]?.sum.reduce<number>((a, b) => a + (b ?? 0), 0);
}

test('a file put in place of the store’s while it runs: after the store reopens it, step sums come from the new file, not the read cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-cache-reopen-'));
  const other = mkdtempSync(join(tmpdir(), 'pgpulse-cache-reopen-b-'));
  const file = join(dir, 'pgpulse.db');
  const store = Store.open(dir);
  try {
    store.retryPolicy = { minMs: 0, maxMs: 0 };
    // edges read in one pass: the stream's samples and each series' points both go to the cache
    store.edgeReads = 'scan';
    history(store, 1);
    // another history in a file of its own, as a restored backup would be (never compacted either)
    const b = Store.open(other);
    history(b, 100);
    b.db.pragma('wal_checkpoint(TRUNCATE)');
    b.close();
    assert.equal(stepSum(store), 9, 'the first history: 9 increments of 1');
    assert.ok((store.readCache?.size ?? 0) > 0, 'the read cache holds the first history');

    // the filesystem turns read-only (query_only: SQLite's own SQLITE_READONLY) and the other file
    // is put at the path; the next write fails, the one after opens the file at the path afresh
    store.db.pragma('query_only = 1');
    for (const suffix of ['', '-wal', '-shm']) {
      renameSync(file + suffix, join(dir, `moved.db${suffix}`));
    }
    copyFileSync(join(other, 'pgpulse.db'), file);
    let fault: unknown;
    try {
      store.writeSample({ target: 't', collector: 'y', ts: 20_000, ok: true, epoch: 1, rows: [] });
    } catch (e) {
      fault = e;
    }
    assert.ok(isStoreWriteError(fault), `the write to a moved file fails: ${String(fault)}`);
    store.writeSample({ target: 't', collector: 'y', ts: 20_000, ok: true, epoch: 1, rows: [] });
    assert.equal(store.generation, 1, 'the store opened the file afresh');

    assert.equal(stepSum(store), 900, 'the file now at the path: 9 increments of 100');
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  }
});
