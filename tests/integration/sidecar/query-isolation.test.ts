/**
 * Query computation is bounded and kept off the sampler's event loop: a bounded queue refuses what
 * would only wait (429 + Retry-After, per-refId 429 on gRPC), a request over its budget is answered
 * per refId with the limit that stopped it, a request whose client went away is never computed, and
 * answers through the query worker equal the main thread's own computation.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from 'pg';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { advisorRuntime } from '../../../src/sidecar/advisors';
import { gatherEvidence, type AdvisorEvidence } from '../../../src/sidecar/advisors/evaluate';
import { QueryPool, QueryRefused, queryPoolOptions } from '../../../src/sidecar/engine/query-pool';
import { sidecarFeatures } from '../../../src/sidecar/features';
import { PluginClient, dataQuery, pluginContext } from '../grafana/grpc-client';

let pg: TestPostgres;
let sc: TestSidecar;

const env = (over: Record<string, string>) => ({ ...process.env, ...over });

before(async () => {
  pg = await startPostgres();
  // an application role's statements (pgpulse leaves out its own role's)
  await pg.query(
    'CREATE ROLE app LOGIN; CREATE TABLE iso (v int); INSERT INTO iso SELECT generate_series(1, 100); GRANT SELECT ON iso TO app'
  );
  const app = new Client({ connectionString: pg.urlFor('postgres', 'app') });
  await app.connect();
  for (let i = 0; i < 30; i++) {
    await app.query(`SELECT count(*) FROM iso WHERE v > ${i}`);
    await app.query(`SELECT sum(v) FROM iso WHERE v < ${i}`);
  }
  await app.end();
  sc = await startTestSidecar({
    url: pg.url,
    extra: { env: env({ PGPULSE_QUERY_QUEUE: '1', PGPULSE_QUERY_WORKERS: '1' }) },
  });
  for (let i = 0; i < 3; i++) {
    await sc.sampleNow();
  }
});
after(async () => {
  await sc?.destroy();
  await pg?.destroy();
});

const range = () => ({ from: Date.now() - 3_600_000, to: Date.now() });
const heavy = () => ({ ...range(), queries: ['A', 'B', 'C', 'D'].map((refId) => ({ refId, metric: 'top_queries' })) });

test('answers computed by the query worker equal the main thread computation', async () => {
  const { from, to } = range();
  const metrics = ['tps', 'cache_hit_ratio', 'top_queries', 'table_stats', 'connections'];
  const r = await sc.query({
    from,
    to,
    maxDataPoints: 200,
    queries: metrics.map((metric, i) => ({ refId: String.fromCharCode(65 + i), metric })),
  });
  assert.equal(r.status, 200);
  const svc = sc.sidecar.service;
  metrics.forEach((metric, i) => {
    const refId = String.fromCharCode(65 + i);
    const local = svc.engine.run({
      query: { refId, metric, target: 'default' } as never,
      range: { from, to },
      maxDataPoints: 200,
      targetIntervalMs: 1000,
    });
    const got = r.json.results[refId];
    assert.equal(got.status, 200, `${metric}: ${got.error}`);
    assert.deepEqual(
      got.frames.map((f: any) => f.data.values),
      local.frames.map((f) => f.fields.map((x) => x.values)),
      `${metric}: same values as computed in-process`
    );
  });
  assert.ok(sc.sidecar.service.queries.stats().workers >= 1, 'a query worker answered');
});

test('the advisor reads the history in the query worker, the same evidence the main thread reads, even with a full queue', async () => {
  const svc = sc.sidecar.service;
  const now = Date.now();
  const options = { windowMs: 3_600_000 };
  const tasks = svc.queries.stats().tasks;
  const retired = svc.queries.stats().retired;
  const fromWorker = await svc.queries.offload<AdvisorEvidence>({
    kind: 'advisor-evidence',
    target: 'default',
    now,
    options,
  });
  assert.equal(svc.queries.stats().tasks, tasks + 1, 'a worker answered the task');
  // … and was ended, so the heap that read took goes back to the system
  assert.equal(svc.queries.stats().retired, retired + 1);
  const local = gatherEvidence(sc.sidecar.store, 'default', now, options);
  assert.ok(
    // three samples a moment apart: a first run, read from lifetime counters
    (local.lifetime?.statements ?? []).some((s) => s.text?.includes('FROM iso')),
    'the app role’s statements are part of the evidence'
  );
  assert.deepEqual(fromWorker, local);
  // the sidecar's own evaluation goes the same way (PGPULSE_QUERY_QUEUE is 1 here: not refused)
  const ev = await advisorRuntime(sc.sidecar)!.evaluate('default', options);
  assert.equal(svc.queries.stats().tasks, tasks + 2, 'the runtime read its evidence in the worker');
  assert.equal(svc.queries.stats().retired, retired + 2, 'a fresh worker each time');
  assert.equal(ev.target, 'default');
});

test('a query worker idle for PGPULSE_QUERY_WORKER_IDLE_MS is ended; the next request starts a fresh one', async () => {
  assert.equal(queryPoolOptions({}).idleMs, 300_000, 'default: 5 minutes');
  assert.equal(queryPoolOptions({ PGPULSE_QUERY_WORKER_IDLE_MS: '0' }).idleMs, 0);
  assert.throws(() => queryPoolOptions({ PGPULSE_QUERY_WORKER_IDLE_MS: 'soon' }), /PGPULSE_QUERY_WORKER_IDLE_MS/);
  const svc = sc.sidecar.service;
  const pool = new QueryPool(
    sc.sidecar.store,
    svc.engine,
    { ...queryPoolOptions({}), idleMs: 300 },
    sidecarFeatures.map((f) => f.name)
  );
  const { from, to } = range();
  const ask = () =>
    pool.run([
      {
        query: { refId: 'A', metric: 'tps', target: 'default' } as never,
        range: { from, to },
        maxDataPoints: 100,
        targetIntervalMs: 1000,
      },
    ]);
  const expected = svc.engine.run({
    query: { refId: 'A', metric: 'tps', target: 'default' } as never,
    range: { from, to },
    maxDataPoints: 100,
    targetIntervalMs: 1000,
  });
  assert.ok(expected.frames.length > 0 && expected.frames[0].fields.length > 0, 'tps has a series to compare');
  try {
    const first = await ask();
    assert.equal(pool.stats().workers, 1, 'a worker answered');
    // a request while it is there does not end it early: it stays busy, then idles again
    await ask();
    assert.equal(pool.stats().idled, 0);
    for (let i = 0; i < 100 && pool.stats().workers > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(pool.stats(), { ...pool.stats(), workers: 0, idled: 1, retired: 0 }, 'ended for idling');
    const again = await ask();
    assert.equal(pool.stats().workers, 1, 'a fresh worker answered');
    for (const answers of [first, again]) {
      assert.deepEqual(
        answers[0].response.frames.map((f: any) => f.fields.map((x: any) => x.values)),
        expected.frames.map((f) => f.fields.map((x) => x.values))
      );
    }
  } finally {
    await pool.close();
  }
});

test('a queued advisor task neither fills the request queue nor goes before a waiting request', async () => {
  const svc = sc.sidecar.service;
  assert.equal(svc.queries.options.workers, 1, 'one worker: the order below is the queue order');
  const done: string[] = [];
  // one request computing, then a background task and a request waiting (the queue holds 1 request)
  const a = svc.query(heavy(), {}).then(() => done.push('request a'));
  const task = svc.queries
    .offload<AdvisorEvidence>({
      kind: 'advisor-evidence',
      target: 'default',
      now: Date.now(),
      options: { windowMs: 3_600_000 },
    })!
    .then(() => done.push('task'));
  const b = svc.query(heavy(), {}).then(() => done.push('request b'));
  await Promise.all([a, task, b]);
  assert.deepEqual(done, ['request a', 'request b', 'task']);
});

test('a full queue refuses at once with 429, Retry-After and the reason (service, HTTP and gRPC)', async () => {
  const svc = sc.sidecar.service;
  // decided synchronously: one request computing, one waiting (the queue holds 1), the third refused
  const a = svc.query(heavy(), {});
  const b = svc.query(heavy(), {});
  const c = svc.query(heavy(), {});
  await assert.rejects(
    c,
    (e: unknown) =>
      e instanceof QueryRefused &&
      e.status === 429 &&
      e.retryAfterSeconds >= 1 &&
      /busy/.test(e.message) &&
      /PGPULSE_QUERY_QUEUE/.test(e.message)
  );
  await Promise.all([a, b]);

  // over the wire: many at once; each is answered in full or refused with the reason, none hangs or resets
  const replies = await Promise.all(
    Array.from({ length: 24 }, async () => {
      const res = await fetch(sc.baseUrl + '/api/v1/query', {
        method: 'POST',
        headers: { authorization: `Bearer ${sc.token}` },
        body: JSON.stringify(heavy()),
      });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), json: (await res.json()) as any };
    })
  );
  const refused = replies.filter((r) => r.status === 429);
  assert.ok(refused.length > 0, 'with a queue of 1, some of 24 simultaneous requests are refused');
  for (const r of replies) {
    if (r.status === 429) {
      assert.ok(Number(r.retryAfter) >= 1, 'Retry-After says when');
      assert.match(r.json.error, /busy.*retry in \d+ s/);
    } else {
      assert.equal(r.status, 200);
      assert.equal(r.json.results.A.status, 200);
    }
  }
  const metrics = await sc.get('/metrics');
  assert.match(metrics.text, /pgpulse_query_refused_total\{status="429"\} [1-9]/);

  const client = new PluginClient(sc.grpcAddress);
  try {
    const { from, to } = range();
    const queries = ['A', 'B', 'C', 'D'].map((refId) => dataQuery(refId, { metric: 'top_queries' }, from, to));
    const answers = await Promise.all(
      Array.from({ length: 24 }, () =>
        client.unary(client.data, 'QueryData', { pluginContext: pluginContext(sc.token), queries })
      )
    );
    let busy = 0;
    for (const r of answers) {
      for (const refId of ['A', 'B', 'C', 'D']) {
        const a = r.responses[refId];
        if (a.status === 429) {
          busy++;
          assert.match(a.error, /busy.*retry in \d+ s/);
        } else {
          assert.equal(a.status, 200, a.error);
        }
      }
    }
    assert.ok(busy > 0, 'some refIds of 24 simultaneous QueryData calls are told the sidecar is busy');
  } finally {
    client.close();
  }
});

test('a client that goes away is not computed for', async () => {
  const svc = sc.sidecar.service;
  const before = svc.queries.stats().cancelled;
  const gone = new AbortController();
  const a = svc.query(heavy(), {});
  const b = svc.query(heavy(), { signal: gone.signal });
  gone.abort();
  await assert.rejects(b, (e: unknown) => e instanceof QueryRefused && e.status === 499);
  await a;
  assert.equal(svc.queries.stats().cancelled, before + 1);
});

test('a request over its budget is answered per refId with the limit that stopped it', async () => {
  const small = await startTestSidecar({
    url: pg.url,
    dataDir: sc.dataDir + '-budget',
    // top_queries reads two points per statement for each of the two fields that rank them: a
    // dozen statements are more than that
    extra: { env: env({ PGPULSE_QUERY_MAX_POINTS: '12' }) },
  });
  try {
    for (let i = 0; i < 3; i++) {
      await small.sampleNow();
    }
    const stored = small.sidecar.store.db
      .prepare("SELECT count(*) AS n FROM point p JOIN series s ON s.id = p.series_id WHERE s.collector = 'statements'")
      .get() as { n: number };
    assert.ok(stored.n > 12, `${stored.n} statement points stored: more than the budget`);
    const r = await small.query(heavy());
    assert.equal(r.status, 200);
    for (const refId of ['A', 'B', 'C', 'D']) {
      assert.equal(r.json.results[refId].status, 413, refId);
      assert.match(
        r.json.results[refId].error,
        /query budget exceeded: this request read more than 12 stored points.*narrow the time range.*PGPULSE_QUERY_MAX_POINTS/
      );
    }
    // a small query in its own request is answered
    const ok = await small.query({ ...range(), queries: [{ refId: 'A', metric: 'connections' }] });
    assert.equal(ok.json.results.A.status, 200);
  } finally {
    await small.destroy();
  }
});
