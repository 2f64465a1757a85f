/**
 * Compaction (store/compaction.ts) moves the points of removed samples to the samples that stay,
 * finding them by series: on random histories (resets, gaps, restarts, vanishing rows) every
 * value and running total at a kept sample must read as it did before, whatever is thinned or cut.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chunkPointAt } from '../../../src/sidecar/store/chunks';
import { runCompactionPass } from '../../../src/sidecar/store/compaction-pass';
import { preparer } from '../../../src/sidecar/store/statements';
import { Store } from '../../../src/sidecar/store/store';
import { writeHistory } from './random-history';

const FIELDS = ['c', 'd', 'g', '_epoch'];

/** per sample id: the value of every series there (carried forward) and the running total in force */
function snapshot(store: Store): Map<number, Map<string, [number | null, number | null]>> {
  // a failed sample reads null whatever is in force there: the samples that stay are the ok ones
  const samples = store.samples('t', 'x', 0, 1e12);
  const m = store.matrix('t', 'x', FIELDS, undefined, samples);
  const rowAt = store.db.prepare(
    `SELECT total FROM point WHERE series_id = ? AND sample_id <= ? ORDER BY sample_id DESC LIMIT 1`
  );
  const seriesId = store.db.prepare("SELECT id FROM series WHERE collector = 'x' AND labels = ? AND field = ?").pluck();
  // a row in force wins; before a series' oldest row the point in force is packed (store/chunks.ts)
  const totalAt = (labels: string, field: string, at: number) => {
    const sid = seriesId.get(labels, field) as number;
    const row = rowAt.get(sid, at) as { total: number | null } | undefined;
    return row ? row.total : (chunkPointAt(preparer(store.db), sid, at)?.[2] ?? null);
  };
  const ids = store.db.prepare("SELECT DISTINCT labels FROM series WHERE collector = 'x'").pluck().all() as string[];
  const out = new Map<number, Map<string, [number | null, number | null]>>();
  samples.forEach((s, j) => {
    if (!s.ok) {
      return;
    }
    const here = new Map<string, [number | null, number | null]>();
    for (const x of m) {
      const labels = ids.find((l) => l.includes(`"${x.labels.name}"`)) as string;
      const t = totalAt(labels, x.field, s.id);
      here.set(`${x.labels.name}/${x.field}`, [x.values[j], x.field === 'c' || x.field === 'd' ? t : null]);
    }
    out.set(s.id, here);
  });
  return out;
}

test('compaction keeps every value and running total at the samples that stay (random histories)', () => {
  for (let seed = 1; seed <= 12; seed++) {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-compact-'));
    const { store, end } = writeHistory(dir, seed, { counters: true, collector: 'x', compact: false });
    try {
      // thinning and retention over rows, over chunks (head windows: what is packed), and both
      for (const [after, step, retention, head] of [
        [40_000, 7000, 1e12, undefined],
        [20_000, 13_000, 250_000, 60_000],
        [300_000, 13_000, 1e12, 0],
        [5000, 60_000, 1e12, 10_000],
        [1000, 30_000, 150_000, 0],
      ]) {
        const before = snapshot(store);
        const { removed } = store.compact(end, {
          retentionMs: retention as number,
          downsampleAfterMs: after as number,
          downsampleStepMs: step as number,
          headMs: head,
        });
        const now = snapshot(store);
        assert.ok(removed === 0 || now.size < before.size, `seed ${seed}: samples removed`);
        if (head !== undefined) {
          assert.ok(store.db.prepare('SELECT count(*) FROM point_chunk').pluck().get(), `seed ${seed}: chunks written`);
        }
        for (const [id, series] of now) {
          for (const [k, [v, t]] of series) {
            const [v0, t0] = before.get(id)?.get(k) ?? [null, null];
            assert.equal(v, v0, `seed ${seed} ${after}/${step}/${retention}/${head} sample ${id} ${k}: value`);
            if (id !== [...now.keys()][0]) {
              // the first sample left after retention may gain totals of rows gone before it
              assert.equal(
                t,
                t0,
                `seed ${seed} ${after}/${step}/${retention}/${head} sample ${id} ${k}: running total`
              );
            }
          }
        }
      }
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('a row gone at a restart stays gone when the restart keyframe is thinned away (rows and chunks)', () => {
  for (const headMs of [undefined, 0]) {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-compact-'));
    let store = Store.open(dir);
    try {
      const write = (i: number, names: string[]) =>
        store.writeSample({
          target: 't',
          collector: 'x',
          ts: i * 1000,
          ok: true,
          epoch: 1,
          // a gauge: a counter that vanishes marks the sample, and compaction keeps marked ones
          rows: names.map((name) => ({ key: { name }, values: { g: i } })),
        });
      for (let i = 1; i <= 10; i++) {
        write(i, ['a', 'b']);
      }
      // the sidecar was down while row a went away: its first sample after the restart is a keyframe without a
      store.close();
      store = Store.open(dir);
      for (let i = 11; i <= 20; i++) {
        write(i, ['b']);
      }
      const aAt = () => {
        const samples = store.samples('t', 'x', 0, 1e9);
        const a = store.matrix('t', 'x', ['g'], { name: 'a' }, samples)[0];
        return new Map(samples.map((s, j) => [s.id, a.values[j]]));
      };
      const before = aAt();
      // one sample per 100 s: only the last stays, and takes the points of all the others
      store.compact(21_000, { retentionMs: 1e12, downsampleAfterMs: 0, downsampleStepMs: 100_000, headMs });
      const after = aAt();
      assert.ok(after.size < before.size, 'samples were thinned');
      for (const [id, v] of after) {
        assert.equal(v, before.get(id), `headMs ${headMs}: row a at sample ${id}`);
      }
      assert.equal([...after.values()].pop(), null, `headMs ${headMs}: row a is gone at the last sample`);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

/** every stored row of the history tables, in order: two stores with equal dumps hold the same history */
function dump(store: Store): string {
  return ['sample', 'point', 'point_chunk', 'series']
    .map((t) => JSON.stringify(store.db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2, 3`).raw().all()))
    .join('\n');
}

test('the sidecar compacts history by history with the event loop free in between, leaving what compact() leaves', async () => {
  const opts = { retentionMs: 250_000, downsampleAfterMs: 20_000, downsampleStepMs: 13_000, headMs: 60_000 };
  for (const seed of [3, 8]) {
    const dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'pgpulse-pass-')));
    try {
      const stores = dirs.map((dir) => {
        // two histories in each store: x and y
        writeHistory(dir, seed, { counters: true, collector: 'x', compact: false }).store.close();
        return writeHistory(dir, seed + 50, { counters: true, collector: 'y', compact: false });
      });
      const end = Math.max(stores[0].end, stores[1].end);
      const [whole, stepwise] = stores.map((s) => s.store);
      assert.equal(dump(whole), dump(stepwise));
      const { removed } = whole.compact(end, opts);
      // a callback queued before the pass runs between two histories, not after the pass
      let ranDuringPass = false;
      let passDone = false;
      setImmediate(() => (ranDuringPass = !passDone));
      const pass = await runCompactionPass(stepwise, end, opts, () => false);
      passDone = true;
      assert.ok(ranDuringPass, 'the event loop ran between two histories');
      assert.equal(pass.streams, 2);
      assert.equal(pass.removed, removed);
      assert.ok(removed > 0, `seed ${seed}: samples removed`);
      assert.equal(dump(stepwise), dump(whole), `seed ${seed}: the same history after either`);
      // a pass told the sidecar is stopping ends before the next history
      const stopped = await runCompactionPass(stepwise, end + 100_000, opts, () => true);
      assert.deepEqual([stopped.stopped, stopped.streams], [true, 0]);
      whole.close();
      stepwise.close();
    } finally {
      for (const dir of dirs) {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
});

test('a pass whose sidecar stops (the store closes) while it yields after its last history ends there', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-pass-stop-'));
  try {
    const { store, end } = writeHistory(dir, 5, { counters: true, collector: 'x', compact: false });
    let stopping = false;
    // the sidecar's stop() while the pass yields: the flag first, then the store closes
    setImmediate(() => {
      stopping = true;
      store.close();
    });
    const pass = await runCompactionPass(
      store,
      end,
      { retentionMs: 250_000, downsampleAfterMs: 20_000, downsampleStepMs: 13_000, headMs: 60_000 },
      () => stopping
    );
    assert.deepEqual([pass.stopped, pass.streams], [true, 1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
