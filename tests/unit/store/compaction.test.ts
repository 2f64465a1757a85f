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
import type { Store } from '../../../src/sidecar/store/store';
import { writeHistory } from './random-history';

const FIELDS = ['c', 'd', 'g', '_epoch'];

/** per sample id: the value of every series there (carried forward) and the running total in force */
function snapshot(store: Store): Map<number, Map<string, [number | null, number | null]>> {
  // a failed sample reads null whatever is in force there: the samples that stay are the ok ones
  const samples = store.samples('t', 'x', 0, 1e12);
  const m = store.matrix('t', 'x', FIELDS, undefined, samples);
  const totalAt = store.db.prepare(
    `SELECT total FROM point WHERE series_id = (SELECT id FROM series WHERE collector = 'x' AND labels = ? AND field = ?)
       AND sample_id <= ? ORDER BY sample_id DESC LIMIT 1`
  );
  const ids = store.db.prepare("SELECT DISTINCT labels FROM series WHERE collector = 'x'").pluck().all() as string[];
  const out = new Map<number, Map<string, [number | null, number | null]>>();
  samples.forEach((s, j) => {
    if (!s.ok) {
      return;
    }
    const here = new Map<string, [number | null, number | null]>();
    for (const x of m) {
      const labels = ids.find((l) => l.includes(`"${x.labels.name}"`)) as string;
      const t = (totalAt.get(labels, x.field, s.id) as { total: number | null } | undefined)?.total ?? null;
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
      for (const [after, step, retention] of [
        [40_000, 7000, 1e12],
        [20_000, 13_000, 250_000],
        [5000, 60_000, 1e12],
      ]) {
        const before = snapshot(store);
        const { removed } = store.compact(end, {
          retentionMs: retention,
          downsampleAfterMs: after,
          downsampleStepMs: step,
        });
        const now = snapshot(store);
        assert.ok(removed === 0 || now.size < before.size, `seed ${seed}: samples removed`);
        for (const [id, series] of now) {
          for (const [k, [v, t]] of series) {
            const [v0, t0] = before.get(id)?.get(k) ?? [null, null];
            assert.equal(v, v0, `seed ${seed} ${after}/${step}/${retention} sample ${id} ${k}: value`);
            if (id !== [...now.keys()][0]) {
              // the first sample left after retention may gain totals of rows gone before it
              assert.equal(t, t0, `seed ${seed} ${after}/${step}/${retention} sample ${id} ${k}: running total`);
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
