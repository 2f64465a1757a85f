/**
 * Table, index, setting, database and lifetime statement facts come from running totals (range deltas) and the ends of
 * each series' values (gauges, first and last seen, present, lifetime counters) instead of a
 * walk over every stored point: on random histories (resets, epochs, row epochs, rows that vanish
 * and come back, failed samples, writer restarts, compaction and chunks) they must equal the walk
 * (collectRows) row for row, field for field, in the walk's order.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { collectRows, endRows, type EvidenceMode } from '../../../src/sidecar/advisors/history';
import type { Store } from '../../../src/sidecar/store/store';
import { FIELDS, rng, writeHistory } from '../store/random-history';

function windows(r: () => number, end: number): Array<{ from: number; to: number }> {
  // the whole history (index facts), the last minutes, windows anywhere, and ones before or past it all
  const ws = [
    { from: 0, to: end },
    { from: end - 30_000, to: end },
    { from: 0, to: 500 },
    { from: end + 10_000, to: end + 20_000 },
  ];
  for (let i = 0; i < 8; i++) {
    const a = Math.floor(r() * end);
    ws.push({ from: a, to: a + Math.floor(r() * (end - a)) });
  }
  return ws;
}

function check(store: Store, r: () => number, end: number, what: string): number {
  let compared = 0;
  for (const w of windows(r, end)) {
    for (const mode of ['range', 'lifetime'] as EvidenceMode[]) {
      const where = `${what}, window ${w.from}–${w.to}, ${mode}`;
      const walked = collectRows(store, 't', 'x', FIELDS, ['g'], w, mode).rows;
      const got = endRows(store, 't', 'x', FIELDS, ['g'], w, mode);
      assert.ok(got, `${where}: answered without the walk`);
      assert.deepEqual([...got.entries()], [...walked.entries()], where);
      compared += walked.size;
      // gauges alone (setting facts)
      const gauges = endRows(store, 't', 'x', [], ['g'], w, mode);
      assert.deepEqual(
        [...(gauges ?? [])],
        [...collectRows(store, 't', 'x', [], ['g'], w, mode).rows],
        `${where}, gauges`
      );
    }
  }
  return compared;
}

test('table and index facts from running totals and value ends equal the point walk on random histories', () => {
  let compared = 0;
  let vanished = 0;
  for (let seed = 1; seed <= 9; seed++) {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-end-rows-'));
    const { store, end } = writeHistory(dir, seed, { counters: true, collector: 'x', compact: seed % 3 !== 0 });
    try {
      compared += check(store, rng(seed + 100), end, `seed ${seed}`);
      const rows = collectRows(store, 't', 'x', FIELDS, ['g'], { from: 0, to: end }).rows;
      vanished += [...rows.values()].filter((x) => !x.present && x.lastTs !== null).length;
      // every point but each series' newest packed into chunks (store/chunks.ts): still the same
      store.compact(end, { retentionMs: 1e12, downsampleAfterMs: 1e12, downsampleStepMs: 1000, headMs: 0 });
      assert.ok(store.db.prepare('SELECT count(*) FROM point_chunk').pluck().get(), `seed ${seed}: chunks written`);
      compared += check(store, rng(seed + 200), end, `seed ${seed} packed`);
      // downsampled over the whole history and packed again
      store.compact(end, { retentionMs: 1e12, downsampleAfterMs: 10_000, downsampleStepMs: 13_000, headMs: 20_000 });
      compared += check(store, rng(seed + 300), end, `seed ${seed} downsampled`);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.ok(compared > 1000, `rows compared: ${compared}`);
  assert.ok(vanished > 0, 'some histories end with a row gone');
});

test('history without running totals: no range deltas (the caller walks), lifetime counters as the walk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-end-rows-'));
  const { store, end } = writeHistory(dir, 7, { counters: false, collector: 'x', compact: false });
  try {
    const w = { from: 0, to: end };
    assert.equal(endRows(store, 't', 'x', FIELDS, ['g'], w), undefined);
    assert.ok(collectRows(store, 't', 'x', FIELDS, ['g'], w).rows.size > 0);
    // lifetime counters are the newest values: running totals play no part
    const walked = collectRows(store, 't', 'x', FIELDS, ['g'], w, 'lifetime').rows;
    assert.deepEqual([...(endRows(store, 't', 'x', FIELDS, ['g'], w, 'lifetime') ?? [])], [...walked]);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
