/**
 * Quiet wrong turns answered out loud, through the HTTP API of a real sidecar on a real
 * PostgreSQL 15: a misspelled option (`topn`) and a filter naming no object come back as frame
 * notices that name the key or the object — never a silent default or an unexplained empty frame.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';

let pg: TestPostgres;
let sc: TestSidecar;

before(async () => {
  pg = await startPostgres();
  sc = await startTestSidecar({ url: pg.url });
  await sc.sampleNow();
  await new Promise((r) => setTimeout(r, 1100));
  await sc.sampleNow();
});

after(async () => {
  await sc?.destroy();
  await pg?.destroy();
});

const notices = (res: { json: any }, refId: string): string[] =>
  (res.json.results[refId].frames as Array<{ schema: { meta?: { notices?: Array<{ text: string }> } } }>).flatMap((f) =>
    (f.schema.meta?.notices ?? []).map((n) => n.text)
  );

it('an unknown option key is named, with the option it probably meant; Grafana’s own keys are not', async () => {
  const r = await sc.query({
    from: 'now-1h',
    to: 'now',
    queries: [
      { refId: 'A', metric: 'top_queries', topn: 3, order_by: 'calls' },
      {
        refId: 'B',
        metric: 'tps',
        datasource: { type: 'pgpulse-postgres-datasource', uid: 'x' },
        hide: false,
        intervalMs: 1000,
        maxDataPoints: 100,
        key: 'Q-1',
      },
    ],
  });
  assert.equal(r.status, 200);
  const a = notices(r, 'A');
  assert.ok(
    a.includes('unknown query option "topn" is ignored: did you mean "topN"? (options: see GET /api/v1/catalog)'),
    a.join(' | ')
  );
  assert.ok(
    a.some((n) => n.startsWith('unknown query option "order_by" is ignored: did you mean "orderBy"?')),
    a.join(' | ')
  );
  assert.deepEqual(
    notices(r, 'B').filter((n) => n.includes('unknown query option')),
    []
  );
});

it('a database filter that matches nothing says so', async () => {
  const r = await sc.query({
    from: 'now-1h',
    to: 'now',
    queries: [{ refId: 'A', metric: 'cache_hit_ratio', database: 'nosuchdb' }],
  });
  const a = notices(r, 'A');
  const [{ n }] = await pg.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_database WHERE datname = 'nosuchdb'"
  );
  assert.equal(n, 0);
  assert.ok(
    a.some((x) => x.includes('"nosuchdb"') && x.includes('check the spelling')),
    a.join(' | ')
  );
});
