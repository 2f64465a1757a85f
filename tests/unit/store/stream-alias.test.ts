/**
 * A target's stream held by its server's history (store/stream-alias.ts): reads resolve to the
 * history that held each stretch of time and stitch across a change, equal to the same values
 * stored under the target itself (the reference history written alongside).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { migrations } from '../../../src/sidecar/store/migrations';
import { Store } from '../../../src/sidecar/store/store';
import type { SampleRow } from '../../../src/sidecar/store/types';

const C = 'bgwriter';
const SERVER = 'server:7:5432:mon@1';

function tmpStore() {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-alias-'));
  return { dir, store: Store.open(dir), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** cycle i of a server: a counter that grows by i (a reset at 7), a gauge, and a row that comes and goes */
function rowsAt(i: number): SampleRow[] {
  const rows: SampleRow[] = [{ key: { kind: 'all' }, values: { n: i < 7 ? i * (i + 1) : i - 6, g: i % 3 } }];
  if (i % 4 !== 0) {
    rows.push({ key: { kind: 'odd' }, values: { n: i * 10, g: 1 }, info: { at: i } });
  }
  return rows;
}

function write(store: Store, target: string, i: number): void {
  store.writeSample({
    target,
    collector: C,
    ts: i * 1000,
    ok: true,
    epoch: 1,
    rows: rowsAt(i),
    counters: ['n'],
  });
}

const strip = (xs: Array<{ id: number; ts: number; ok: boolean; epoch: number | null }>) =>
  xs.map((x) => ({ ts: x.ts, ok: x.ok, epoch: x.epoch }));
const byKey = <T extends { labels: Record<string, string>; field: string }>(xs: T[]) =>
  [...xs].sort((a, b) =>
    `${JSON.stringify(a.labels)}${a.field}`.localeCompare(`${JSON.stringify(b.labels)}${b.field}`)
  );

test("a target's own history, then its server's, then its own again: reads stitch to the same answers as one history", () => {
  const { store, cleanup } = tmpStore();
  try {
    for (let i = 1; i <= 20; i++) {
      write(store, 'ref', i); // everything under the target itself: what reads must equal
      if (i <= 5 || i > 14) {
        if (i === 15) {
          store.holdStream('b', C, undefined, i * 1000);
        }
        write(store, 'b', i);
      } else {
        if (i === 6) {
          store.holdStream('b', C, SERVER, i * 1000);
        }
        write(store, SERVER, i);
      }
    }
    const all = store.samples('b', C, 0, 30_000);
    assert.deepEqual(strip(all), strip(store.samples('ref', C, 0, 30_000)), 'the same samples, in order');
    assert.deepEqual(
      all.map((s) => s.stream ?? 'b'),
      [...Array(5).fill('b'), ...Array(9).fill(SERVER), ...Array(6).fill('b')],
      'each sample from the history that held its time'
    );
    const fields = ['n', 'g', '_epoch'];
    for (const [from, to] of [
      [0, 30_000],
      [3500, 12_000],
      [6000, 14_000],
      [7500, 18_000],
    ]) {
      const mine = store.samples('b', C, from, to);
      const ref = store.samples('ref', C, from, to);
      assert.deepEqual(strip(mine), strip(ref), `samples ${from}–${to}`);
      assert.deepEqual(
        byKey(store.matrix('b', C, fields, undefined, mine)),
        byKey(store.matrix('ref', C, fields, undefined, ref)),
        `matrix ${from}–${to}: values carried across the change as in one history`
      );
    }
    // a range inside the server's stretch: answered by that history alone, running totals included
    const inside = store.rangeTotalsBetween('b', C, ['n'], undefined, 8000, 13_000);
    assert.ok(inside, 'one history: running totals answer');
    assert.deepEqual(byKey(inside), byKey(store.rangeTotalsBetween('ref', C, ['n'], undefined, 8000, 13_000)!));
    const grid = { starts: [8000, 10_000, 12_000], step: 2000 };
    const steps = (t: string) =>
      store.stepTotals(t, C, ['n'], undefined, { from: 8000, to: 14_000 }, grid, 'end', 1e6)?.series.map((s) => s.sum);
    assert.ok(steps('b'), 'one history: step sums from running totals');
    assert.deepEqual(steps('b'), steps('ref'));
    // starting at the change: the delta into the first sample pairs it with the own history's last
    assert.equal(store.stepTotals('b', C, ['n'], undefined, { from: 6000, to: 14_000 }, grid, 'end', 1e6), undefined);
    // across a change the shortcuts step aside (the engine walks the stitched samples)
    assert.equal(store.rangeTotalsBetween('b', C, ['n'], undefined, 0, 30_000), undefined);
    assert.equal(store.stepTotals('b', C, ['n'], undefined, { from: 0, to: 20_000 }, grid, 'end', 1e6), undefined);
    assert.equal(store.rangeStart('b', C, 0, 20_000), undefined);
    // range totals of the pieces: each piece's deltas (the two across a change are the pieces' seams)
    const totals = store.rangeTotals('b', C, ['n'], undefined, all);
    const refAll = store.samples('ref', C, 0, 30_000);
    const seams = [
      [5, 6],
      [14, 15],
    ].reduce(
      (sum, [a, b]) =>
        sum +
        store.rangeTotals('ref', C, ['n'], { kind: 'all' }, refAll.slice(a - 1, b)).reduce((x, t) => x + t.total, 0),
      0
    );
    const want = store.rangeTotals('ref', C, ['n'], { kind: 'all' }, refAll)[0].total - seams;
    assert.equal(totals.find((t) => t.labels.kind === 'all')!.total, want);
    assert.equal(store.lastSample('b', C)?.ts, 20_000);
    // the rows seen in any of its histories, each once, with the latest info
    const ents = (t: string) =>
      byKey(store.entities(t, C).map((e) => ({ labels: e.labels, field: '', info: e.info, first: e.firstSeen })));
    assert.deepEqual(ents('b'), ents('ref'));
  } finally {
    cleanup();
  }
});

test('a target added with its server has the server history from the start; a stop and a restart keep one alias row', () => {
  const { dir, store, cleanup } = tmpStore();
  try {
    for (let i = 1; i <= 6; i++) {
      write(store, SERVER, i);
      store.holdStream('c', C, SERVER, i * 1000);
    }
    const mine = store.samples('c', C, 0, 10_000);
    assert.deepEqual(
      mine,
      store.samples(SERVER, C, 0, 10_000).map((s) => ({ ...s, stream: SERVER }))
    );
    const grid = { starts: [0, 2000, 4000], step: 2000 };
    assert.deepEqual(
      store.stepTotals('c', C, ['n'], undefined, { from: 0, to: 6000 }, grid, 'spread', 1e6),
      store.stepTotals(SERVER, C, ['n'], undefined, { from: 0, to: 6000 }, grid, 'spread', 1e6)
    );
    assert.ok(!store.targets().includes(SERVER), 'server histories are not listed as targets');
    store.releaseStreams('c', 6500);
    assert.equal(store.samples('c', C, 0, 10_000).length, 6);
    assert.equal(store.resumableStream('c', C), SERVER, 'stopped, nothing of its own since: it would go on there');
    write(store, SERVER, 7); // another member went on; c was stopped
    assert.equal(store.samples('c', C, 0, 10_000).length, 6, "c's history ends where it stopped");
    store.holdStream('c', C, SERVER, 8000);
    write(store, SERVER, 8);
    const rows = store.db.prepare('SELECT from_ts, to_ts FROM stream_alias WHERE collector = ?').all(C);
    assert.deepEqual(rows, [{ from_ts: 0, to_ts: null }], 'restarted with nothing of its own between: one row again');
    assert.equal(store.samples('c', C, 0, 10_000).length, 8);
    // left the group: its own history again, and after that nothing to resume
    store.holdStream('c', C, undefined, 9000);
    write(store, 'c', 9);
    assert.equal(store.resumableStream('c', C), undefined);
    const fresh = Store.open(dir);
    try {
      assert.equal(fresh.resumableStream('c', C), undefined, 'as the file says, not only this writer');
      assert.equal(fresh.samples('c', C, 0, 10_000).length, 9);
    } finally {
      fresh.close();
    }
  } finally {
    cleanup();
  }
});

test('an alias dropped past retention no longer names the history a stopped target would resume on', () => {
  const { dir, store, cleanup } = tmpStore();
  try {
    for (let i = 1; i <= 3; i++) {
      write(store, SERVER, i);
      store.holdStream('c', C, SERVER, i * 1000);
    }
    store.releaseStreams('c', 3500);
    assert.equal(store.resumableStream('c', C), SERVER, 'stopped, nothing of its own since');
    store.compactTail(100_000, { retentionMs: 10_000, downsampleAfterMs: 50_000, downsampleStepMs: 1000 });
    const fresh = Store.open(dir);
    try {
      assert.equal(fresh.resumableStream('c', C), undefined, 'the file holds no alias any more');
    } finally {
      fresh.close();
    }
    assert.equal(store.resumableStream('c', C), undefined, 'the writer answers as the file says');
  } finally {
    cleanup();
  }
});

test('migrations run by version, whatever order they landed in: a 6 landing after a file ran 7 still runs', () => {
  const { dir, store, cleanup } = tmpStore();
  try {
    assert.ok(Math.max(...migrations.map((m) => m.version)) >= 7);
    // as a file that ran 7 before 6 existed left it: 6 not applied, its index still there
    store.db.exec('DELETE FROM applied_migration WHERE version = 6; CREATE INDEX point_by_sample ON point (sample_id)');
    store.close();
    const again = Store.open(dir);
    try {
      const index = again.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'point_by_sample'").get();
      assert.equal(index, undefined, 'migration 6 ran on the file that had 7 already');
      assert.equal(again.db.pragma('user_version', { simple: true }), Math.max(...migrations.map((m) => m.version)));
    } finally {
      again.close();
    }
  } finally {
    cleanup();
  }
});
