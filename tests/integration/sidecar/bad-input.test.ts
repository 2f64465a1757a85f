/**
 * Bad input gets a clear 4xx naming the problem; nothing crashes; other queries still answer.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';

let pg: TestPostgres;
let sc: TestSidecar;

before(async () => {
  pg = await startPostgres();
  sc = await startTestSidecar({ url: pg.url });
  await sc.sampleNow();
});
after(async () => {
  await sc?.destroy();
  await pg?.destroy();
});

const post = async (body: string, token: string | null = sc.token) => {
  const res = await fetch(sc.baseUrl + '/api/v1/query', {
    method: 'POST',
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body,
  });
  return { status: res.status, json: (await res.json()) as any };
};

test('missing or wrong token → 401, and /healthz needs none', async () => {
  assert.equal((await sc.get('/api/v1/catalog', null)).status, 401);
  const wrong = await sc.get('/api/v1/catalog', 'nope');
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.error, 'invalid token');
  assert.equal((await sc.get('/metrics', null)).status, 401);
  assert.equal((await post('{}', null)).status, 401);
  assert.equal((await sc.get('/healthz', null)).status, 200);
});

test('body that is not JSON, empty, or without queries → 400 saying so', async () => {
  let r = await post('{not json');
  assert.equal(r.status, 400);
  assert.match(r.json.error, /not valid JSON/);
  r = await post('');
  assert.equal(r.status, 400);
  assert.match(r.json.error, /empty/);
  r = await post('{"from":"now-1h","to":"now"}');
  assert.equal(r.status, 400);
  assert.match(r.json.error, /queries must be a non-empty array/);
  r = await post('[1,2]');
  assert.equal(r.status, 400);
});

test('inverted, absurd and unparseable ranges are refused per query with the reason', async () => {
  let r = await sc.query({ from: Date.now(), to: Date.now() - 3_600_000, queries: [{ refId: 'A', metric: 'tps' }] });
  assert.equal(r.status, 200);
  assert.equal(r.json.results.A.status, 400);
  assert.match(r.json.results.A.error, /inverted/);
  r = await sc.query({ from: 0, to: Date.now(), queries: [{ refId: 'A', metric: 'tps' }] });
  assert.match(r.json.results.A.error, /too long/);
  r = await sc.query({ from: 'yesterday-ish', to: 'now', queries: [{ refId: 'A', metric: 'tps' }] });
  assert.equal(r.status, 400);
  assert.match(r.json.error, /from: expected epoch milliseconds/);
  r = await sc.query({ from: 'now-1h', to: 'now', maxDataPoints: -5, queries: [{ refId: 'A', metric: 'tps' }] });
  assert.equal(r.status, 400);
  assert.match(r.json.error, /maxDataPoints/);
});

test('unknown metric and wrong option types name the field; the good query still answers', async () => {
  const r = await sc.query({
    from: 'now-1h',
    to: 'now',
    queries: [
      { refId: 'A', metric: 'no_such_metric' },
      { refId: 'B', metric: 'top_queries', topN: 'ten' },
      { refId: 'C', metric: 'top_queries', orderBy: 'DROP TABLE x' },
      { refId: 'D', metric: 'tps' },
      { refId: 'E' },
      { refId: 'F', metric: 'statement_latency', queryid: '1; DROP TABLE users --' },
      { refId: 'G', metric: 'tps', target: 'nowhere' },
      { refId: 'H', metric: 'slow_statements', threshold: -1 },
    ],
  });
  assert.equal(r.status, 200);
  const res = r.json.results;
  assert.match(res.A.error, /unknown metric "no_such_metric".*catalog/);
  assert.match(res.B.error, /topN: expected number, got string/);
  assert.match(res.C.error, /orderBy: must be one of/);
  assert.equal(res.D.error, undefined);
  assert.equal(res.D.status, 200);
  assert.match(res.E.error, /metric/);
  assert.match(res.F.error, /queryid must be an integer/);
  assert.equal(res.G.status, 404);
  assert.match(res.G.error, /unknown target "nowhere".*default/);
  assert.match(res.H.error, /threshold must not be negative/);
  for (const k of Object.keys(res).filter((k) => k !== 'D')) {
    assert.ok(res[k].status >= 400 && res[k].status < 500, `${k} is a client error (${res[k].status})`);
  }
});

test('unknown routes and resources say what exists', async () => {
  const r = await sc.get('/api/v2/nothing');
  assert.equal(r.status, 404);
  assert.match(r.json.error, /\/api\/v1\/query/);
  const res = await sc.get('/api/v1/resources/passwords');
  assert.equal(res.status, 404);
  assert.match(res.json.error, /available are .*catalog/);
});

test('an unreachable target: clear health message, and a query with no history says why instead of an empty 200', async () => {
  const dead = await startTestSidecar({
    targets: [{ name: 'gone', url: 'postgres://postgres:secretpw@127.0.0.1:1/postgres' }],
  });
  try {
    await dead.sampleNow('gone');
    const h = await dead.get('/api/v1/health');
    assert.equal(h.json.status, 'error');
    assert.match(h.json.message, /connection refused/);
    assert.doesNotMatch(JSON.stringify(h.json), /secretpw/);
    const q = await dead.query({ from: 'now-1h', to: 'now', queries: [{ refId: 'A', metric: 'tps' }] });
    // no history to answer from: the panel must show the cause, not "No data"
    assert.match(q.json.results.A.error, /target gone unreachable since \d{4}-.*connection refused/);
    assert.equal(q.json.results.A.status, 503);
    assert.doesNotMatch(JSON.stringify(q.json), /secretpw/);
    const m = await dead.get('/metrics');
    assert.match(m.text, /pgpulse_target_up\{target="gone"\} 0/);
    assert.doesNotMatch(m.text, /secretpw/);
  } finally {
    await dead.destroy();
  }
});

test('/metrics exposes collector cost and the catalog as Prometheus families', async () => {
  await sc.sampleNow();
  const m = await sc.get('/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text, /pgpulse_collector_duration_seconds_count\{target="default",collector="database"\}/);
  assert.match(m.text, /pgpulse_store_points_written_total/);
  assert.match(m.text, /^pgpulse_database_size_bytes\{target="default",datname="postgres"\} \d+$/m);
  assert.match(m.text, /^# TYPE pgpulse_database_xact_commit_total counter$/m);
  assert.match(m.text, /^pgpulse_process_resident_memory_bytes \d+$/m);
  assert.match(m.text, /^pgpulse_sampling_cycle_duration_seconds_count\{target="default"\} [1-9]/m);
});

test('times past the Date range and an out-of-range pid → 4xx naming the field, not 500/502', async () => {
  const r = await post(JSON.stringify({ from: 1e300, to: 'now', queries: [{ refId: 'A', metric: 'tps' }] }));
  assert.equal(r.status, 400);
  assert.match(r.json.error, /^from: 1e\+300 is outside the range of a time/);
  const r2 = await post(
    JSON.stringify({ from: 'now-1h', to: '99999999999999999', queries: [{ refId: 'A', metric: 'tps' }] })
  );
  assert.equal(r2.status, 400);
  assert.match(r2.json.error, /^to: /);
  const ev = await sc.get('/api/v1/resources/events?from=99999999999999999');
  assert.equal(ev.status, 400);
  assert.match(ev.json.error, /^from: "99999999999999999" is outside the range of a time/);
  const res = await fetch(`${sc.baseUrl}/api/v1/resources/actions?target=default`, {
    method: 'POST',
    headers: { authorization: `Bearer ${sc.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ action: 'cancel', pid: 2147483648, dryRun: true }),
  });
  const body = (await res.json()) as { error?: string; message?: string };
  assert.equal(res.status, 400, JSON.stringify(body));
  assert.match(JSON.stringify(body), /pid must be a process id between 1 and 2147483647/);
});
