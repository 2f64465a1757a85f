/**
 * The gRPC transport in front of the real sidecar service and a real PostgreSQL: hostile
 * QueryData / CallResource input never crashes the service, every refId gets an answer, and no
 * user string reaches PostgreSQL as SQL (checked in pg_stat_statements, which records every
 * statement the sidecar ran).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { tableFromIPC } from 'apache-arrow';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { PluginClient, dataQuery, pluginContext } from './grpc-client';

let pg: TestPostgres;
let side: TestSidecar;
let client: PluginClient;

const MARKERS = ['pgpulse_fuzz_marker', 'pg_sleep', 'DROP TABLE', 'etc/passwd', 'rm -rf'];
const hostile = [
  "pgpulse_fuzz_marker'; DROP TABLE pgpulse_victim; --",
  'pgpulse_fuzz_marker" OR 1=1 --',
  'public"; SELECT pg_sleep(5); --',
  "x') UNION SELECT usename FROM pg_user --",
  '../../etc/passwd',
  '$$; COPY pgpulse_victim TO PROGRAM $$rm -rf /',
  '\u0000pgpulse_fuzz_marker',
  'pgpulse_fuzz_marker'.repeat(20),
];

before(async () => {
  pg = await startPostgres();
  await pg.query('CREATE TABLE pgpulse_victim (id int)');
  side = await startTestSidecar({ url: pg.url, grpc: true });
  await side.sampleNow();
  await side.sampleNow();
  client = new PluginClient(side.grpcAddress);
});

after(async () => {
  client?.close();
  await side?.destroy();
  await pg?.destroy();
});

test('hostile filters: every refId answered, no 500, no user string executed as SQL', async () => {
  const cat = (await side.get('/api/v1/catalog')).json.metrics as Array<{ id: string; options: string[] }>;
  assert.ok(cat.length > 0);
  const to = Date.now();
  const from = to - 10 * 60_000;
  const keys = ['target', 'database', 'schema', 'table', 'index', 'queryid', 'orderBy', 'legend', 'metric'];
  let n = 0;
  for (const m of cat) {
    for (const key of keys) {
      const qs = hostile.map((h, i) =>
        dataQuery(
          `Q${n++}`,
          { metric: key === 'metric' ? h : m.id, [key]: key === 'metric' ? undefined : h, topN: 5 },
          from,
          to
        )
      );
      // wrong JSON types too
      qs.push(dataQuery(`Q${n++}`, { metric: m.id, [key]: { $ne: 1 } }, from, to));
      qs.push(dataQuery(`Q${n++}`, { metric: m.id, topN: '5; DROP TABLE pgpulse_victim', threshold: 'NaN' }, from, to));
      const r = await client.unary(client.data, 'QueryData', { pluginContext: pluginContext(side.token), queries: qs });
      for (const q of qs) {
        const a = r.responses[q.refId];
        assert.ok(a, `${m.id}/${key}: refId ${q.refId} answered`);
        assert.notEqual(a.status, 500, `${m.id}/${key}: ${a.error}`);
        if (a.error) {
          assert.ok(a.errorSource, `${m.id}/${key}: error has an errorSource`);
        }
        for (const f of a.frames) {
          tableFromIPC(f);
        } // every frame decodes
      }
    }
  }
  for (const path of ['databases', 'schemas', 'tables', 'indexes', 'queryids', 'catalog', 'targets']) {
    for (const h of hostile) {
      const params = new URLSearchParams({ target: 'default', database: h, schema: h, table: h });
      const [res] = await client.stream(client.resource, 'CallResource', {
        pluginContext: pluginContext(side.token),
        path,
        method: 'GET',
        url: `${path}?${params}`,
      });
      assert.ok(res.code < 500, `${path}: ${Buffer.from(res.body).toString().slice(0, 200)}`);
      JSON.parse(Buffer.from(res.body).toString());
    }
  }
  // the victim survives and no hostile text was ever run as a statement
  assert.deepEqual(await pg.query('SELECT count(*)::int AS n FROM pgpulse_victim'), [{ n: 0 }]);
  const ran = await pg.query<{ query: string }>('SELECT query FROM pg_stat_statements');
  for (const row of ran) {
    for (const marker of MARKERS) {
      assert.ok(!row.query.includes(marker), `a user string reached PostgreSQL: ${row.query.slice(0, 200)}`);
    }
  }
  // and the service still answers normally
  const h = await client.unary(client.diagnostics, 'CheckHealth', { pluginContext: pluginContext(side.token) });
  assert.equal(h.status, 'OK', h.message);
});
