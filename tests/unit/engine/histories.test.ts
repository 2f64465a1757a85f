/**
 * The engine over crafted histories in an in-memory store: resets, gaps and restarts, generic
 * rates and ratios, handlers and frames — no PostgreSQL. Each history's true increase is known,
 * so Σ rate × step over the range must equal it, and no step may show the lifetime total.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Frame } from '../../../src/model/frames';
import { coreFeature } from '../../../src/sidecar/core';
import type { ResolvedQuery } from '../../../src/sidecar/engine/context';
import { Engine } from '../../../src/sidecar/engine/engine';
import { assemble } from '../../../src/sidecar/feature';
import { AWAY_BY_DESIGN_STREAM, Store } from '../../../src/sidecar/store/store';

const T0 = 1_700_000_000_000;
const S = 1000;
const core = assemble([coreFeature]);

interface Point {
  at: number;
  ok?: boolean;
  epoch?: number;
  commits?: number;
  hit?: number;
  read?: number;
}

function history(points: Point[]): Store {
  const store = new Store(':memory:');
  for (const p of points) {
    const ok = p.ok ?? true;
    store.writeSample({
      target: 't',
      collector: 'database',
      ts: T0 + p.at * S,
      ok,
      epoch: p.epoch ?? 1,
      rows: ok
        ? [
            {
              key: { datname: 'app' },
              values: { xact_commit: p.commits ?? 0, xact_rollback: 0, blks_hit: p.hit ?? 0, blks_read: p.read ?? 0 },
            },
          ]
        : [],
      error: ok ? undefined : 'connection refused',
      counters: ['xact_commit', 'xact_rollback', 'blks_hit', 'blks_read'],
    });
  }
  return store;
}

function run(
  store: Store,
  metric: string,
  fromS: number,
  toS: number,
  stepS: number,
  engine = new Engine(store, core)
) {
  return engine.run({
    query: { refId: 'A', metric, target: 't' } as ResolvedQuery,
    range: { from: T0 + fromS * S, to: T0 + toS * S },
    intervalMs: stepS * S,
    targetIntervalMs: 10 * S,
  });
}

/** the values of the series whose value field is named `field` */
function series(frames: Frame[], field: string): Array<number | null> {
  const f = frames.find((x) => x.fields[1]?.name === field || x.fields[1]?.config?.displayNameFromDS?.includes(field));
  assert.ok(f, `no ${field} series in ${JSON.stringify(frames.map((x) => x.fields.map((y) => y.name)))}`);
  return f.fields[1].values as Array<number | null>;
}

const total = (values: Array<number | null>, stepS: number) => values.reduce<number>((a, v) => a + (v ?? 0) * stepS, 0);

test('a counter that goes down within one epoch was reset: it counts from the new value, never negative', () => {
  const store = history([
    { at: 0, commits: 100 },
    { at: 10, commits: 200 },
    { at: 20, commits: 50 },
    { at: 30, commits: 150 },
  ]);
  const res = run(store, 'tps', 0, 30, 10);
  assert.equal(res.error, undefined, res.error);
  const v = series(res.frames, 'commits');
  assert.ok(
    v.every((x) => x === null || (x >= 0 && x <= 10)),
    `no negative rate, no spike: ${JSON.stringify(v)}`
  );
  assert.ok(
    Math.abs(total(v, 10) - 250) < 1e-9,
    `100 + 50 + 100 commits, got ${total(v, 10)} from ${JSON.stringify(v)}`
  );
});

test('a restart that discarded the statistics (new epoch) after an outage: the new counts, spread after the outage', () => {
  const store = history([
    { at: 0, commits: 1000 },
    { at: 10, commits: 1100 },
    { at: 20, ok: false },
    { at: 30, ok: false },
    { at: 40, epoch: 2, commits: 30 },
  ]);
  const v = series(run(store, 'tps', 0, 40, 10).frames, 'commits');
  assert.ok(Math.abs(total(v, 10) - 130) < 1e-9, `100 before, 30 after: ${JSON.stringify(v)}`);
  assert.ok(
    v.every((x) => x === null || x <= 10),
    `the lifetime total 1100 never shows as a step: ${JSON.stringify(v)}`
  );
});

test('a restart that kept the statistics (same epoch) across a gap: one delta over the gap, no cut and no spike', () => {
  const store = history([
    { at: 0, commits: 1000 },
    { at: 10, commits: 1100 },
    { at: 20, ok: false },
    { at: 30, commits: 1300 },
  ]);
  const v = series(run(store, 'tps', 0, 30, 10).frames, 'commits');
  assert.ok(Math.abs(total(v, 10) - 300) < 1e-9, JSON.stringify(v));
  assert.ok(
    v.every((x) => x === null || x <= 10),
    JSON.stringify(v)
  );
});

test('a ratio over one step is Δnum / Δden of the window, across a reset', () => {
  const store = history([
    { at: 0, hit: 5000, read: 5000 },
    { at: 10, hit: 5900, read: 5100 },
    { at: 20, hit: 300, read: 100, epoch: 2 },
  ]);
  const res = run(store, 'cache_hit_ratio', 0, 20, 20);
  assert.equal(res.error, undefined, res.error);
  assert.equal(res.frames.length, 1);
  const v = (res.frames[0].fields[1].values as Array<number | null>).filter((x): x is number => x !== null);
  assert.equal(v.length, 1, JSON.stringify(res.frames));
  // (900 + 300) hits of (900 + 100 + 300 + 100) blocks
  assert.ok(Math.abs(v[0] - 1200 / 1400) < 1e-9, `${v[0]}`);
});

test('an engine computes with exactly the handlers it is given', () => {
  const store = history([{ at: 0 }, { at: 10 }]);
  const bare = new Engine(store, { handlers: new Map(), checks: [] });
  const res = run(store, 'top_queries', 0, 10, 10, bare);
  assert.equal(res.status, 501);
  assert.match(res.error ?? '', /no handler top_queries/);
  const withCore = run(store, 'top_queries', 0, 10, 10);
  assert.equal(withCore.error, undefined, withCore.error);
});

test('a metric check given to the engine can refuse the answer, naming why', () => {
  const store = history([{ at: 0 }, { at: 10 }]);
  const engine = new Engine(store, {
    handlers: core.handlers,
    checks: [(ctx) => (ctx.metric.id === 'tps' ? 'no grant on pg_stat_database' : undefined)],
  });
  const res = run(store, 'tps', 0, 10, 10, engine);
  assert.equal(res.status, 403);
  assert.equal(res.error, 'no grant on pg_stat_database');
  assert.equal(run(store, 'cache_hit_ratio', 0, 10, 10, engine).error, undefined);
});

test('series frames: a time field and a value field labelled by the group-by, refId set, one value per step', () => {
  const store = history([
    { at: 0, commits: 0 },
    { at: 10, commits: 100 },
    { at: 20, commits: 300 },
  ]);
  const res = run(store, 'tps', 0, 20, 10);
  const f = res.frames.find((x) => x.fields[1]?.name === 'commits') ?? res.frames[0];
  assert.equal(f.refId, 'A');
  assert.equal(f.fields[0].type, 'time');
  assert.equal(f.fields[1].labels?.datname, 'app');
  assert.equal(f.fields[0].values.length, f.fields[1].values.length);
  assert.deepEqual(f.fields[0].values.slice(0, 2), [T0, T0 + 10 * S]);
});

test('sampler staleness: time a gate kept pgpulse away by design (an idle Neon compute) is not staleness', () => {
  const withAway = (away: boolean) => {
    const store = new Store(':memory:');
    for (let at = 0; at <= 50; at += 10) {
      store.writeSample({ target: 't', collector: 'server', ts: T0 + at * S, ok: true, rows: [] });
    }
    if (away) {
      for (let at = 60; at <= 120; at += 10) {
        store.recordAwayByDesign('t', T0 + at * S);
      }
    }
    const frames = run(store, 'sampler_staleness', 0, 120, 10).frames;
    assert.equal(frames.length, 1);
    const values = frames[0].fields[1].values as Array<number | null>;
    store.close();
    return values;
  };
  const away = withAway(true);
  const stale = withAway(false);
  // each step's value is the time from its end back to the last fresh sample or away record: the
  // last step [120 s, 130 s) ends 10 s after the last record at 120 s, 80 s after the last sample
  assert.deepEqual(away, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10]);
  assert.deepEqual(stale, [0, 0, 0, 0, 0, 10, 20, 30, 40, 50, 60, 70, 80]);
  assert.deepEqual(stale.slice(0, 5), away.slice(0, 5), 'before the gate kept away nothing differs');
});

test('sampler staleness: samples written while the clock is behind the history read fresh, not stale or absent', (t) => {
  // a VM resumed from a snapshot: the history runs two days ahead of the clock now (mid-step, held still)
  const now = T0 + 1000 * S + 4321;
  t.mock.timers.enable({ apis: ['Date'], now });
  const ahead = now + 2 * 86_400_000;
  const store = new Store(':memory:');
  for (let at = 0; at <= 50; at += 10) {
    store.writeSample({ target: 't', collector: 'server', ts: ahead + at * S, ok: true, rows: [] });
  }
  // the sampler goes on with the clock set back: the writer stamps its samples at the newest time
  store.writeSample({ target: 't', collector: 'server', ts: now, ok: true, rows: [] });
  assert.equal(store.lastSample('t', 'server')?.ts, ahead + 50 * S);
  const step = 10;
  const from = Math.floor(now / (step * S)) * step * S - 60 * S;
  const res = new Engine(store, core).run({
    query: { refId: 'A', metric: 'sampler_staleness', target: 't' } as ResolvedQuery,
    range: { from, to: now },
    intervalMs: step * S,
    targetIntervalMs: 10 * S,
  });
  store.close();
  assert.equal(res.error, undefined, res.error);
  const values = res.frames[0].fields[1].values as Array<number | null>;
  // no sample at or before any step's end: null (no data), except the step holding now, which a
  // sample written after the set-back shows fresh (main: null there too, and the alert's noData fires)
  assert.deepEqual(values, [...new Array(values.length - 1).fill(null), 0]);
});

test('no collector may take the name of the store’s away-by-design stream', () => {
  const fake = {
    ...coreFeature,
    name: 'fake',
    collectors: [{ ...coreFeature.collectors![0], id: AWAY_BY_DESIGN_STREAM }],
  };
  assert.throws(
    () => assemble([fake]),
    /the store \(recordAwayByDesign\) and fake both define the collector "neon_idle"/
  );
  assert.doesNotThrow(() => assemble([coreFeature]));
});
