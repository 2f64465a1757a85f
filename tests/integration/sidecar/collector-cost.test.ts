/**
 * Index definitions (pg_get_indexdef, pg_get_expr) are read once per new index, not every
 * cycle: counted in pg_stat_statements itself.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';

let pg: TestPostgres;
let sc: TestSidecar;

before(async () => {
  pg = await startPostgres();
  await pg.query('CREATE TABLE t (id int PRIMARY KEY, a int, b int)');
  await pg.query('CREATE INDEX t_a ON t (a) WHERE a > 0');
  sc = await startTestSidecar({ url: pg.url });
});
after(async () => {
  await sc?.destroy();
  await pg?.destroy();
});

const definitionReads = async () =>
  (
    await pg.query<{ calls: string | null; rows: string | null }>(
      "SELECT sum(calls)::text AS calls, sum(rows)::text AS rows FROM pg_stat_statements WHERE query LIKE '%pg_get_indexdef(i.indexrelid)%'"
    )
  )[0];

test('definitions are read for new indexes only, and still reach index_usage', async () => {
  for (let i = 0; i < 4; i++) {
    await sc.sampleNow();
  }
  let r = await definitionReads();
  assert.equal(r.calls, '1', 'one read for the first cycle');
  assert.equal(r.rows, '2', 'both indexes described once');
  await pg.query('CREATE INDEX t_b ON t (b)');
  await sc.sampleNow();
  await sc.sampleNow();
  r = await definitionReads();
  assert.equal(r.calls, '2');
  assert.equal(r.rows, '3', 'only the new index was described');
  const res = await sc.query({
    from: Date.now() - 60_000,
    to: Date.now() + 1000,
    queries: [{ refId: 'A', metric: 'index_usage' }],
  });
  const f = res.json.results.A.frames[0];
  const names: string[] = f.schema.fields.map((x: { name: string }) => x.name);
  const defs = Object.fromEntries(
    (f.data.values[names.indexOf('index')] as string[]).map((n, i) => [
      n,
      f.data.values[names.indexOf('definition')][i],
    ])
  );
  assert.match(defs.t_a, /CREATE INDEX t_a ON public\.t USING btree \(a\) WHERE \(a > 0\)/);
  assert.match(defs.t_b, /CREATE INDEX t_b ON public\.t USING btree \(b\)/);
  assert.match(defs.t_pkey, /CREATE UNIQUE INDEX t_pkey/);
});
