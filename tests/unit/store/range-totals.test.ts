/**
 * Store.rangeTotals (walks stored points only) must give exactly the totals of taking deltas of
 * matrix() sample by sample, whatever happens: resets, epochs, vanishing rows, failures,
 * keyframes, restarts of the writer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { counterDeltas } from '../../../src/sidecar/engine/deltas';
import { Store } from '../../../src/sidecar/store/store';

function rng(seed: number) {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

test('rangeTotals equals Σ deltas of matrix() on random histories', () => {
  for (let seed = 1; seed <= 25; seed++) {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-rt-'));
    let store = Store.open(dir);
    try {
      const r = rng(seed);
      const values = new Map<string, number>();
      const rowEpoch = new Map<string, number>();
      let epoch = 1;
      for (let i = 0; i < 400; i++) {
        if (r() < 0.01) {
          store.close();
          store = Store.open(dir); // the sidecar restarts: cold caches, a keyframe
        }
        if (r() < 0.05) {
          store.writeSample({ target: 't', collector: 'x', ts: 1000 + i * 1000, ok: false, rows: [], error: 'down' });
          continue;
        }
        if (r() < 0.01) {
          epoch++; // server restart: counters start again
          values.clear();
        }
        const rows = [];
        for (const name of ['a', 'b', 'c', 'd']) {
          if (r() < 0.05) {
            continue; // row absent in this sample
          }
          let v = values.get(name) ?? 0;
          if (r() < 0.3) {
            v += Math.floor(r() * 10);
          }
          if (r() < 0.02) {
            v = Math.floor(r() * 3); // reset by someone
          }
          if (r() < 0.01) {
            rowEpoch.set(name, (rowEpoch.get(name) ?? 0) + 1);
          }
          values.set(name, v);
          rows.push({ key: { name }, values: { c: v, _epoch: rowEpoch.get(name) ?? 0 } });
        }
        store.writeSample({ target: 't', collector: 'x', ts: 1000 + i * 1000, ok: true, epoch, rows });
      }
      for (const [from, to] of [
        [0, 1e9],
        [50_000, 300_000],
        [123_456, 130_000],
        [390_000, 1e9],
      ]) {
        const samples = store.samples('t', 'x', from, to);
        const m = store.matrix('t', 'x', ['c', '_epoch'], undefined, samples);
        const expected = new Map<string, { total: number; seen: boolean }>();
        for (const s of m.filter((x) => x.field === 'c')) {
          const ep = m.find((x) => x.field === '_epoch' && x.labels.name === s.labels.name)?.values;
          const ds = counterDeltas(samples, s.values, ep);
          expected.set(s.labels.name, { total: ds.reduce((a, d) => a + d.value, 0), seen: ds.length > 0 });
        }
        const got = store.rangeTotals('t', 'x', ['c'], undefined, samples);
        for (const g of got) {
          const e = expected.get(g.labels.name) ?? { total: 0, seen: false };
          assert.equal(g.total, e.total, `seed ${seed} range ${from}-${to} row ${g.labels.name}`);
          if (e.total > 0) {
            assert.equal(g.seen, true);
          }
        }
      }
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
