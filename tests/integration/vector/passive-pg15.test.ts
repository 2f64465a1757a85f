/**
 * Passive vector-query monitoring against a real PostgreSQL 15 with pg_stat_statements.
 * Debian has no pgvector package, so this server defines its own distance operators <-> and <=>
 * on float8[] (SQL functions): pg_stat_statements then records genuine, server-normalized texts
 * of the form pgvector queries take (ORDER BY col <-> $1 LIMIT $2), with real counters. The
 * sidecar must classify exactly those as vector queries, and its per-step latency and call
 * counts must equal what this test reads from pg_stat_statements itself.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from 'pg';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';

let pg: TestPostgres;
let sc: TestSidecar;

before(async () => {
  pg = await startPostgres();
  await pg.query(
    `CREATE FUNCTION l2(a float8[], b float8[]) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$ SELECT sqrt(sum((x - y) ^ 2)) FROM unnest(a, b) AS t(x, y) $$`
  );
  await pg.query(
    `CREATE FUNCTION cosd(a float8[], b float8[]) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$ SELECT 1 - sum(x * y) / (sqrt(sum(x * x)) * sqrt(sum(y * y))) FROM unnest(a, b) AS t(x, y) $$`
  );
  await pg.query('CREATE OPERATOR <-> (LEFTARG = float8[], RIGHTARG = float8[], FUNCTION = l2)');
  await pg.query('CREATE OPERATOR <=> (LEFTARG = float8[], RIGHTARG = float8[], FUNCTION = cosd)');
  await pg.query('CREATE TABLE items (id int PRIMARY KEY, category int, embedding float8[])');
  await pg.query(
    'INSERT INTO items SELECT i, i % 7, ARRAY[random(), random(), random(), random()] FROM generate_series(1, 300) i'
  );
  sc = await startTestSidecar({ url: pg.url, grpc: false });
});

after(async () => {
  await sc?.destroy();
  await pg?.destroy();
});

async function workload(c: Client, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const v = [Math.random(), Math.random(), Math.random(), Math.random()];
    await c.query('SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 5', [v]);
    if (i % 2 === 0) {
      await c.query('SELECT id FROM items WHERE category = $1 ORDER BY embedding <=> $2 LIMIT 10', [i % 7, v]);
    }
    await c.query('SELECT id FROM items WHERE id = $1', [i + 1]);
  }
}

interface Pgss {
  queryid: string;
  query: string;
  calls: number;
  total: number;
}
async function pgss(): Promise<Pgss[]> {
  return pg.query<Pgss>(
    "SELECT queryid::text AS queryid, query, calls::float8 AS calls, total_exec_time AS total FROM pg_stat_statements WHERE query LIKE '%FROM items%' AND toplevel"
  );
}

test('vector queries are classified with the parser; latency and calls per step equal pg_stat_statements deltas', async () => {
  const c = new Client({ connectionString: pg.url });
  await c.connect();
  try {
    await workload(c, 20);
    const t0 = Date.now();
    await sc.sampleNow();
    const a = await pgss();
    await workload(c, 40);
    await sc.sampleNow();
    const b = await pgss();
    // the two statement samples the deltas lie between: a rate divides by their distance, not by the step
    const pair = sc.sidecar.store.samples('default', 'statements', t0, Date.now()).filter((x) => x.ok);
    const sampledS = (pair[pair.length - 1].ts - pair[0].ts) / 1000;
    const vectorIds = b.filter((r) => /ORDER BY embedding <[-=]>/.test(r.query)).map((r) => r.queryid);
    assert.equal(vectorIds.length, 2, JSON.stringify(b.map((r) => r.query)));

    const res = await sc.query({
      from: t0 - 1000,
      to: Date.now() + 1000,
      intervalMs: 3_600_000,
      queries: [
        { refId: 'A', metric: 'vector_query_latency' },
        { refId: 'B', metric: 'vector_calls' },
        { refId: 'C', metric: 'vector_queries' },
      ],
    });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const lat = res.json.results.A.frames as any[];
    const step = lat[0].schema.meta.custom.stepMs / 1000;
    const only = (f: any) => (f.data.values[1] as Array<number | null>).filter((v) => v !== null) as number[];
    const truth = new Map<string, { calls: number; total: number }>();
    for (const id of vectorIds) {
      const x = a.find((r) => r.queryid === id) as Pgss;
      const y = b.find((r) => r.queryid === id) as Pgss;
      truth.set(id, { calls: y.calls - x.calls, total: y.total - x.total });
    }
    const perQuery = lat.filter((f) => f.schema.fields[1].labels.queryid);
    assert.deepEqual(
      perQuery.map((f) => f.schema.fields[1].labels.queryid).sort(),
      [...vectorIds].sort(),
      'exactly the two vector statements'
    );
    for (const f of perQuery) {
      const t = truth.get(f.schema.fields[1].labels.queryid)!;
      const v = only(f);
      // one sample pair: one step, or two when the pair straddles a step edge (same mean in both)
      assert.ok(v.length >= 1 && v.length <= 2, JSON.stringify(v));
      for (const x of v) {
        assert.ok(Math.abs(x - t.total / t.calls) < 1e-9, `mean ${x} vs ${t.total / t.calls}`);
      }
    }
    const all = lat.find((f) => f.schema.fields[1].labels.query === 'all vector queries');
    const sumCalls = [...truth.values()].reduce((s, t) => s + t.calls, 0);
    const sumTotal = [...truth.values()].reduce((s, t) => s + t.total, 0);
    assert.ok(Math.abs(only(all)[0] - sumTotal / sumCalls) < 1e-9);

    const calls = res.json.results.B.frames as any[];
    const allCalls = calls.find((f) => f.schema.fields[1].labels.query === 'all vector queries');
    assert.ok(step >= 3600, 'the step is far longer than the samples are apart');
    assert.ok(
      Math.abs(only(allCalls)[0] - sumCalls / sampledS) < 1e-9,
      `calls/s ${only(allCalls)[0]} vs ${sumCalls / sampledS} (Δcalls / time between the samples)`
    );

    const t = res.json.results.C.frames[0];
    const names = t.schema.fields.map((x: any) => x.name);
    const col = (n: string) => t.data.values[names.indexOf(n)] as any[];
    assert.deepEqual([...col('operator')].sort(), ['<->', '<=>']);
    const filteredAt = col('filters').indexOf('category');
    assert.ok(filteredAt >= 0);
    assert.match(col('advice')[filteredAt], /no ANN index on items\.embedding/);
    assert.match(col('explain')[0], /needs PostgreSQL 16\+/);
    assert.deepEqual([...col('k')].sort(), ['param', 'param'], 'pg_stat_statements normalizes LIMIT 5 to $n');
  } finally {
    await c.end();
  }
});
