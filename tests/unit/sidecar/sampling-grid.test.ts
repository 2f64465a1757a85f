/**
 * The sampler's schedule is a grid anchored at its first tick: a late tick does not push the later
 * ones (the old schedule, setTimeout(interval) after each tick, carried every delay forward), and a
 * slot missed entirely is skipped and counted rather than run late.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextSlot } from '../../../src/sidecar/sampler';

test('a tick on time waits one interval for the next', () => {
  assert.deepEqual(nextSlot(0, 0, 5000), { slot: 1, delayMs: 5000, skipped: 0 });
  assert.deepEqual(nextSlot(3, 15_002, 5000), { slot: 4, delayMs: 4998, skipped: 0 });
});

test('a late tick shortens the wait for the next, so later ticks stay on the grid', () => {
  // slot 2 (due at 10 s) ran 900 ms late: slot 3 is still due at 15 s
  assert.deepEqual(nextSlot(2, 10_900, 5000), { slot: 3, delayMs: 4100, skipped: 0 });
});

test('a timer that fires a little early does not run the same slot twice', () => {
  assert.deepEqual(nextSlot(2, 9_999.5, 5000), { slot: 3, delayMs: 5000.5, skipped: 0 });
});

test('slots missed entirely are skipped and counted, the next one is the next still ahead', () => {
  // slot 1 (due at 5 s) ran at 17 s: slots 2 (10 s) and 3 (15 s) are gone, 4 is due at 20 s
  assert.deepEqual(nextSlot(1, 17_000, 5000), { slot: 4, delayMs: 3000, skipped: 2 });
});
