/**
 * Store.valueEnds reads each series' first and last ok sample with a value (and the value and
 * counters' epoch there) with a few lookups: the same as reading matrix() over every sample of the
 * range, on random histories (rows that vanish and come back, null values, failures, epochs, row
 * epochs, writer restarts, downsampling, retention and chunks).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Store } from '../../../src/sidecar/store/store';
import { FIELDS, rng, writeHistory } from './random-history';

const ALL = [...FIELDS, 'g'];

/** the ends the raw way: a value per series per sample */
function fromMatrix(store: Store, from: number, to: number) {
  const samples = store.samples('t', 'x', from, to);
  const m = store.matrix('t', 'x', [...ALL, '_epoch'], undefined, samples);
  const epochOf = new Map(m.filter((s) => s.field === '_epoch').map((s) => [JSON.stringify(s.labels), s.values]));
  return m
    .filter((s) => s.field !== '_epoch')
    .map((s) => {
      const at = s.values.flatMap((v, i) => (v !== null && samples[i].ok ? [i] : []));
      const f = at[0];
      const l = at[at.length - 1];
      return {
        labels: s.labels,
        field: s.field,
        first: f === undefined ? null : { id: samples[f].id, ts: samples[f].ts },
        last:
          l === undefined
            ? null
            : {
                id: samples[l].id,
                ts: samples[l].ts,
                value: s.values[l],
                epoch: epochOf.get(JSON.stringify(s.labels))?.[l] ?? samples[l].epoch ?? null,
              },
      };
    });
}

function check(store: Store, r: () => number, end: number, what: string): number {
  let withValues = 0;
  const ranges: Array<[number, number]> = [
    [0, end],
    [end - 20_000, end],
    [end + 1000, end + 5000],
  ];
  for (let i = 0; i < 6; i++) {
    const a = Math.floor(r() * end);
    ranges.push([a, a + Math.floor(r() * (end - a))]);
  }
  for (const [from, to] of ranges) {
    const want = fromMatrix(store, from, to);
    const got = store.valueEnds('t', 'x', ALL, from, to, true);
    assert.ok(got, `${what} ${from}–${to}: answered`);
    assert.deepEqual(got.series, want, `${what} ${from}–${to}`);
    const ok = store.samples('t', 'x', from, to).filter((s) => s.ok);
    assert.equal(got.lastOk?.id, ok[ok.length - 1]?.id, `${what} ${from}–${to}: last ok sample`);
    withValues += want.filter((x) => x.last !== null).length;
  }
  return withValues;
}

test('value ends equal matrix() over every sample, on random histories', () => {
  let withValues = 0;
  for (let seed = 1; seed <= 6; seed++) {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-value-ends-'));
    const { store, end } = writeHistory(dir, seed, { counters: seed % 2 === 0, collector: 'x', compact: true });
    try {
      withValues += check(store, rng(seed + 10), end, `seed ${seed}`);
      store.compact(end, { retentionMs: 1e12, downsampleAfterMs: 1e12, downsampleStepMs: 1000, headMs: 0 });
      withValues += check(store, rng(seed + 20), end, `seed ${seed} packed`);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.ok(withValues > 500, `series with values compared: ${withValues}`);
});
