import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Store } from '../../../src/sidecar/store/store';

function tmpStore() {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-store-'));
  return { dir, store: Store.open(dir), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const row = (name: string, v: number) => ({ key: { name }, values: { c: v } });

test('only changed values are written, and readers carry values forward', () => {
  const { store, cleanup } = tmpStore();
  try {
    const w1 = store.writeSample({
      target: 't',
      collector: 'x',
      ts: 1000,
      ok: true,
      epoch: 1,
      rows: [row('a', 1), row('b', 5)],
    });
    const w2 = store.writeSample({
      target: 't',
      collector: 'x',
      ts: 2000,
      ok: true,
      epoch: 1,
      rows: [row('a', 2), row('b', 5)],
    });
    const w3 = store.writeSample({
      target: 't',
      collector: 'x',
      ts: 3000,
      ok: true,
      epoch: 1,
      rows: [row('a', 2), row('b', 5)],
    });
    assert.equal(w1.points, 2);
    assert.equal(w2.points, 1);
    assert.equal(w3.points, 0);
    const samples = store.samples('t', 'x', 0, 10_000);
    const m = store.matrix('t', 'x', ['c'], undefined, samples);
    const byName = Object.fromEntries(m.map((s) => [s.labels.name, s.values]));
    assert.deepEqual(byName.a, [1, 2, 2]);
    assert.deepEqual(byName.b, [5, 5, 5]);
  } finally {
    cleanup();
  }
});

test('a row that disappears reads as null, not as its last value', () => {
  const { store, cleanup } = tmpStore();
  try {
    store.writeSample({ target: 't', collector: 'x', ts: 1000, ok: true, epoch: 1, rows: [row('a', 1), row('b', 5)] });
    store.writeSample({ target: 't', collector: 'x', ts: 2000, ok: true, epoch: 1, rows: [row('a', 1)] });
    const samples = store.samples('t', 'x', 0, 10_000);
    const b = store.matrix('t', 'x', ['c'], { name: 'b' }, samples)[0];
    assert.deepEqual(b.values, [5, null]);
  } finally {
    cleanup();
  }
});

test('failed samples read as null and the range includes the last sample before `from`', () => {
  const { store, cleanup } = tmpStore();
  try {
    store.writeSample({ target: 't', collector: 'x', ts: 1000, ok: true, epoch: 1, rows: [row('a', 1)] });
    store.writeSample({ target: 't', collector: 'x', ts: 2000, ok: false, rows: [], error: 'down' });
    store.writeSample({ target: 't', collector: 'x', ts: 3000, ok: true, epoch: 1, rows: [row('a', 3)] });
    const samples = store.samples('t', 'x', 1500, 10_000);
    assert.deepEqual(
      samples.map((s) => s.ts),
      [1000, 2000, 3000]
    );
    assert.deepEqual(store.matrix('t', 'x', ['c'], undefined, samples)[0].values, [1, null, 3]);
  } finally {
    cleanup();
  }
});

test('history survives reopening the store (a restart)', () => {
  const { dir, store, cleanup } = tmpStore();
  try {
    store.writeSample({ target: 't', collector: 'x', ts: 1000, ok: true, epoch: 1, rows: [row('a', 1)] });
    store.writeSample({ target: 't', collector: 'x', ts: 2000, ok: true, epoch: 1, rows: [row('a', 4)] });
    store.close();
    const again = Store.open(dir);
    again.writeSample({ target: 't', collector: 'x', ts: 3000, ok: true, epoch: 1, rows: [row('a', 4)] });
    const samples = again.samples('t', 'x', 0, 10_000);
    assert.deepEqual(again.matrix('t', 'x', ['c'], undefined, samples)[0].values, [1, 4, 4]);
    again.close();
  } finally {
    cleanup();
  }
});

test('downsampling and retention keep the values of the samples that stay exact', () => {
  const { store, cleanup } = tmpStore();
  try {
    const day = 86_400_000;
    const now = 10 * day;
    const truth = new Map<number, number>();
    let v = 0;
    // 3 days of samples every minute; the counter moves on some of them only
    for (let ts = now - 3 * day; ts < now; ts += 60_000) {
      if ((ts / 60_000) % 7 === 0) {
        v += 3;
      }
      truth.set(ts, v);
      store.writeSample({ target: 't', collector: 'x', ts, ok: true, epoch: 1, rows: [row('a', v)] });
    }
    const before = store.samples('t', 'x', 0, now).length;
    const { removed } = store.compact(now, {
      retentionMs: 2.5 * day,
      downsampleAfterMs: day,
      downsampleStepMs: 600_000,
    });
    const after = store.samples('t', 'x', 0, now);
    assert.ok(removed > 0 && after.length < before);
    assert.ok(after[0].ts >= now - 2.5 * day, 'nothing older than retention');
    const m = store.matrix('t', 'x', ['c'], undefined, after)[0];
    after.forEach((s, i) => assert.equal(m.values[i], truth.get(s.ts), `value at ${s.ts}`));
    // recent data is untouched: one sample per minute
    assert.equal(after.filter((s) => s.ts >= now - day).length, day / 60_000);
  } finally {
    cleanup();
  }
});

test('a row gone while the sidecar was down is not carried past the restart keyframe', () => {
  const { dir, store, cleanup } = tmpStore();
  try {
    store.writeSample({ target: 't', collector: 'x', ts: 1000, ok: true, epoch: 1, rows: [row('a', 1), row('b', 5)] });
    store.close();
    const again = Store.open(dir);
    again.writeSample({ target: 't', collector: 'x', ts: 2000, ok: true, epoch: 1, rows: [row('a', 2)] });
    again.writeSample({ target: 't', collector: 'x', ts: 3000, ok: true, epoch: 1, rows: [row('a', 2)] });
    const samples = again.samples('t', 'x', 0, 10_000);
    const m = Object.fromEntries(
      again.matrix('t', 'x', ['c'], undefined, samples).map((s) => [s.labels.name, s.values])
    );
    assert.deepEqual(m.a, [1, 2, 2]);
    assert.deepEqual(m.b, [5, null, null]);
    again.close();
  } finally {
    cleanup();
  }
});
