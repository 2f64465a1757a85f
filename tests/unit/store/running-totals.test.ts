/**
 * Running totals (store/running-totals.ts) must answer every range exactly as the raw path does
 * (Σ of counterDeltas over matrix(), sample by sample) on random histories: resets, epochs, row
 * epochs, vanishing rows, failures, keyframes, restarts of the writer, downsampling and retention
 * in between — and for history written before running totals existed, once filled in.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import {
  bucketDeltas,
  databaseStepSums,
  loadSeries,
  MAX_EDGE_LOOKUPS,
  stepSums,
  type BucketSums,
  type EngineContext,
} from '../../../src/sidecar/engine/context';
import { counterDeltas } from '../../../src/sidecar/engine/deltas';
import { grid } from '../../../src/sidecar/engine/steps';
import { migrations } from '../../../src/sidecar/store/migrations';
import { ReadCache } from '../../../src/sidecar/store/read-cache';
import { backfillRunningTotals } from '../../../src/sidecar/store/running-totals';
import { Store } from '../../../src/sidecar/store/store';
import { decodeChunk } from '../../../src/sidecar/store/chunk-codec';
import { legacySampleLayout } from '../../support/legacy-sample';
import { encodeChunkV1 } from './chunk-codec-v1';
import { assertChunkLayout, FIELDS, rng, writeHistory } from './random-history';

/** Σ deltas per row and field, the raw way: values at every sample, then counterDeltas */
function rawTotals(store: Store, collector: string, from: number, to: number) {
  const samples = store.samples('t', collector, from, to);
  const m = store.matrix('t', collector, [...FIELDS, '_epoch'], undefined, samples);
  const out = new Map<string, { total: number; deltas: number }>();
  for (const s of m.filter((x) => x.field !== '_epoch')) {
    const ep = m.find((x) => x.field === '_epoch' && x.labels.name === s.labels.name)?.values;
    const ds = counterDeltas(samples, s.values, ep);
    out.set(`${s.labels.name}/${s.field}`, { total: ds.reduce((a, d) => a + d.value, 0), deltas: ds.length });
  }
  return { samples, out };
}

/** range totals from running totals (kept in the store's read cache or not) equal the raw path's */
function assertRangeTotals(store: Store, collector: string, from: number, to: number, keep: boolean, where: string) {
  const { samples, out } = rawTotals(store, collector, from, to);
  const fast = store.rangeTotalsBetween('t', collector, FIELDS, undefined, from, to, undefined, keep);
  assert.ok(fast, `${where}: running totals answer`);
  const walked = store.rangeTotals('t', collector, FIELDS, undefined, samples);
  const got = new Map(fast.map((g) => [`${g.labels.name}/${g.field}`, g]));
  for (const [k, e] of out) {
    assert.equal(got.get(k)?.total ?? 0, e.total, `${where} ${k}`);
    if (e.deltas > 0) {
      assert.equal(got.get(k)?.seen, true, `${where} ${k} seen`);
    }
  }
  // the walk (the path of history without running totals) answers every series as they do: a
  // series one path leaves out is one without a delta (total 0, not seen)
  const walk = new Map(walked.map((w) => [`${w.labels.name}/${w.field}`, w]));
  for (const k of new Set([...got.keys(), ...walk.keys()])) {
    const [g, w] = [got.get(k), walk.get(k)];
    assert.deepEqual(
      { total: w?.total ?? 0, seen: w?.seen ?? false },
      { total: g?.total ?? 0, seen: g?.seen ?? false },
      `${where} ${k}: the walk = running totals`
    );
  }
}

export function checkRanges(store: Store, collector: string, r: () => number, end: number, what: string): void {
  // from before the history to a few samples into it: what its first samples (failed or not) decide
  const start = store.samples('t', collector, 0, 1e12)[0]?.ts ?? 0;
  const ranges: Array<[number, number]> = [
    [0, 1e12],
    [end - 30_000, end],
    [0, start + 3000],
    [0, start + 8000],
  ];
  for (let i = 0; i < 8; i++) {
    const a = Math.floor(r() * end);
    ranges.push([a, a + Math.floor(r() * (end - a))]);
  }
  const edgeHits = store.readCache?.stats.edgeHits ?? 0;
  for (const [from, to] of ranges) {
    const where = `${what} range ${from}-${to}`;
    assertRangeTotals(store, collector, from, to, false, where);
    // as a dashboard asks: the ends kept in the read cache, asked again, then slid by a sample or a few
    // (the same answer as without the cache, which equals the raw path on the ranges above)
    for (const [a, b] of [
      [from, to],
      [from, to],
      [from + 1000, to + 1000],
      [from + Math.floor(r() * 9000), to + Math.floor(r() * 3000)],
    ]) {
      const cached = store.rangeTotalsBetween('t', collector, FIELDS, undefined, a, b, undefined, true);
      assert.deepEqual(
        cached,
        store.rangeTotalsBetween('t', collector, FIELDS, undefined, a, b),
        `${where}, read cache ${a}-${b}`
      );
    }
  }
  assert.ok((store.readCache?.stats.edgeHits ?? 0) > edgeHits, `${what}: range ends came from the read cache`);
}

/** every other seed: pack what is older than a head window somewhere in the history, thinning nothing */
function packSome(store: Store, seed: number, end: number): void {
  if (seed % 2 === 0) {
    store.compact(end, {
      retentionMs: 1e12,
      downsampleAfterMs: 1e12,
      downsampleStepMs: 1000,
      headMs: (seed * 7919) % 300_000,
    });
  }
}

test('running totals equal Σ raw deltas on random histories (resets, gaps, restarts, downsampling)', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-run-'));
    const { store, end } = writeHistory(dir, seed, { counters: true, collector: 'x', compact: true });
    try {
      checkRanges(store, 'x', rng(seed + 1000), end, `seed ${seed}`);
      // one more downsampling over the whole history: still the same answers
      store.compact(end, { retentionMs: 1e12, downsampleAfterMs: 10_000, downsampleStepMs: 13_000 });
      checkRanges(store, 'x', rng(seed + 2000), end, `seed ${seed} compacted`);
      // every point but each series' newest packed into chunks (store/chunks.ts): still the same
      store.compact(end, { retentionMs: 1e12, downsampleAfterMs: 1e12, downsampleStepMs: 1000, headMs: 0 });
      assert.ok(store.db.prepare('SELECT count(*) FROM point_chunk').pluck().get(), `seed ${seed}: chunks written`);
      checkRanges(store, 'x', rng(seed + 2500), end, `seed ${seed} packed`);
      // a store the previous version packed: its chunks in format 1 (every other one, as a file that
      // went on being compacted after the upgrade holds both) read the same
      const chunks = store.db.prepare('SELECT rowid, data FROM point_chunk').raw().all() as Array<[number, Buffer]>;
      const rewrite = store.db.prepare('UPDATE point_chunk SET data = ? WHERE rowid = ?');
      for (const [rowid, data] of chunks.filter((_, i) => i % 2 === seed % 2)) {
        rewrite.run(encodeChunkV1(decodeChunk(data)), rowid);
      }
      checkRanges(store, 'x', rng(seed + 2700), end, `seed ${seed} format 1`);
      // compaction takes format-1 chunks apart and writes them back in today's format
      store.compact(end, { retentionMs: 1e12, downsampleAfterMs: 5000, downsampleStepMs: 17_000, headMs: 0 });
      assertChunkLayout(store);
      checkRanges(store, 'x', rng(seed + 2900), end, `seed ${seed} format 1 compacted`);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('range totals when the history’s first samples failed: the walk and running totals agree on total and seen', () => {
  for (let seed = 1; seed <= 12; seed++) {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-run-'));
    const { store, end } = writeHistory(dir, seed, {
      counters: true,
      collector: 'x',
      compact: false,
      failFirst: 1 + (seed % 3),
    });
    try {
      assert.equal(store.samples('t', 'x', 0, 1e12)[0].ok, false, `seed ${seed}: the history opens with a failure`);
      checkRanges(store, 'x', rng(seed + 6000), end, `seed ${seed} first failed`);
      // thinned and partly packed: the failures at the start stay, the ok samples after them thin out
      store.compact(end, { retentionMs: 1e12, downsampleAfterMs: 40_000, downsampleStepMs: 7000, headMs: seed * 9000 });
      checkRanges(store, 'x', rng(seed + 6500), end, `seed ${seed} first failed, compacted`);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('a gauge that goes down marks no reset: downsampling still thins it out', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-run-'));
  const store = Store.open(dir);
  try {
    for (let i = 0; i < 200; i++) {
      store.writeSample({
        target: 't',
        collector: 'x',
        ts: 1000 + i * 1000,
        ok: true,
        epoch: 1,
        rows: [{ key: { name: 'a' }, values: { c: i, g: i % 7 } }],
        counters: ['c'],
      });
    }
    const before = store.samples('t', 'x', 0, 1e9).length;
    store.compact(201_000, { retentionMs: 1e12, downsampleAfterMs: 1000, downsampleStepMs: 10_000 });
    assert.ok(store.samples('t', 'x', 0, 1e9).length <= before / 5, 'one sample per 10 s kept');
    // from the first sample kept (c = 8, the last of the first 10 s) to the last (c = 199)
    assert.equal(store.rangeTotalsBetween('t', 'x', ['c'], undefined, 0, 1e9)?.[0].total, 191);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('history written before running totals is walked, then filled in and continued exactly', () => {
  for (let seed = 1; seed <= 8; seed++) {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-run-'));
    let { store, end } = writeHistory(dir, seed, { counters: false, collector: 'x', compact: seed % 2 === 0 });
    try {
      assert.equal(
        store.rangeTotalsBetween('t', 'x', FIELDS, undefined, 0, 1e12),
        undefined,
        'no running totals yet: the caller walks the points'
      );
      backfillRunningTotals(store.db, (c) => (c === 'x' ? FIELDS : undefined));
      checkRanges(store, 'x', rng(seed + 3000), end, `seed ${seed} filled in`);
      // the upgraded sidecar writes on: its totals continue the filled-in ones
      store.close();
      const more = writeHistory(dir, seed + 500, { counters: true, collector: 'x', compact: false, startTs: end });
      store = more.store;
      end = more.end;
      checkRanges(store, 'x', rng(seed + 4000), end, `seed ${seed} continued`);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('migrations 4–6 fill in running totals of an existing history file and loses no sample or point', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-run-'));
  try {
    // a history as the previous release wrote it: the database collector, no running totals
    const old = writeHistory(dir, 7, { counters: false, collector: 'database', compact: true });
    old.store.close();
    const raw = new Database(join(dir, 'pgpulse.db'));
    legacySampleLayout(raw);
    raw.exec(
      'DROP INDEX sample_keyframes; DROP INDEX sample_marks; ALTER TABLE point DROP COLUMN total; ALTER TABLE sample DROP COLUMN resets;' +
        ' CREATE INDEX point_by_sample ON point (sample_id);'
    );
    raw.pragma('user_version = 3');
    const before = raw
      .prepare('SELECT (SELECT count(*) FROM sample) AS samples, (SELECT count(*) FROM point) AS points')
      .get() as { samples: number; points: number };
    raw.close();
    // FIELDS are not pg_stat_database counters: name them so the catalog's counter list applies
    const { collectorSpecs } =
      require('../../../src/model/catalog/collectors') as typeof import('../../../src/model/catalog/collectors');
    const spec = collectorSpecs.find((c) => c.id === 'database');
    assert.ok(spec);
    const saved = spec.counters;
    spec.counters = [...saved, ...FIELDS];
    let store: Store | undefined;
    try {
      store = Store.open(dir);
    } finally {
      spec.counters = saved;
    }
    try {
      assert.equal(store.db.pragma('user_version', { simple: true }), Math.max(...migrations.map((m) => m.version)));
      const after = store.db
        .prepare('SELECT (SELECT count(*) FROM sample) AS samples, (SELECT count(*) FROM point) AS points')
        .get() as { samples: number; points: number };
      assert.equal(
        store.db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'point_by_sample'").pluck().get(),
        0,
        'migration 6 dropped the index by sample'
      );
      assert.equal(after.samples, before.samples, 'every sample kept');
      assert.ok(after.points >= before.points, 'every point kept');
      checkRanges(store, 'database', rng(77), old.end, 'migrated');
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** how step edges are read: scan or seek (edge-reads.ts), each without and with a read cache kept over the ranges */
const READS = [
  ['scan', false],
  ['seek', false],
  ['scan', true],
  ['seek', true],
] as const;

function assertStepSums(got: BucketSums[], want: BucketSums[], where: string): void {
  assert.deepEqual(
    got.map((g) => [g.labels, g.field]),
    want.map((w) => [w.labels, w.field]),
    `${where}: the same series in the same order`
  );
  want.forEach((w, i) => {
    const g = got[i];
    assert.deepEqual(
      g.sum.map((v) => v === null),
      w.sum.map((v) => v === null),
      `${where} ${w.labels.name}/${w.field}: null steps`
    );
    w.sum.forEach((v, b) => {
      if (v !== null) {
        assert.ok(
          Math.abs((g.sum[b] as number) - v) <= 1e-9 * Math.max(1, Math.abs(v)),
          `${where} ${w.labels.name}/${w.field} step ${b}: ${g.sum[b]} vs ${v}`
        );
      }
    });
    assert.deepEqual(g.elapsed, w.elapsed, `${where} ${w.labels.name}/${w.field}: elapsed`);
  });
}

test('step sums from running totals equal the raw bucket sums (spread and end, any step, any range)', () => {
  for (let seed = 1; seed <= 8; seed++) {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-run-'));
    const { store, end } = writeHistory(dir, seed, {
      counters: true,
      collector: 'x',
      compact: true,
      calm: seed % 2 === 1,
    });
    packSome(store, seed, end);
    let regular = 0;
    let steps = 0;
    const cache = new ReadCache();
    try {
      const r = rng(seed + 5000);
      for (let k = 0; k < 6; k++) {
        const from = k === 0 ? 0 : Math.floor(r() * end);
        const to = k === 0 ? end + 5000 : from + Math.floor(r() * (end - from + 3000));
        const step = [700, 1000, 3000, 7000, 60_000][Math.floor(r() * 5)];
        const range = { from, to };
        const ctx = {
          store,
          query: { target: 't', refId: 'A' },
          range,
          grid: grid(range, step),
          filter: {},
        } as unknown as EngineContext;
        for (const mode of ['spread', 'end'] as const) {
          const where0 = `seed ${seed} ${from}-${to} step ${step} ${mode}`;
          const fast = store.stepTotals('t', 'x', FIELDS, undefined, range, ctx.grid, mode, MAX_EDGE_LOOKUPS);
          assert.ok(fast, `${where0}: running totals answer`);
          steps += ctx.grid.starts.length;
          regular += ctx.grid.starts.length - fast.irregular.reduce((a, x) => a + x.to - x.from + 1, 0);
          store.readCache = undefined;
          const want = bucketDeltas(ctx, loadSeries(ctx, 'x', FIELDS), FIELDS, mode);
          // both ways of reading the edges (edge-reads.ts): one ordered scan, or a seek per edge;
          // each from SQLite, then with what the cache kept from the ranges before (read-cache.ts)
          for (const [reads, cached] of READS) {
            store.edgeReads = reads;
            store.readCache = cached ? cache : undefined;
            const got = stepSums(ctx, 'x', FIELDS, mode);
            store.edgeReads = 'auto';
            assertStepSums(got, want, `${where0} ${reads}${cached ? ' cached' : ''}`);
          }
        }
      }
      if (seed % 2 === 1) {
        assert.ok(
          regular > steps / 5,
          `seed ${seed}: many steps of a calm history come from running totals (${regular} of ${steps})`
        );
      }
      assert.ok(cache.stats.hits > 0 && cache.stats.reads > 0, `seed ${seed}: the cache was read and hit`);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('per-database sums answer a step as the Σ of their rows’ deltas does (rows coming and going, failures, resets)', () => {
  for (let seed = 1; seed <= 8; seed++) {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-run-'));
    const { store, end } = writeHistory(dir, seed, {
      counters: true,
      collector: 'x',
      compact: true,
      databases: true,
      calm: seed % 2 === 1,
    });
    packSome(store, seed, end);
    let regular = 0;
    let steps = 0;
    const cache = new ReadCache();
    try {
      const r = rng(seed + 7000);
      for (let k = 0; k < 6; k++) {
        const from = k === 0 ? 0 : Math.floor(r() * end);
        const to = k === 0 ? end + 5000 : from + Math.floor(r() * (end - from + 3000));
        const step = [700, 1000, 3000, 7000, 60_000][Math.floor(r() * 5)];
        const range = { from, to };
        const filter = k % 3 === 2 ? { datname: 'db2' } : {};
        const ctx = {
          store,
          query: { target: 't', refId: 'A' },
          range,
          grid: grid(range, step),
          filter,
        } as unknown as EngineContext;
        for (const mode of ['spread', 'end'] as const) {
          const where0 = `seed ${seed} ${from}-${to} step ${step} ${mode} ${JSON.stringify(filter)}`;
          const fast = store.stepTotals(
            't',
            'x',
            FIELDS.map((f) => `Σ${f}`),
            filter,
            range,
            ctx.grid,
            mode,
            MAX_EDGE_LOOKUPS,
            true
          );
          steps += ctx.grid.starts.length;
          regular +=
            ctx.grid.starts.length -
            (fast?.irregular.reduce((a, x) => a + x.to - x.from + 1, 0) ?? ctx.grid.starts.length);
          if (store.rangeStart('t', 'x', from, to) === undefined) {
            continue;
          }
          // the raw way: every row's bucket sums, summed per database (elapsed: the longest, as groupSums keeps)
          const want = new Map<string, { sum: Array<number | null>; elapsed: number[] }>();
          for (const w of bucketDeltas(ctx, loadSeries(ctx, 'x', FIELDS), FIELDS, mode)) {
            const key = `${w.labels.datname}/${w.field}`;
            const e = want.get(key) ?? { sum: w.sum.map(() => null), elapsed: w.elapsed.map(() => 0) };
            w.sum.forEach((v, b) => {
              if (v !== null) {
                e.sum[b] = (e.sum[b] ?? 0) + v;
                e.elapsed[b] = Math.max(e.elapsed[b], w.elapsed[b]);
              }
            });
            want.set(key, e);
          }
          store.readCache = undefined;
          for (const [reads, cached] of READS) {
            store.edgeReads = reads;
            store.readCache = cached ? cache : undefined;
            const got = databaseStepSums(ctx, 'x', FIELDS, mode, []);
            store.edgeReads = 'auto';
            const where = `${where0} ${reads}${cached ? ' cached' : ''}`;
            assert.ok(got, `${where}: the per-database sums answer`);
            assert.deepEqual(
              new Set(got.map((g) => `${g.labels.datname}/${g.field}`)),
              new Set(want.keys()),
              `${where}: the same databases and fields`
            );
            for (const g of got) {
              const w = want.get(`${g.labels.datname}/${g.field}`)!;
              assert.deepEqual(
                g.sum.map((v) => v === null),
                w.sum.map((v) => v === null),
                `${where} ${g.labels.datname}/${g.field}: null steps`
              );
              w.sum.forEach((v, b) => {
                if (v !== null) {
                  assert.ok(
                    Math.abs((g.sum[b] as number) - v) <= 1e-9 * Math.max(1, Math.abs(v)),
                    `${where} ${g.labels.datname}/${g.field} step ${b}: ${g.sum[b]} vs ${v}`
                  );
                }
              });
              assert.deepEqual(g.elapsed, w.elapsed, `${where} ${g.labels.datname}/${g.field}: elapsed`);
            }
          }
        }
      }
      if (seed % 2 === 1) {
        assert.ok(
          regular > steps / 5,
          `seed ${seed}: many steps of a calm history come from the sums (${regular} of ${steps})`
        );
      }
      assert.ok(cache.stats.hits > 0 && cache.stats.reads > 0, `seed ${seed}: the cache was read and hit`);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('a query connection’s read cache follows the writer: appends extend it, compaction and retention drop it', () => {
  let drops = 0;
  for (let seed = 1; seed <= 4; seed++) {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-run-'));
    let reader: Store | undefined;
    // the last seeds with room for a few series only: spans are evicted and read again
    const cache = new ReadCache(seed > 2 ? 4096 : undefined);
    const r = rng(seed + 9000);
    let checked = 0;
    const { store } = writeHistory(dir, seed, {
      counters: true,
      collector: 'x',
      compact: true,
      calm: seed % 2 === 1,
      check: (_writer, ts) => {
        if (r() > 0.12) {
          return;
        }
        // as the query worker reads while the sampler writes: its own connection, its own cache
        reader ??= new Store(join(dir, 'pgpulse.db'), { reader: true });
        reader.readCache = cache;
        // a dashboard's panel refreshed: the window ends now, starts at one of a few places
        const from = [0, 5000, Math.floor(ts / 2), ts - 60_000][Math.floor(r() * 4)];
        const range = { from, to: ts };
        const step = [1000, 3000, 7000][Math.floor(r() * 3)];
        const ctx = { store: reader, query: { target: 't', refId: 'A' }, range, grid: grid(range, step), filter: {} };
        for (const mode of ['spread', 'end'] as const) {
          reader.readCache = undefined;
          const want = bucketDeltas(
            ctx as unknown as EngineContext,
            loadSeries(ctx as unknown as EngineContext, 'x', FIELDS),
            FIELDS,
            mode
          );
          reader.readCache = cache;
          const got = stepSums(ctx as unknown as EngineContext, 'x', FIELDS, mode);
          assertStepSums(got, want, `seed ${seed} at ${ts}: ${from}-${ts} step ${step} ${mode}`);
          checked++;
        }
        // range totals (top_queries) with their ends kept in the same cache, against the raw path
        assertRangeTotals(reader, 'x', from, ts, true, `seed ${seed} at ${ts}: range totals ${from}-${ts}`);
        reader.readCache = cache;
      },
    });
    try {
      assert.ok(checked > 20, `seed ${seed}: ${checked} reads checked`);
      const { hits, extended, dropped, edgeHits, edgeReads } = cache.stats;
      assert.ok(
        hits > 0 && extended > 0 && edgeHits > 0 && edgeReads > 0,
        `seed ${seed}: the cache was hit and extended (${JSON.stringify(cache.stats)})`
      );
      drops += dropped;
      if (seed > 2) {
        assert.ok(cache.stats.evicted > 0, `seed ${seed}: a small cache evicts (${JSON.stringify(cache.stats)})`);
      }
    } finally {
      (reader as Store | undefined)?.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.ok(drops > 0, 'compaction between reads dropped what the cache held');
});

test('a sample written at an earlier time than the newest (a clock set back) is not missed by the read cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-run-'));
  const writer = Store.open(dir);
  const file = join(dir, 'pgpulse.db');
  const cached = new Store(file, { reader: true });
  const uncached = new Store(file, { reader: true });
  uncached.readCache = undefined;
  try {
    let c = 0;
    const write = (ts: number) => {
      c += 7;
      writer.writeSample({
        target: 't',
        collector: 'x',
        ts,
        ok: true,
        epoch: 1,
        rows: [{ key: { name: 'a' }, values: { c, d: 2 * c } }],
        counters: FIELDS,
      });
    };
    for (let ts = 1500; ts <= 60_500; ts += 1000) {
      write(ts);
    }
    const range = { from: 0, to: 60_000 };
    const ctx = (store: Store) =>
      ({
        store,
        query: { target: 't', refId: 'A' },
        range,
        grid: grid(range, 3000),
        filter: {},
      }) as unknown as EngineContext;
    const sums = () => [stepSums(ctx(cached), 'x', FIELDS, 'spread'), stepSums(ctx(uncached), 'x', FIELDS, 'spread')];
    const [first, firstRaw] = sums();
    assert.deepEqual(first, firstRaw);
    // inside the span the cache holds, the last sample before an edge: stored as an older pgpulse
    // left a set-back (the writer now stamps it at the stream's newest time, 60,500)
    write(32_800);
    writer.db.prepare('UPDATE sample_row SET ts = 32800 WHERE id = (SELECT max(id) FROM sample_row)').run();
    const [again, againRaw] = sums();
    assert.deepEqual(again, againRaw, 'the cache read the span again');
    assert.notDeepEqual(againRaw, firstRaw, 'the late sample changed the answer');
  } finally {
    cached.close();
    uncached.close();
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a kept range end on a point without a running total answers as a read does (the walk), never NaN', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-run-'));
  const store = Store.open(dir);
  try {
    // a counter with running totals, then written as a gauge (no totals) and holding still: its one
    // point without a total stays in force over the samples after it
    for (let i = 0; i < 20; i++) {
      store.writeSample({
        target: 't',
        collector: 'x',
        ts: 1000 * (i + 1),
        ok: true,
        epoch: 1,
        rows: [{ key: { name: 'a' }, values: { c: i < 10 ? i : 100 } }],
        counters: i < 10 ? ['c'] : [],
      });
    }
    const ts = Array.from({ length: 20 }, (_, i) => 1000 * (i + 1));
    // later starts first: their facts (on the point without a total) are kept before an earlier
    // start's range ends on it
    for (const a of [...ts].reverse()) {
      for (const b of ts) {
        if (a < b) {
          const cached = store.rangeTotalsBetween('t', 'x', ['c'], undefined, a, b, undefined, true);
          const read = store.rangeTotalsBetween('t', 'x', ['c'], undefined, a, b);
          assert.deepEqual(cached, read, `range ${a}…${b}`);
        }
      }
    }
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
