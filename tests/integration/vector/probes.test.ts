/**
 * Active probes on real pgvector (PGlite 0.3 / pgvector 0.8.0 over the wire): 20,000 clustered
 * 128-dimension vectors, an HNSW index, probes at a sweep of ef_search. The recall the sidecar
 * reports must equal the recall this test computes itself for the same query vectors (exact
 * neighbours by brute force in JS, ANN answers by running the same query), each reported interval
 * must contain its estimate, the sample must be spread over the whole table and no query vector
 * may be a stored vector, and a run must stay inside its budget. (Interval coverage against the
 * table's true recall is tested on the real server: tests/integration/vector/pg18-vector.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from 'pg';
import { startPglite, type TestPglite } from '../../support/pglite';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { clustered, exactTopK, toSql } from './dataset';
import { lastProbeRuns } from '../../../src/sidecar/vector/collectors';

const N = 20_000;
const DIMS = 128;
const K = 10;
const SWEEP = [10, 20, 40, 80, 160, 320];
let pg: TestPglite;
let sc: TestSidecar;
let vecs: Float32Array[];
const ids: number[] = [];

before(async () => {
  pg = await startPglite();
  vecs = clustered(N, DIMS, 50);
  await pg.db.exec('CREATE TABLE items (id int PRIMARY KEY, category int, embedding vector(128))');
  for (let s = 0; s < N; s += 1000) {
    await pg.db.exec(
      `INSERT INTO items VALUES ${vecs
        .slice(s, s + 1000)
        .map((v, i) => `(${s + i + 1}, ${(s + i) % 10}, '${toSql(v)}')`)
        .join(',')}`
    );
  }
  for (let i = 0; i < N; i++) {
    ids.push(i + 1);
  }
  // small m / ef_construction so low ef_search settings miss neighbours and the sweep shows it
  await pg.db.exec(
    'CREATE INDEX items_hnsw ON items USING hnsw (embedding vector_l2_ops) WITH (m = 8, ef_construction = 32)'
  );
  await pg.db.exec('ANALYZE items');
  sc = await startTestSidecar({
    targets: [
      {
        name: 'default',
        url: pg.url,
        statementTimeoutMs: 10_000,
        vector: {
          probes: { enabled: true, sampleSize: 30, k: K, sweep: SWEEP, budget: '120s', statementTimeout: '20s' },
        },
      },
    ],
    grpc: false,
  });
});

after(async () => {
  await sc?.destroy();
  await pg?.stop();
});

test('probe recall equals the independently computed recall, and does not fall as ef_search rises', async () => {
  await sc.sampleNow();
  const probes = sc.sidecar.store.entities('default', 'vector_probe', { object: 'probe', indexrelname: 'items_hnsw' });
  assert.equal(probes.length, SWEEP.length + 1, `one row per setting: ${JSON.stringify(probes.map((p) => p.labels))}`);
  const ctids = probes[0].info.queries as string[];
  assert.equal(ctids.length, 30);
  const run = lastProbeRuns.get('default')!;
  const probe = run.probes.find((p) => p.index.indexrelname === 'items_hnsw')!;
  assert.equal(probe.queryMethod, 'moved');
  assert.equal(probe.queryVectors.length, 30);

  const c = new Client({ connectionString: pg.url });
  await c.connect();
  let frames: any[] = [];
  try {
    // uniform over the table: sampled heap pages reach past the middle of the table (all 30 in the
    // first half has probability 2^-30 for a uniform sample; the old sample took the first pages)
    const pages = (await c.query(`SELECT pg_relation_size('items') / current_setting('block_size')::int AS n`)).rows[0]
      .n as number;
    const sampledPages = ctids.map((ct) => Number(ct.slice(1).split(',')[0]));
    assert.ok(
      Math.max(...sampledPages) > pages / 2 && Math.min(...sampledPages) < pages / 2,
      `sampled pages ${JSON.stringify(sampledPages)} of ${pages}`
    );
    // no query vector is a stored vector: each was moved by its nearest-neighbour distance
    const stored = new Set(vecs.map((v) => toSql(v)));
    for (const q of probe.queryVectors) {
      assert.ok(q.movedBy !== null && q.movedBy > 0, JSON.stringify(q.movedBy));
      assert.ok(!stored.has(q.q));
    }
    const qv = probe.queryVectors.map((q) => Float32Array.from(JSON.parse(q.q) as number[]));
    const exact = qv.map((v) => new Set(exactTopK(v, ids, vecs, K)));
    const ours = new Map<string, number>();
    for (const s of ['default', ...SWEEP.map(String)]) {
      let sum = 0;
      for (let qn = 0; qn < qv.length; qn++) {
        await c.query('BEGIN');
        await c.query('SET LOCAL enable_seqscan = off');
        if (s !== 'default') {
          await c.query(`SET LOCAL hnsw.ef_search = ${s}`);
        }
        const got = (
          await c.query(`SELECT id FROM items ORDER BY embedding <-> $1::vector LIMIT ${K}`, [toSql(qv[qn])])
        ).rows.map((r) => r.id as number);
        await c.query('COMMIT');
        sum += got.filter((id) => exact[qn].has(id)).length / K;
      }
      ours.set(s, sum / qv.length);
    }
    const res = await sc.query({
      from: Date.now() - 60_000,
      to: Date.now() + 1000,
      queries: [{ refId: 'A', metric: 'vector_recall_sweep', index: 'items_hnsw' }],
    });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    frames = res.json.results.A.frames as any[];
    assert.equal(frames.length, 3 * (SWEEP.length + 1), 'estimate, lower and upper per setting');
    const reported = new Map<string, number>();
    const bounds = new Map<string, number>();
    for (const f of frames) {
      const labels = f.schema.fields[1].labels;
      if (labels.bound !== 'estimate') {
        const v = (f.data.values[1] as Array<number | null>).filter((x) => x !== null).pop() as number;
        bounds.set(`${labels.ef_search}/${labels.bound}`, v);
        continue;
      }
      assert.equal(labels.index, 'items_hnsw');
      assert.equal(labels.k, String(K));
      const vals = (f.data.values[1] as Array<number | null>).filter((v) => v !== null) as number[];
      assert.ok(vals.length > 0, `a recall value for ef_search=${labels.ef_search}`);
      reported.set(labels.ef_search, vals[vals.length - 1]);
    }
    for (const [s, r] of ours) {
      assert.ok(
        Math.abs((reported.get(s) as number) - r) < 1e-9,
        `ef_search=${s}: reported ${reported.get(s)} vs independent ${r}`
      );
      const lo = bounds.get(`${s}/lower`) as number;
      const hi = bounds.get(`${s}/upper`) as number;
      assert.ok(lo <= r && r <= hi && hi - lo > 0, `ef_search=${s}: interval [${lo}, ${hi}] around ${r}`);
    }
    const curve = SWEEP.map((v) => reported.get(String(v)) as number);
    for (let i = 1; i < curve.length; i++) {
      assert.ok(curve[i] >= curve[i - 1], `recall must not fall as ef_search rises: ${JSON.stringify(curve)}`);
    }
    assert.ok(
      curve[0] < 1,
      `the smallest ef_search should miss some neighbours on this index: ${JSON.stringify(curve)}`
    );
  } finally {
    await c.end();
  }

  // latency series: p50 ≤ p95 ≤ p99 per setting, labelled for alerting
  const lat = await sc.query({
    from: Date.now() - 60_000,
    to: Date.now() + 1000,
    queries: [{ refId: 'A', metric: 'vector_probe_latency', efSearch: 40 }],
  });
  const lf = lat.json.results.A.frames as any[];
  assert.equal(lf.length, 3);
  const last = (f: any) => (f.data.values[1] as Array<number | null>).filter((v) => v !== null).pop() as number;
  const byQ = Object.fromEntries(lf.map((f) => [f.schema.fields[1].labels.quantile, last(f)]));
  assert.ok(byQ.p50 > 0 && byQ.p50 <= byQ.p95 && byQ.p95 <= byQ.p99, JSON.stringify(byQ));
  assert.equal(lf[0].schema.meta.type, 'timeseries-multi');

  // the alertable series: the session default only, unless efSearch picks a swept value
  const rec = await sc.query({
    from: Date.now() - 60_000,
    to: Date.now() + 1000,
    queries: [
      { refId: 'A', metric: 'vector_recall' },
      { refId: 'B', metric: 'vector_recall', efSearch: 80 },
      { refId: 'C', metric: 'vector_probe_latency' },
    ],
  });
  assert.deepEqual(
    rec.json.results.A.frames.map((f: any) => f.schema.fields[1].labels.ef_search),
    ['default']
  );
  assert.deepEqual(
    rec.json.results.B.frames.map((f: any) => f.schema.fields[1].labels.ef_search),
    ['80']
  );
  assert.deepEqual(
    rec.json.results.C.frames.map((f: any) => [
      f.schema.fields[1].labels.ef_search,
      f.schema.fields[1].labels.quantile,
    ]),
    [
      ['default', 'p50'],
      ['default', 'p95'],
      ['default', 'p99'],
    ]
  );
  // what the p95 alert rule asks for: exactly one series, the same numbers as in the full answer
  const p95 = await sc.query({
    from: Date.now() - 60_000,
    to: Date.now() + 1000,
    queries: [{ refId: 'A', metric: 'vector_probe_latency', efSearch: 40, quantile: 'p95' }],
  });
  const pf = p95.json.results.A.frames as any[];
  assert.deepEqual(
    pf.map((f) => f.schema.fields[1].labels.quantile),
    ['p95']
  );
  assert.equal(last(pf[0]), byQ.p95);

  // the index table: health facts from the catalog and the smallest ef_search reaching 0.95
  const tbl = await sc.query({
    from: Date.now() - 60_000,
    to: Date.now() + 1000,
    queries: [{ refId: 'A', metric: 'vector_indexes' }],
  });
  const fields = tbl.json.results.A.frames[0].schema.fields.map((f: any) => f.name);
  const vals = tbl.json.results.A.frames[0].data.values;
  const col = (n: string) => vals[fields.indexOf(n)][0];
  assert.equal(col('index'), 'items_hnsw');
  assert.equal(col('dims'), DIMS);
  assert.equal(col('m'), 8);
  assert.equal(col('ef_construction'), 32);
  assert.equal(col('operator'), '<->');
  assert.equal(col('rows'), N);
  // the advised setting is the run's (hysteresis) advice, and its 99 % interval clears the target
  const best = col('best_ef_search') as number | null;
  assert.equal(best, probe.advice?.value ?? null);
  const est = (v: number) => probe.settings.find((x) => x.setting === v)!.recall!;
  if (best !== null) {
    assert.ok(est(best).lower >= 0.95, JSON.stringify(est(best)));
  }

  // the XY-chart frame: one row per value, the same numbers as the sweep series, the advice as notice
  const cur = await sc.query({
    from: Date.now() - 60_000,
    to: Date.now() + 1000,
    queries: [{ refId: 'A', metric: 'vector_recall_curve' }],
  });
  const cf = cur.json.results.A.frames as any[];
  assert.equal(cf.length, 1);
  assert.equal(cf[0].schema.name, 'public.items_hnsw');
  const names = cf[0].schema.fields.map((f: any) => f.name);
  assert.deepEqual(names, ['setting', 'recall', 'recall_lower', 'recall_upper', 'p95_ms', 'p95_delta_ms']);
  assert.ok(
    cf[0].schema.fields.every((f: any) => f.type === 'number'),
    'numbers only, for an XY chart'
  );
  const cv = cf[0].data.values;
  assert.deepEqual(cv[0], SWEEP);
  SWEEP.forEach((v, i) => {
    assert.equal(cv[1][i], est(v).recall);
    assert.equal(cv[2][i], est(v).lower);
    assert.equal(cv[3][i], est(v).upper);
  });
  const notice = cf[0].schema.meta.notices.map((n: any) => n.text).join('\n');
  // one run: the advice waits for 5 pooled runs, and says so
  assert.equal(best, null);
  assert.match(notice, /no hnsw\.ef_search advice yet: collecting: 1 of 5 probe runs \(30 query vectors\)/);
  console.log(
    `# recall curve (ef_search, recall@${K} [99 % interval]): ${SWEEP.map((v) => `${v}: ${est(v).recall.toFixed(3)} [${est(v).lower.toFixed(3)}, ${est(v).upper.toFixed(3)}]`).join(', ')}; ${notice}`
  );
});

test('a small budget stops the run inside the budget and says which indexes wait', async () => {
  await pg.db.exec('CREATE TABLE more (id int PRIMARY KEY, embedding vector(128))');
  await pg.db.exec(`INSERT INTO more SELECT id, embedding FROM items WHERE id <= 5000`);
  await pg.db.exec('CREATE INDEX more_hnsw ON more USING hnsw (embedding vector_l2_ops)');
  await pg.db.exec('ANALYZE more');
  const sc2 = await startTestSidecar({
    targets: [
      {
        name: 'default',
        url: pg.url,
        vector: {
          probes: { enabled: true, sampleSize: 20, k: K, sweep: SWEEP, budget: '150ms', statementTimeout: '5s' },
        },
      },
    ],
    grpc: false,
  });
  try {
    await sc2.sampleNow();
    const run = sc2.sidecar.store.entities('default', 'vector_probe', { object: 'run' })[0];
    assert.match(String(run.info.status), /budget of 150 ms spent/);
    assert.ok((run.info.skipped as unknown[]).length >= 1, JSON.stringify(run.info));
    const sample = sc2.sidecar.store.lastSample('default', 'vector_probe');
    assert.ok(sample?.ok);
    const dur = sc2.sidecar.store.db
      .prepare(
        "SELECT value FROM point p JOIN series s ON s.id = p.series_id WHERE s.collector = 'vector_probe' AND s.field = 'duration_ms'"
      )
      .get() as { value: number };
    // statements never get a timeout beyond what is left of the budget: only per-statement overhead
    // can overshoot. The status above proves the budget stopped the run; the margin here only keeps
    // a loaded CI machine from failing a bound on wall time.
    assert.ok(dur.value <= 150 + 1000, `probe run took ${dur.value} ms against a 150 ms budget`);
  } finally {
    await sc2.destroy();
  }
});
