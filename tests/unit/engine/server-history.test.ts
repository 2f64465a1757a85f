/**
 * Panels of a target whose server-wide collectors are held by its server's history for part of
 * the time (store/stream-alias.ts) equal the same panels over one history holding everything: the
 * engine's answers, not only the store's reads. A counter (checkpoints, with a reset while the
 * server's history holds it) and a gauge (connections), over ranges before, across and after the
 * changes of history, in steps of several sizes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coreFeature } from '../../../src/sidecar/core';
import type { ResolvedQuery } from '../../../src/sidecar/engine/context';
import { Engine } from '../../../src/sidecar/engine/engine';
import { assemble } from '../../../src/sidecar/feature';
import { Store } from '../../../src/sidecar/store/store';
import { collectorSpecs } from '../../../src/model/catalog/collectors';

const T0 = 1_700_000_000_000;
const S = 1000;
const SERVER = 'server:7:5432:mon:10000ms@1';
const core = assemble([coreFeature]);
const counters = (id: string) => collectorSpecs.find((c) => c.id === id)?.counters;

/** cycle i (every 10 s): checkpoints that grow unevenly and reset at 23; sessions per state */
function write(store: Store, target: string, i: number): void {
  const ts = T0 + i * 10 * S;
  const timed = i < 23 ? i * 3 + (i % 4) : i - 23;
  store.writeSample({
    target,
    collector: 'bgwriter',
    ts,
    ok: true,
    epoch: 1,
    rows: [{ key: {}, values: { checkpoints_timed: timed, checkpoints_req: Math.floor(i / 5) } }],
    counters: counters('bgwriter'),
  });
  store.writeSample({
    target,
    collector: 'activity',
    ts,
    ok: true,
    epoch: 1,
    rows: ['idle', 'active'].map((state, k) => ({
      key: { datname: 'app', state },
      values: { count: (i * (k + 2)) % 5, waiting: 0, longest_query_s: i % 7, longest_xact_s: i % 9 },
    })),
  });
}

function answer(store: Store, target: string, metric: string, fromS: number, toS: number, stepS: number) {
  const res = new Engine(store, core).run({
    query: { refId: 'A', metric, target } as ResolvedQuery,
    range: { from: T0 + fromS * S, to: T0 + toS * S },
    intervalMs: stepS * S,
    targetIntervalMs: 10 * S,
  });
  assert.equal(res.error, undefined, `${metric} of ${target}: ${res.error}`);
  return res.frames.map((f) => f.fields.map((x) => ({ name: x.name, values: x.values })));
}

test("a target's panels over its own history, then its server's, then its own again equal one history's", () => {
  const store = new Store(':memory:');
  for (let i = 0; i <= 60; i++) {
    write(store, 'ref', i);
    const server = i >= 15 && i < 40;
    for (const c of ['bgwriter', 'activity']) {
      if (i === 15) {
        store.holdStream('b', c, SERVER, T0 + i * 10 * S);
      } else if (i === 40) {
        store.holdStream('b', c, undefined, T0 + i * 10 * S);
      }
    }
    write(store, server ? SERVER : 'b', i);
  }
  let compared = 0;
  for (const [fromS, toS] of [
    [0, 600],
    [100, 300],
    [150, 390],
    [200, 350],
    [380, 600],
    [420, 600],
  ]) {
    for (const stepS of [10, 30, 60]) {
      for (const metric of ['checkpoints', 'connections']) {
        assert.deepEqual(
          answer(store, 'b', metric, fromS, toS, stepS),
          answer(store, 'ref', metric, fromS, toS, stepS),
          `${metric} ${fromS}–${toS} s, step ${stepS} s`
        );
        compared++;
      }
    }
  }
  assert.equal(compared, 36);
  // the counter's increase is there: the comparison is not between two empty answers
  const timed = answer(store, 'b', 'checkpoints', 0, 600, 60)[0][1].values as Array<number | null>;
  assert.ok(
    timed.some((v) => v !== null && v > 0),
    JSON.stringify(timed)
  );
});
