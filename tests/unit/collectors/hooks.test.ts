import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectorHooks } from '../../../src/sidecar/collectors/hooks';
import type { CollectorResult } from '../../../src/sidecar/collectors/types';

const idx = (...names: string[]): CollectorResult => ({
  rows: names.map((n) => ({ key: { schemaname: 'public', indexrelname: n }, values: { idx_scan: 0 } })),
});
const dbs = (epochs: Record<string, number | null>): CollectorResult => ({
  rows: Object.entries(epochs).map(([datname, e]) => ({ key: { datname }, values: { _epoch: e } })),
});

test('indexes: a new name is index_created, a missing one index_dropped; nothing on the first result', () => {
  const events = collectorHooks.indexes!.events!;
  assert.deepEqual(events(undefined, idx('a', 'b'), 't'), []);
  const ev = events(idx('a', 'b'), idx('b', 'c'), 't');
  assert.deepEqual(
    ev.map((e) => [e.kind, e.title]),
    [
      ['index_created', 'index public.c created'],
      ['index_dropped', 'index public.a dropped'],
    ]
  );
  assert.deepEqual(events(idx('a'), idx('a'), 't'), []);
});

test('database: a row epoch that moves is a stats_reset of that database; a new database is not', () => {
  const events = collectorHooks.database!.events!;
  assert.deepEqual(events(undefined, dbs({ app: 1 }), 't'), []);
  assert.deepEqual(events(dbs({ app: 1 }), dbs({ app: 1, other: 5 }), 't'), []);
  const ev = events(dbs({ app: 1, other: 5 }), dbs({ app: 2, other: 5 }), 't');
  assert.equal(ev.length, 1);
  assert.equal(ev[0].kind, 'stats_reset');
  assert.match(ev[0].title, /statistics reset in app/);
});

test('statements: the collector epoch moving is a pg_stat_statements reset; an unknown epoch is not', () => {
  const events = collectorHooks.statements!.events!;
  assert.deepEqual(events(undefined, { rows: [], epoch: 10 }, 't'), []);
  assert.deepEqual(events({ rows: [], epoch: 10 }, { rows: [], epoch: 10 }, 't'), []);
  assert.deepEqual(events({ rows: [], epoch: null }, { rows: [], epoch: 10 }, 't'), []);
  const ev = events({ rows: [], epoch: 10 }, { rows: [], epoch: 20 }, 't');
  assert.equal(ev.length, 1);
  assert.match(ev[0].title, /t: pg_stat_statements statistics reset/);
});

test('what the sampler keeps between results (eventMemo) gives the same events as the whole result, without its rows', () => {
  const stmts = (epoch: number): CollectorResult => ({
    rows: Array.from({ length: 50 }, (_, i) => ({
      key: { queryid: String(i), datname: 'app', username: 'u' },
      values: { calls: i, total_exec_time: i * 2 },
    })),
    epoch,
  });
  const s = collectorHooks.statements!;
  const kept = s.eventMemo!(stmts(10));
  assert.deepEqual(kept, { rows: [], epoch: 10 });
  for (const next of [stmts(10), stmts(20), { rows: [], epoch: null }]) {
    assert.deepEqual(s.events!(kept, next, 't'), s.events!(stmts(10), next, 't'));
  }
  const ix = collectorHooks.indexes!;
  const before = idx('a', 'b');
  const memo = ix.eventMemo!(before);
  assert.ok(memo.rows.every((r) => Object.keys(r.values).length === 0));
  for (const next of [idx('a', 'b'), idx('b', 'c'), idx()]) {
    assert.deepEqual(ix.events!(memo, next, 't'), ix.events!(before, next, 't'));
  }
});
