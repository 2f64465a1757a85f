import assert from 'node:assert/strict';
import { test } from 'node:test';
import { counterDeltas } from '../../../src/sidecar/engine/deltas';
import { bucketOf, grid, stepFor } from '../../../src/sidecar/engine/steps';
import type { SampleInfo } from '../../../src/sidecar/store/types';

const s = (id: number, ts: number, ok = true, epoch: number | null = 1): SampleInfo => ({ id, ts, ok, epoch });

test('plain counter: deltas are differences between consecutive samples', () => {
  const d = counterDeltas([s(1, 0), s(2, 1000), s(3, 2000)], [10, 15, 30]);
  assert.deepEqual(
    d.map((x) => x.value),
    [5, 15]
  );
  assert.deepEqual(
    d.map((x) => x.elapsed),
    [1000, 1000]
  );
});

test('a counter that goes down was reset: the delta is the new value, never negative', () => {
  const d = counterDeltas([s(1, 0), s(2, 1000), s(3, 2000)], [100, 7, 9]);
  assert.deepEqual(
    d.map((x) => x.value),
    [7, 2]
  );
  assert.ok(d.every((x) => x.value >= 0));
});

test('an epoch change is a reset even when the new value is higher', () => {
  const d = counterDeltas([s(1, 0, true, 1), s(2, 1000, true, 2)], [100, 150]);
  assert.deepEqual(
    d.map((x) => x.value),
    [150]
  );
});

test('a row epoch change (stats_reset, PG17 stats_since) is a reset', () => {
  const d = counterDeltas([s(1, 0), s(2, 1000), s(3, 2000)], [100, 500, 600], [5, 9, 9]);
  assert.deepEqual(
    d.map((x) => x.value),
    [500, 100]
  );
});

test('failed samples are skipped: the next delta spans the gap', () => {
  const d = counterDeltas([s(1, 0), s(2, 1000, false), s(3, 2000)], [10, null, 40]);
  assert.deepEqual(d, [{ at: 2, value: 30, elapsed: 2000, start: 0, end: 2000 }]);
});

test('a reset seen across failed samples (a crash) counts from the outage, not from the sample before it', () => {
  // 40 new counts since the restart: they happened after the last failed sample, so spreading
  // them over the whole span would be right in total but hide that the outage was a gap
  const d = counterDeltas([s(1, 0), s(2, 1000, false), s(3, 2000, false), s(4, 3000)], [100, null, null, 40]);
  assert.deepEqual(d, [{ at: 3, value: 40, elapsed: 3000, start: 2000, end: 3000 }]);
});

test('a row epoch that appears (first pg_stat_reset() of a database) is a reset even when the counter climbed past', () => {
  const d = counterDeltas([s(1, 0), s(2, 1000)], [100, 150], [null, 5]);
  assert.deepEqual(
    d.map((x) => x.value),
    [150]
  );
});

test('a row that appears counts from zero; a row that vanishes gives no delta', () => {
  const d = counterDeltas([s(1, 0), s(2, 1000), s(3, 2000), s(4, 3000)], [null, 4, null, 3]);
  assert.deepEqual(
    d.map((x) => [x.at, x.value]),
    [
      [1, 4],
      [3, 3],
    ]
  );
});

test('no samples or one sample: no deltas', () => {
  assert.deepEqual(counterDeltas([], []), []);
  assert.deepEqual(counterDeltas([s(1, 0)], [5]), []);
});

test('step: honours maxDataPoints, intervalMs and the sampling interval, whole seconds', () => {
  assert.equal(stepFor({ from: 0, to: 3_600_000 }, { maxDataPoints: 100, minStepMs: 15_000 }), 36_000);
  assert.equal(stepFor({ from: 0, to: 3_600_000 }, { maxDataPoints: 10_000, minStepMs: 15_000 }), 15_000);
  assert.equal(stepFor({ from: 0, to: 60_000 }, { intervalMs: 20_500, minStepMs: 1000 }), 21_000);
  // a year at 1 s sampling never produces more than 11,000 points
  const step = stepFor({ from: 0, to: 365 * 86_400_000 }, { minStepMs: 1000 });
  assert.ok((365 * 86_400_000) / step <= 11_000);
});

test('grid is aligned to multiples of the step and covers the range', () => {
  const g = grid({ from: 12_345, to: 47_000 }, 10_000);
  assert.deepEqual(g.starts, [10_000, 20_000, 30_000, 40_000]);
  assert.equal(bucketOf(g, 12_345), 0);
  assert.equal(bucketOf(g, 39_999), 2);
  assert.equal(bucketOf(g, 49_999), 3);
  assert.equal(bucketOf(g, 50_000), -1);
  assert.equal(bucketOf(g, 9_999), -1);
});
