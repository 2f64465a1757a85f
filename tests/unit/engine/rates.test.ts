/**
 * Rates over real elapsed time, against counters whose true rate is known exactly: samples are
 * written with chosen timestamps into a real store and answered by the real engine.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../../src/sidecar/engine/engine';
import type { ResolvedQuery } from '../../../src/sidecar/engine/context';
import { assemble } from '../../../src/sidecar/feature';
import { Store } from '../../../src/sidecar/store/store';
import { vectorFeature } from '../../../src/sidecar/vector';

const parts = assemble([vectorFeature]);

function tmpStore() {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-rates-'));
  return { store: Store.open(dir), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const T0 = 1_700_000_000_000;

function run(
  store: Store,
  metric: string,
  from: number,
  to: number,
  stepMs: number,
  extra: Record<string, unknown> = {}
) {
  return new Engine(store, parts).run({
    query: { refId: 'A', metric, target: 't', ...extra } as ResolvedQuery,
    range: { from, to },
    intervalMs: stepMs,
    targetIntervalMs: 1000,
  });
}

test('vector_calls at a step shorter than the statements interval: the true rate in every step, no alternating nulls', () => {
  const { store, cleanup } = tmpStore();
  try {
    store.writeSample({
      target: 't',
      collector: 'vector',
      ts: T0,
      ok: true,
      epoch: 1,
      rows: [{ key: { object: 'query', datname: 'd', queryid: '42' }, values: { n: 1 } }],
    });
    // statements sampled every 2 s (intervalFactor 2), 6.8 calls/s, jittered sample times
    const times = [0, 2010, 3990, 6020, 8000, 10_030, 11_990, 14_000].map((x) => T0 + x);
    for (const ts of times) {
      store.writeSample({
        target: 't',
        collector: 'statements',
        ts,
        ok: true,
        epoch: 1,
        rows: [{ key: { queryid: '42', datname: 'd', username: 'u' }, values: { calls: ((ts - T0) / 1000) * 6.8 } }],
      });
    }
    const res = run(store, 'vector_calls', T0 + 2000, T0 + 14_000, 1000);
    const all = res.frames.find((f) => f.fields[1].labels?.query === 'all vector queries');
    assert.ok(all, JSON.stringify(res));
    const values = all.fields[1].values as Array<number | null>;
    assert.equal(values.length, 13);
    // every step from 2 s to 14 s is covered by a pair of samples; the step starting at 14 s is not
    assert.equal(values[12], null);
    for (const v of values.slice(0, 12)) {
      assert.ok(v !== null, `a step inside sampled time is never null: ${JSON.stringify(values)}`);
      assert.ok(Math.abs(v - 6.8) < 1e-9, `6.8 calls/s, got ${v}`);
    }
  } finally {
    cleanup();
  }
});

test('tps: a rate is Δ over the time between the samples, and Σ rate × step over a window is the counter delta', () => {
  const { store, cleanup } = tmpStore();
  try {
    // irregular sample times (a slow cycle, a missed one) and a varying true rate
    const times = [0, 1000, 2000, 3500, 4000, 7000, 8000, 9000, 10_000];
    let commits = 1_000_000; // a lifetime total that must never show up as a step
    const truth: number[] = [];
    times.forEach((x, i) => {
      if (i > 0) {
        const d = Math.round((x - times[i - 1]) * (i % 3 === 0 ? 0.05 : 0.02));
        commits += d;
        truth.push(d);
      }
      store.writeSample({
        target: 't',
        collector: 'database',
        ts: T0 + x,
        ok: true,
        epoch: 1,
        rows: [{ key: { datname: 'd' }, values: { xact_commit: commits, xact_rollback: 0, _epoch: null } }],
      });
    });
    const res = run(store, 'tps', T0, T0 + 10_000, 1000, { database: 'd' });
    const commitsFrame = res.frames.find((f) => f.fields[1].labels?.kind === 'commits');
    assert.ok(commitsFrame);
    const values = commitsFrame.fields[1].values as Array<number | null>;
    const integral = values.reduce<number>((a, v) => a + (v ?? 0), 0); // × 1 s step
    assert.ok(
      Math.abs(integral - truth.reduce((a, b) => a + b, 0)) < 1e-6,
      `${integral} vs ${truth.reduce((a, b) => a + b, 0)}`
    );
    // 3.5 → 4 s at 0.05/ms and 4 → 7 s at 0.02/ms: steps 4,5,6 show 20/s, never the 3 s delta / 1 s
    assert.deepEqual(
      values.slice(4, 7).map((v) => Math.round((v as number) * 1000) / 1000),
      [20, 20, 20]
    );
    assert.ok(
      values.every((v) => v === null || v <= 50 + 1e-9),
      `no step above the true peak: ${values}`
    );
  } finally {
    cleanup();
  }
});
