/**
 * A wall clock set back (NTP stepping it at boot, a VM resumed from a snapshot) never reorders a
 * stream's history: the writer stamps a sample that comes with a time below its stream's newest at
 * that newest time, so write order (ids) and time order agree and every read path reads the same
 * history. The expectations are the clamped history worked out by hand (the unit test) or by a
 * model written here (the random histories), never by the code under test.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  bucketDeltas,
  loadSeries,
  stepSums,
  type BucketSums,
  type EngineContext,
} from '../../../src/sidecar/engine/context';
import { counterDeltas } from '../../../src/sidecar/engine/deltas';
import { grid } from '../../../src/sidecar/engine/steps';
import { CLOCK_SET_BACK_EVENT, Store, type ClockSetBack } from '../../../src/sidecar/store/store';
import type { CollectedSample } from '../../../src/sidecar/store/types';
import { FIELDS, rng, writeHistory } from './random-history';

function ctxOf(store: Store, range: { from: number; to: number }, step: number): EngineContext {
  return {
    store,
    query: { target: 't', refId: 'A' },
    range,
    grid: grid(range, step),
    filter: {},
  } as unknown as EngineContext;
}

test('a gauge 1, 5, 2, 3 and a counter 10, 50, 60, 70 written at 1000, 5000, 2000, 3000 read as stamped at 1000, 5000, 5000, 5000', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-clock-'));
  const store = Store.open(dir);
  const told: ClockSetBack[] = [];
  store.onClockSetBack = (b) => told.push(b);
  try {
    const write = (ts: number, g: number, c: number) =>
      store.writeSample({
        target: 't',
        collector: 'x',
        ts,
        ok: true,
        epoch: 1,
        rows: [{ key: { name: 'a' }, values: { g, c } }],
        counters: ['c'],
      }).sampleId;
    const ids = [write(1000, 1, 10), write(5000, 5, 50), write(2000, 2, 60), write(3000, 3, 70)];
    const all = store.samples('t', 'x', 0, 1e9);
    assert.deepEqual(
      all.map((s) => [s.id, s.ts]),
      [
        [ids[0], 1000],
        [ids[1], 5000],
        [ids[2], 5000],
        [ids[3], 5000],
      ]
    );
    // over the whole range each sample reads what it was written with (main read 1, 5, 5, 5)
    const m = store.matrix('t', 'x', ['g', 'c'], undefined, all);
    assert.deepEqual(m.find((x) => x.field === 'g')?.values, [1, 5, 2, 3]);
    assert.deepEqual(m.find((x) => x.field === 'c')?.values, [10, 50, 60, 70]);
    for (const [i, s] of all.entries()) {
      assert.equal(store.matrix('t', 'x', ['g'], undefined, [s])[0].values[0], [1, 5, 2, 3][i], `sample ${i} alone`);
    }
    assert.deepEqual(store.lastSample('t', 'x'), { id: ids[3], ts: 5000, ok: true, epoch: 1 });
    const ends = store.valueEnds('t', 'x', ['g'], 0, 1e9);
    assert.deepEqual(ends?.firstOk, { id: ids[0], ts: 1000 });
    assert.deepEqual(ends?.lastOk, { id: ids[3], ts: 5000 });
    assert.deepEqual(
      ends?.series.map((x) => [x.field, x.first, x.last]),
      [['g', { id: ids[0], ts: 1000 }, { id: ids[3], ts: 5000, value: 3 }]]
    );
    // the counter moved 40 over (1000, 5000], then 10 and 10 at 5000: 60 in all, nothing in [1500, 4999]
    const totals = (from: number, to: number) => {
      const fast = store.rangeTotalsBetween('t', 'x', ['c'], undefined, from, to);
      const walked = store.rangeTotals('t', 'x', ['c'], undefined, store.samples('t', 'x', from, to));
      return [fast?.map((r) => [r.total, r.seen]), walked.map((r) => [r.total, r.seen])];
    };
    assert.deepEqual(totals(0, 1e9), [[[60, true]], [[60, true]]]);
    assert.deepEqual(totals(5000, 5000), [[[60, true]], [[60, true]]]);
    const [fastGap, walkedGap] = totals(1500, 4999);
    assert.deepEqual([fastGap?.[0]?.[0] ?? 0, walkedGap?.[0]?.[0] ?? 0], [0, 0], 'no delta between 1500 and 4999');
    // steps of 1 s over [0, 6000]: 'end' puts each delta in the step of its later sample; 'spread'
    // spreads the 40 over (1000, 5000], the two 10s cover no time and land at 5000
    const range = { from: 0, to: 6000 };
    const want = {
      end: { sum: [null, null, null, null, null, 60, null], elapsed: [0, 0, 0, 0, 0, 4000, 0] },
      spread: { sum: [null, 10, 10, 10, 10, 20, null], elapsed: [0, 1000, 1000, 1000, 1000, 0, 0] },
    };
    for (const mode of ['end', 'spread'] as const) {
      const raw = bucketDeltas(
        ctxOf(store, range, 1000),
        loadSeries(ctxOf(store, range, 1000), 'x', ['c']),
        ['c'],
        mode
      );
      const fast = store.stepTotals('t', 'x', ['c'], undefined, range, grid(range, 1000), mode, 1e6);
      const sums = stepSums(ctxOf(store, range, 1000), 'x', ['c'], mode);
      assert.deepEqual(
        raw.map((x) => ({ sum: x.sum, elapsed: x.elapsed })),
        [want[mode]],
        `${mode}: the walk over the samples`
      );
      assert.deepEqual(
        sums.map((x) => ({ sum: x.sum, elapsed: x.elapsed })),
        [want[mode]],
        `${mode}: step sums`
      );
      assert.ok(fast, `${mode}: running totals answer`);
    }
    // told once for the set-back (not per sample), and where Grafana's annotations read events
    assert.deepEqual(
      told.map((b) => [b.target, b.collector, b.clockTs, b.stampedTs]),
      [['t', 'x', 2000, 5000]]
    );
    assert.match(told[0].message, /the host clock went back 3 s/);
    assert.match(told[0].message, /stamped at 1970-01-01T00:00:05\.000Z until the clock passes it/);
    const evs = store.events('t', 0, 1e9, [CLOCK_SET_BACK_EVENT]);
    assert.deepEqual(
      evs.map((e) => [e.ts, e.title, e.text === told[0].message]),
      [[5000, 't: the host clock went back 3 s', true]]
    );
    // the clock passes 5000; set back again later: a new episode, told again
    write(6000, 6, 80);
    write(4000, 4, 90);
    write(4500, 4, 95);
    assert.deepEqual(
      told.map((b) => [b.clockTs, b.stampedTs]),
      [
        [2000, 5000],
        [4000, 6000],
      ]
    );
    assert.deepEqual(
      store.events('t', 0, 1e9, [CLOCK_SET_BACK_EVENT]).map((e) => e.ts),
      [5000, 6000]
    );
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reopened writer clamps below the newest stored time, and streams of one target make one event', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-clock-'));
  let store = Store.open(dir);
  try {
    for (const collector of ['x', 'y']) {
      store.writeSample({
        target: 't',
        collector,
        ts: 9000,
        ok: true,
        rows: [{ key: { name: 'a' }, values: { g: 1 } }],
      });
    }
    store.close();
    store = Store.open(dir); // the sidecar restarts with the clock set back
    const told: ClockSetBack[] = [];
    store.onClockSetBack = (b) => told.push(b);
    for (const collector of ['x', 'y']) {
      store.writeSample({
        target: 't',
        collector,
        ts: 3000,
        ok: true,
        rows: [{ key: { name: 'a' }, values: { g: 2 } }],
      });
      store.writeSample({ target: 't', collector, ts: 4000, ok: false, rows: [], error: 'down' });
    }
    assert.deepEqual(
      ['x', 'y'].map((c) => store.samples('t', c, 0, 1e9).map((s) => [s.ts, s.ok])),
      [
        [
          [9000, true],
          [9000, true],
          [9000, false],
        ],
        [
          [9000, true],
          [9000, true],
          [9000, false],
        ],
      ]
    );
    assert.deepEqual(
      told.map((b) => [b.collector, b.clockTs, b.stampedTs]),
      [
        ['x', 3000, 9000],
        ['y', 3000, 9000],
      ],
      'logged per stream'
    );
    assert.equal(store.events('t', 0, 1e9, [CLOCK_SET_BACK_EVENT]).length, 1, 'one event for the target');
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** step sums equal up to rounding (spreading a delta over steps divides it): the same series, nulls and elapsed times */
function assertSums(got: BucketSums[], want: BucketSums[], where: string): void {
  assert.deepEqual(
    got.map((g) => [g.labels, g.field, g.sum.map((v) => v === null)]),
    want.map((w) => [w.labels, w.field, w.sum.map((v) => v === null)]),
    where
  );
  const near = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
  want.forEach((w, i) => {
    w.sum.forEach((v, b) =>
      assert.ok(
        v === null || near(got[i].sum[b] as number, v),
        `${where} ${w.labels.name}/${w.field} step ${b}: ${got[i].sum[b]} vs ${v}`
      )
    );
    w.elapsed.forEach((v, b) =>
      assert.ok(
        near(got[i].elapsed[b], v),
        `${where} ${w.labels.name}/${w.field} step ${b}: elapsed ${got[i].elapsed[b]} vs ${v}`
      )
    );
  });
}

/** every sample as the clamped history holds it: write order, the time stamped (running maximum), what it read */
function model(written: CollectedSample[]) {
  let newest = -Infinity;
  return written.map((s) => {
    newest = Math.max(newest, s.ts);
    return { ts: newest, sample: s };
  });
}

test('random histories with set-backs: every read path agrees with the clamped history', () => {
  let setBacks = 0;
  for (let seed = 1; seed <= 12; seed++) {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-clock-'));
    const dirB = mkdtempSync(join(tmpdir(), 'pgpulse-clock-'));
    const written: CollectedSample[] = [];
    const { store, end } = writeHistory(dir, seed, {
      counters: true,
      collector: 'x',
      compact: false,
      setbacks: 0.05,
      written,
    });
    const want = model(written);
    setBacks += want.filter((w) => w.ts !== w.sample.ts).length;
    // the same history written with the model's times (no set-back): what the reads must equal
    const plain = Store.open(dirB);
    for (const w of want) {
      plain.writeSample({ ...w.sample, ts: w.ts });
    }
    try {
      const where = `seed ${seed}`;
      const all = store.samples('t', 'x', 0, 1e12);
      assert.deepEqual(
        all.map((s) => [s.ts, s.ok]),
        want.map((w) => [w.ts, w.sample.ok]),
        `${where}: samples in time order are the samples in write order, at the model's times`
      );
      assert.ok(
        all.every((s, i) => i === 0 || s.id > all[i - 1].id),
        `${where}: ids rise with time`
      );
      // every value as written: a row absent or a failed sample reads null
      const m = store.matrix('t', 'x', [...FIELDS, 'g'], undefined, all);
      for (const x of m) {
        const expected = want.map((w) =>
          w.sample.ok ? (w.sample.rows.find((r) => r.key.name === x.labels.name)?.values[x.field] ?? null) : null
        );
        assert.deepEqual(x.values, expected, `${where} ${x.labels.name}/${x.field}`);
      }
      const r = rng(seed + 77);
      const ranges: Array<[number, number]> = [[0, end + 5000]];
      for (let i = 0; i < 10; i++) {
        const a = Math.floor(r() * end);
        ranges.push([a, a + Math.floor(r() * (end - a))]);
      }
      for (const [from, to] of ranges) {
        const at = `${where} ${from}-${to}`;
        const fast = store.rangeTotalsBetween('t', 'x', FIELDS, undefined, from, to);
        assert.ok(fast, `${at}: running totals answer`);
        // Σ of the deltas between the values matrix() reads, sample by sample (engine/deltas.ts)
        const samples = store.samples('t', 'x', from, to);
        const m = store.matrix('t', 'x', [...FIELDS, '_epoch'], undefined, samples);
        const raw = new Map<string, number>();
        for (const x of m.filter((y) => y.field !== '_epoch')) {
          const ep = m.find((y) => y.field === '_epoch' && y.labels.name === x.labels.name)?.values;
          raw.set(
            `${x.labels.name}/${x.field}`,
            counterDeltas(samples, x.values, ep).reduce((a, d) => a + d.value, 0)
          );
        }
        assert.deepEqual(
          new Map(fast.map((t) => [`${t.labels.name}/${t.field}`, t.total])),
          new Map([...raw].filter(([k, v]) => v !== 0 || fast.some((t) => `${t.labels.name}/${t.field}` === k))),
          `${at}: running totals = Σ deltas`
        );
        assert.deepEqual(fast, plain.rangeTotalsBetween('t', 'x', FIELDS, undefined, from, to), `${at}: = the model's`);
        assert.deepEqual(
          store.rangeTotals('t', 'x', FIELDS, undefined, samples),
          plain.rangeTotals('t', 'x', FIELDS, undefined, plain.samples('t', 'x', from, to)),
          `${at}: the walk = the model's`
        );
        assert.deepEqual(
          store.valueEnds('t', 'x', [...FIELDS, 'g'], from, to, true),
          plain.valueEnds('t', 'x', [...FIELDS, 'g'], from, to, true),
          `${at}: value ends`
        );
        const step = [700, 3000, 7000][Math.floor(r() * 3)];
        for (const mode of ['end', 'spread'] as const) {
          const ctx = ctxOf(store, { from, to }, step);
          const raw = bucketDeltas(ctx, loadSeries(ctx, 'x', FIELDS), FIELDS, mode);
          assertSums(stepSums(ctx, 'x', FIELDS, mode), raw, `${at} step ${step} ${mode}: step sums = the walk`);
          assertSums(
            stepSums(ctxOf(plain, { from, to }, step), 'x', FIELDS, mode),
            raw,
            `${at} step ${step} ${mode}: = the model's`
          );
        }
      }
    } finally {
      store.close();
      plain.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(dirB, { recursive: true, force: true });
    }
  }
  assert.ok(setBacks > 100, `samples written while the clock was behind: ${setBacks}`);
});
