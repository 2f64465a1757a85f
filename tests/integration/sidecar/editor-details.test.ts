/**
 * What Grafana's editor and panels show, from a real sidecar on plain PostgreSQL 15: ratio axes
 * bounded to 0–100 %, one style of column title in tables, and a "Save & test" banner that does
 * not list pgvector and Neon as problems where they are simply not installed.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';

let pg: TestPostgres;
let sc: TestSidecar;

before(async () => {
  pg = await startPostgres();
  await pg.query(
    'CREATE TABLE orders (id int PRIMARY KEY, customer int); INSERT INTO orders SELECT g, g FROM generate_series(1, 100) g'
  );
  sc = await startTestSidecar({ url: pg.url });
  await sc.sampleNow();
  await new Promise((r) => setTimeout(r, 1100));
  await sc.sampleNow();
});

after(async () => {
  await sc?.destroy();
  await pg?.destroy();
});

it('ratio series carry min 0 and max 1, so the axis is 0–100 %', async () => {
  const r = await sc.query({
    from: 'now-1h',
    to: 'now',
    queries: [
      { refId: 'A', metric: 'cache_hit_ratio' },
      { refId: 'B', metric: 'tps' },
    ],
  });
  const value = r.json.results.A.frames[0].schema.fields[1];
  assert.equal(value.config.unit, 'percentunit');
  assert.equal(value.config.min, 0);
  assert.equal(value.config.max, 1);
  assert.equal(r.json.results.B.frames[0].schema.fields[1].config.max, undefined, 'rates are unbounded');
});

it('every table column has a display name ("Live tuples", not live_tuples)', async () => {
  const r = await sc.query({
    from: 'now-1h',
    to: 'now',
    queries: [
      { refId: 'A', metric: 'table_stats' },
      { refId: 'B', metric: 'index_usage' },
      { refId: 'C', metric: 'top_queries' },
    ],
  });
  for (const refId of ['A', 'B', 'C']) {
    const fields = r.json.results[refId].frames[0].schema.fields as Array<{
      name: string;
      config?: { displayName?: string };
    }>;
    for (const f of fields) {
      assert.ok(f.config?.displayName, `${refId}.${f.name} has no display name`);
      assert.ok(!f.config.displayName.includes('_'), `${refId}.${f.name}: "${f.config.displayName}"`);
    }
  }
  const a = r.json.results.A.frames[0].schema.fields as Array<{ name: string; config: { displayName: string } }>;
  assert.equal(a.find((f) => f.name === 'live_tuples')?.config.displayName, 'Live tuples');
  assert.equal(a.find((f) => f.name === 'seq_scans')?.config.displayName, 'Seq scans in range');
});

it('Save & test on plain PostgreSQL: pgvector and Neon are not listed as problems', async () => {
  const h = await sc.get('/api/v1/health');
  const [{ n }] = await pg.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_extension WHERE extname IN ('vector', 'neon')"
  );
  assert.equal(n, 0);
  assert.equal(h.json.status, 'ok');
  assert.doesNotMatch(h.json.message, /vector|neon/i, h.json.message);
  assert.equal(h.json.details.extensions.vector.installed, false, 'still reported in the details, with its hint');
  assert.match(h.json.details.extensions.vector.hint, /CREATE EXTENSION vector/);
});
