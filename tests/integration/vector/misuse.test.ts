/**
 * Discovery and misuse checks on real pgvector (PGlite / pgvector 0.8.0): HNSW, IVFFlat and an
 * expression (halfvec) index, a vector column without an index, and vector queries that do and
 * do not use their index. PGlite cannot preload pg_stat_statements, so the test writes the
 * statement rows the statements collector would store (normalized texts with $n parameters, as
 * pg_stat_statements keeps them); classification and EXPLAIN (GENERIC_PLAN) then run for real.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startPglite, type TestPglite } from '../../support/pglite';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { clustered, toSql } from './dataset';

let pg: TestPglite;
let sc: TestSidecar;
let db = '';

const Q = {
  good: { id: '101', text: 'SELECT id FROM docs ORDER BY embedding <-> $1 LIMIT $2' },
  opMismatch: { id: '102', text: 'SELECT id FROM docs ORDER BY embedding <=> $1 LIMIT $2' },
  noLimit: { id: '103', text: 'SELECT id FROM docs ORDER BY embedding <-> $1' },
  exprMismatch: { id: '104', text: 'SELECT id FROM docs ORDER BY emb2 <-> $1 LIMIT $2' },
  exprMatch: { id: '105', text: 'SELECT id FROM docs ORDER BY emb2::halfvec(8) <-> $1 LIMIT $2' },
  unindexed: { id: '106', text: 'SELECT id FROM docs ORDER BY emb3 <=> $1 LIMIT $2' },
  filtered: { id: '107', text: 'SELECT id FROM docs WHERE category = $1 ORDER BY embedding <-> $2 LIMIT $3' },
  notVector: { id: '108', text: 'SELECT id FROM docs WHERE id = $1' },
};

before(async () => {
  pg = await startPglite();
  const v = clustered(3000, 8, 10, 7);
  await pg.db.exec(
    'CREATE TABLE docs (id int PRIMARY KEY, category int, embedding vector(8), emb2 vector(8), emb3 vector(8))'
  );
  await pg.db.exec(
    `INSERT INTO docs VALUES ${v.map((x, i) => `(${i + 1}, ${i % 50}, '${toSql(x)}', '${toSql(x)}', '${toSql(x)}')`).join(',')}`
  );
  await pg.db.exec(
    'CREATE INDEX docs_l2 ON docs USING hnsw (embedding vector_l2_ops) WITH (m = 12, ef_construction = 48)'
  );
  await pg.db.exec('CREATE INDEX docs_emb2_half ON docs USING hnsw ((emb2::halfvec(8)) halfvec_l2_ops)');
  await pg.db.exec('CREATE TABLE ivf_items (id int PRIMARY KEY, embedding vector(8))');
  await pg.db.exec(`INSERT INTO ivf_items SELECT id, embedding FROM docs`);
  await pg.db.exec('CREATE INDEX ivf_cos ON ivf_items USING ivfflat (embedding vector_cosine_ops) WITH (lists = 10)');
  await pg.db.exec('CREATE TABLE wide (id int PRIMARY KEY, e vector(1536))');
  await pg.db.exec(`INSERT INTO wide SELECT i, array_fill(i::real, ARRAY[1536])::vector FROM generate_series(1, 20) i`);
  await pg.db.exec('CREATE INDEX wide_hnsw ON wide USING hnsw (e vector_ip_ops)');
  await pg.db.exec('ANALYZE');
  db = (await pg.query<{ d: string }>('SELECT current_database() AS d'))[0].d;
  sc = await startTestSidecar({ url: pg.url, grpc: false });
  // what the statements collector stores from pg_stat_statements: texts once, counters per cycle
  const store = sc.sidecar.store;
  store.putStatementTexts(
    'default',
    Object.values(Q).map((q) => ({ queryid: q.id, text: q.text })),
    Date.now()
  );
  const t0 = Date.now() - 60_000;
  for (const [n, ts] of [
    [0, t0],
    [1, t0 + 30_000],
  ] as const) {
    store.writeSample({
      target: 'default',
      collector: 'statements',
      ts,
      ok: true,
      epoch: 1,
      rows: Object.values(Q).map((q) => ({
        key: { queryid: q.id, datname: db, username: 'app' },
        // the filtered query returns 3 rows per call: fewer than k
        values: { calls: n * 100, total_exec_time: n * 250, rows: n * 100 * (q.id === Q.filtered.id ? 3 : 10) },
      })),
    });
  }
  await sc.sampleNow();
});

after(async () => {
  await sc?.destroy();
  await pg?.stop();
});

function table(json: any): Array<Record<string, any>> {
  const f = json.results.A.frames[0];
  const names = f.schema.fields.map((x: any) => x.name);
  const n = f.data.values[0]?.length ?? 0;
  return Array.from({ length: n }, (_, i) =>
    Object.fromEntries(names.map((name: string, j: number) => [name, f.data.values[j][i]]))
  );
}

const range = () => ({ from: Date.now() - 120_000, to: Date.now() + 1000 });

test('discovery: HNSW, IVFFlat and expression indexes with their parameters, and an unindexed vector column', async () => {
  const res = await sc.query({ ...range(), queries: [{ refId: 'A', metric: 'vector_indexes' }] });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const rows = table(res.json);
  const by = (n: string) => rows.find((r) => r.index === n) as Record<string, any>;
  const facts = await pg.query<{ relname: string; size: string }>(
    "SELECT relname, pg_relation_size(oid) AS size FROM pg_class WHERE relname IN ('docs_l2', 'docs_emb2_half', 'ivf_cos', 'wide_hnsw')"
  );
  for (const f of facts) {
    assert.equal(by(f.relname).size_bytes, Number(f.size), `${f.relname} size`);
  }
  assert.deepEqual(
    [by('docs_l2').method, by('docs_l2').operator, by('docs_l2').m, by('docs_l2').ef_construction, by('docs_l2').dims],
    ['hnsw', '<->', 12, 48, 8]
  );
  assert.deepEqual(
    [by('ivf_cos').method, by('ivf_cos').operator, by('ivf_cos').lists, by('ivf_cos').opclass],
    ['ivfflat', '<=>', 10, 'vector_cosine_ops']
  );
  assert.match(by('docs_emb2_half').key, /emb2::halfvec\(8\)/);
  assert.equal(by('docs_emb2_half').operator, '<->');
  assert.equal(by('docs_l2').rows, 3000);
  assert.match(by('wide_hnsw').advice, /halfvec\(1536\)/, 'large dimensions → halfvec advice');
  assert.match(by('docs_l2').advice, /0\.8\.0: HNSW vacuum can corrupt/, 'known bug of the installed release');
  const col = rows.find((r) => r.kind === 'column without ANN index' && r.key === 'emb3');
  assert.ok(col, JSON.stringify(rows.map((r) => [r.kind, r.key])));
  assert.match(col.advice, /queried by 1 vector query without an ANN index/);
  assert.equal(rows.filter((r) => r.kind !== 'index').length, 1, 'only emb3 lacks an index');
});

test('vector queries: classified by the parser, index they should use, misuse flagged with the reason', async () => {
  const res = await sc.query({ ...range(), queries: [{ refId: 'A', metric: 'vector_queries' }] });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const rows = table(res.json);
  const by = (q: { id: string }) => rows.find((r) => r.queryid === q.id) as Record<string, any>;
  assert.equal(by(Q.notVector), undefined, 'a plain lookup is not a vector query');
  assert.equal(rows.length, 7);
  assert.equal(by(Q.good).expected_index, 'docs_l2');
  assert.match(by(Q.good).explain, /index scan on docs_l2/);
  assert.equal(by(Q.good).advice, 'ok');
  assert.match(by(Q.opMismatch).advice, /operator\/opclass mismatch.*docs_l2 \(vector_l2_ops\) serves <->/);
  assert.match(by(Q.opMismatch).explain, /no ANN index scan/);
  assert.match(by(Q.noLimit).advice, /no LIMIT/);
  assert.match(by(Q.noLimit).explain, /no ANN index scan/);
  assert.match(by(Q.exprMismatch).advice, /expression mismatch.*docs_emb2_half/);
  assert.match(by(Q.exprMismatch).explain, /no ANN index scan/);
  assert.equal(by(Q.exprMatch).expected_index, 'docs_emb2_half');
  assert.match(by(Q.exprMatch).explain, /index scan on docs_emb2_half/);
  assert.match(by(Q.unindexed).advice, /no ANN index on docs\.emb3/);
  assert.equal(by(Q.filtered).filters, 'category');
  assert.match(by(Q.filtered).advice, /3\.0 rows per call, fewer than k=10.*iterative_scan/);
  assert.equal(by(Q.good).calls, 100);
  assert.equal(by(Q.good).mean_ms, 2.5);
});

test('passive latency series: per query and overall, from the statement deltas', async () => {
  const res = await sc.query({ ...range(), queries: [{ refId: 'A', metric: 'vector_query_latency' }] });
  const frames = res.json.results.A.frames as any[];
  assert.equal(frames.length, 8, '7 vector queries + all');
  assert.equal(frames[0].schema.fields[1].labels.query, 'all vector queries');
  const vals = frames[0].data.values[1].filter((v: number | null) => v !== null);
  // one sample pair, spread over the steps it covers: the same mean in each
  assert.ok(vals.length >= 1, JSON.stringify(vals));
  assert.ok(
    vals.every((v: number) => Math.abs(v - 2.5) < 1e-9),
    JSON.stringify(vals)
  );
});

test('resource route lists ANN indexes for the editor picker', async () => {
  const r = await sc.get('/api/v1/resources/vector-indexes');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(
    r.json.items.map((i: { value: string }) => i.value),
    ['docs_emb2_half', 'docs_l2', 'ivf_cos', 'wide_hnsw']
  );
});

test('probes are off unless the target turns them on', async () => {
  const h = sc.sidecar.samplers.get('default')!.status.unavailable;
  assert.match(h.vector_probe, /opt-in: vector\.probes\.enabled/);
  assert.equal(sc.sidecar.store.lastSample('default', 'vector_probe'), undefined);
});

test('IVFFlat probes: sweep of ivfflat.probes below lists, recall rises with probes, cosine operator', async () => {
  const sc2 = await startTestSidecar({
    targets: [
      {
        name: 'default',
        url: pg.url,
        vector: {
          probes: {
            enabled: true,
            indexes: ['ivf_cos', 'public.docs_emb2_half'],
            sampleSize: 10,
            k: 10,
            sweep: [1, 2, 5, 10, 20],
            budget: '60s',
            statementTimeout: '10s',
          },
        },
      },
    ],
    grpc: false,
  });
  try {
    await sc2.sampleNow();
    const res = await sc2.query({
      ...range(),
      queries: [{ refId: 'A', metric: 'vector_recall_sweep', index: 'ivf_cos' }],
    });
    // the estimate series (lower / upper bounds are their own series)
    const frames = (res.json.results.A.frames as any[]).filter((f) => f.schema.fields[1].labels.bound === 'estimate');
    const curve = frames.map((f) => [
      f.schema.fields[1].labels.ef_search,
      (f.data.values[1] as number[]).filter((v) => v !== null).pop(),
    ]);
    // probes = lists (10) and above are exact and the planner skips the index: not probed
    assert.deepEqual(
      curve.map((c) => c[0]),
      ['default', '1', '2', '5']
    );
    const vals = curve.slice(1).map((c) => c[1] as number);
    for (let i = 1; i < vals.length; i++) {
      assert.ok(vals[i] >= vals[i - 1], JSON.stringify(curve));
    }
    assert.equal(curve[0][1], curve[1][1], 'the session default ivfflat.probes is 1');
    // the expression (halfvec) index was probed through its expression; docs_l2 was not asked for
    const probed = new Set(
      sc2.sidecar.store.entities('default', 'vector_probe', { object: 'probe' }).map((e) => e.labels.indexrelname)
    );
    assert.deepEqual([...probed].sort(), ['docs_emb2_half', 'ivf_cos']);
    const halfRecall = await sc2.query({
      ...range(),
      queries: [{ refId: 'A', metric: 'vector_recall', index: 'docs_emb2_half', efSearch: 20 }],
    });
    const hv = (halfRecall.json.results.A.frames[0].data.values[1] as number[])
      .filter((v) => v !== null)
      .pop() as number;
    assert.ok(hv > 0.5 && hv <= 1, `halfvec index recall at ef_search 20: ${hv}`);
  } finally {
    await sc2.destroy();
  }
});
