/**
 * top_queries ranks statements on the few fields that order them and reads the other columns for
 * the shown statements alone. That must be the table of reading every field of every statement:
 * compared on random pg_stat_statements-like histories (several roles per statement, resets,
 * failed samples, statements coming and going, downsampling) for every order, range and topN —
 * the two-pass table with its series and range ends kept in a read cache across queries (asked
 * again, slid), the full one without.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { collectorSpecs } from '../../../src/model/catalog/collectors';
import { coreFeature } from '../../../src/sidecar/core';
import type { ResolvedQuery } from '../../../src/sidecar/engine/context';
import { Engine } from '../../../src/sidecar/engine/engine';
import { topQueries } from '../../../src/sidecar/engine/handlers/statements';
import { assemble } from '../../../src/sidecar/feature';
import { ReadCache } from '../../../src/sidecar/store/read-cache';
import { Store } from '../../../src/sidecar/store/store';

// the statements collector's own counters, as the sampler declares them
const COUNTERS = collectorSpecs.find((c) => c.id === 'statements')?.counters ?? [];
const T0 = 1_700_000_000_000;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** 40 statements × up to 3 roles in 2 databases, sampled every 10 s */
function writeHistory(dir: string, seed: number): { store: Store; end: number } {
  const r = rng(seed);
  const store = Store.open(dir);
  const state = new Map<string, Record<string, number>>();
  let epoch = 1;
  let ts = T0;
  for (let i = 0; i < 240; i++) {
    ts += 10_000;
    if (r() < 0.04) {
      store.writeSample({
        target: 't',
        collector: 'statements',
        ts,
        ok: false,
        rows: [],
        error: 'down',
        counters: COUNTERS,
      });
      continue;
    }
    if (r() < 0.01) {
      epoch++; // pg_stat_statements_reset(): every entry starts again
      state.clear();
    }
    const rows = [];
    for (let q = 0; q < 40; q++) {
      for (const user of ['app', 'batch', 'admin'].slice(0, 1 + (q % 3))) {
        const key = { queryid: String(9000 + q), datname: q % 2 ? 'app' : 'shop', username: user };
        const k = JSON.stringify(key);
        if ((q * 7 + i) % 53 < 3) {
          continue; // evicted for a while
        }
        const v = state.get(k) ?? Object.fromEntries(COUNTERS.map((c) => [c, 0]));
        // the admin role only ever plans these statements (its executions fail): calls stay 0
        if (user !== 'admin' && r() < 0.3) {
          // an execution moves every counter of an entry with its calls
          const calls = 1 + Math.floor(r() * 5);
          v.calls += calls;
          v.total_exec_time += calls * r() * 40 * (1 + (q % 5));
          v.total_plan_time += calls * r() * 0.5;
          v.rows += calls * Math.floor(r() * 30);
          v.shared_blks_hit += calls * Math.floor(r() * 100);
          v.shared_blks_read += calls * Math.floor(r() * 10 * (q % 4));
          v.temp_blks_written += q % 6 === 0 ? calls * Math.floor(r() * 50) : 0;
        }
        if (r() < (user === 'admin' ? 0.3 : 0.05)) {
          // planned, then the execution failed: planning time and its buffers move, calls do not
          v.total_plan_time += r() * 2;
          v.shared_blks_hit += 3;
        }
        state.set(k, v);
        rows.push({ key, values: { ...v, max_exec_time: r() * 100 } });
      }
    }
    store.writeSample({ target: 't', collector: 'statements', ts, ok: true, epoch, rows, counters: COUNTERS });
    if (i === 160) {
      store.compact(ts, { retentionMs: 1e12, downsampleAfterMs: 600_000, downsampleStepMs: 30_000 });
    }
  }
  return { store, end: ts };
}

test('top_queries: ranking on its order fields then reading the shown rows equals reading every field of every row', () => {
  const parts = assemble([coreFeature]);
  for (let seed = 1; seed <= 4; seed++) {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-top-'));
    const { store, end } = writeHistory(dir, seed);
    try {
      const twoPass = new Engine(store, parts);
      const onePass = new Engine(store, {
        ...parts,
        handlers: new Map(parts.handlers).set('top_queries', (ctx) => topQueries(ctx, false)),
      });
      // the two-pass table as a dashboard gets it, its series and range ends kept in the read cache
      // across queries; every field of every row read without it
      const cache = new ReadCache();
      const r = rng(seed + 99);
      let compared = 0;
      for (const orderBy of ['total_time', 'mean_time', 'calls', 'rows', 'temp', 'hit_ratio']) {
        for (let k = 0; k < 4; k++) {
          const from = T0 + Math.floor(r() * 2_000) * 1000;
          const to = Math.min(end, from + Math.floor(r() * 2_400) * 1000 + 20_000);
          const query = { refId: 'A', metric: 'top_queries', target: 't', orderBy, topN: 1 + Math.floor(r() * 12) };
          // asked again, and slid by a sample or two as a refreshed panel is
          for (const slide of [0, 0, 10_000, 20_000]) {
            const range = { from: from + slide, to: Math.min(end, to + slide) };
            const req = { query: query as ResolvedQuery, range, targetIntervalMs: 10_000 };
            store.readCache = cache;
            const a = twoPass.run(req);
            store.readCache = undefined;
            const b = onePass.run(req);
            assert.equal(a.error, undefined, a.error);
            assert.deepEqual(
              a.frames,
              b.frames,
              `seed ${seed}, ${orderBy}, ${JSON.stringify(query)} over ${range.from}–${range.to}`
            );
            compared += (a.frames[0]?.fields[0]?.values.length ?? 0) > 0 ? 1 : 0;
          }
        }
      }
      assert.ok(compared >= 48, `tables with rows compared: ${compared}`);
      assert.ok(cache.stats.edgeHits > 0, `range ends from the read cache: ${JSON.stringify(cache.stats)}`);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
