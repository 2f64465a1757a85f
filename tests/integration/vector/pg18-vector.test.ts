/**
 * Vector monitoring on a real multi-user PostgreSQL 18.3 + pgvector 0.8.2 (tests/support/
 * pgvector-server.ts): everything PGlite cannot show. Ground truth comes from the server itself
 * or is computed independently here:
 *  - probes without SELECT say why (run status, health, doctor, panel notice) with the GRANT;
 *  - the recall interval contains the table's recall for the probe's query population, computed
 *    independently (600 query vectors built here, exact neighbours by brute force in JS, ANN
 *    answers from the server), and the ef_search advice is identical run after run;
 *  - vector calls / latency equal the application role's pg_stat_statements deltas (pgpulse's
 *    probes and EXPLAINs never counted), Δidx_scan per index equals the server's;
 *  - a filtered query returning fewer than k rows: rows per call = the server's Δrows / Δcalls, the
 *    iterative-scan advice, and the measured effect of hnsw.iterative_scan = relaxed_order;
 *  - index size vs shared_buffers, dead tuples (with the pgvector < 0.8.4 vacuum advice) and the
 *    phase of a real HNSW build as pg_stat_progress_create_index shows it.
 * A smaller version of bench/vector-recall-validation.ts (20 runs, several datasets).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from 'pg';
import { diagnose } from '../../../src/sidecar/cli/doctor';
import { Progress } from '../../../src/sidecar/cli/support';
import { lastProbeRuns } from '../../../src/sidecar/vector/collectors';
import { startPgvectorServer } from '../../support/pgvector-server';
import type { TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { clustered, exactTopK, l2sq, rng, toSql } from './dataset';

const N = 8000;
const DIMS = 48;
const K = 10;
const SWEEP = [10, 20, 40, 80, 160];
const RUNS = 6;
let pg: TestPostgres;
let vecs: Float32Array[];
const ids: number[] = [];
let sc: TestSidecar;

const probeCfg = {
  enabled: true,
  sampleSize: 100,
  k: K,
  sweep: SWEEP,
  budget: '120s',
  statementTimeout: '20s',
  targetRecall: 0.95,
};
const range = () => ({ from: Date.now() - 10 * 60_000, to: Date.now() + 1000 });

before(async () => {
  pg = await startPgvectorServer();
  vecs = clustered(N, DIMS, 40, 11);
  for (let i = 0; i < N; i++) {
    ids.push(i + 1);
  }
  const c = new Client({ connectionString: pg.url });
  await c.connect();
  try {
    await c.query('CREATE ROLE app LOGIN; CREATE ROLE pgpulse LOGIN IN ROLE pg_monitor');
    await c.query(`CREATE TABLE public.items (id int PRIMARY KEY, category int, embedding vector(${DIMS}))`);
    for (let s = 0; s < N; s += 1000) {
      await c.query(
        `INSERT INTO public.items VALUES ${vecs
          .slice(s, s + 1000)
          .map((v, i) => `(${s + i + 1}, ${(s + i) % 10}, '${toSql(v)}')`)
          .join(',')}`
      );
    }
    // a modest graph, so low ef_search settings miss neighbours and the curve has a shape
    await c.query(
      'CREATE INDEX items_hnsw ON public.items USING hnsw (embedding vector_l2_ops) WITH (m = 8, ef_construction = 32)'
    );
    await c.query('GRANT SELECT ON public.items TO app');
    await c.query('ANALYZE public.items');
  } finally {
    await c.end();
  }
  sc = await startTestSidecar({
    targets: [
      {
        name: 'default',
        url: pg.urlFor('postgres', 'pgpulse'),
        statementTimeoutMs: 30_000,
        vector: { probes: probeCfg },
      },
    ],
    grpc: false,
  });
});

after(async () => {
  await sc?.destroy();
  await pg?.destroy();
});

test('probes without SELECT say why, with the GRANT, in the run, health, doctor and on the panel', async () => {
  await sc.sampleNow();
  const run = sc.sidecar.store.entities('default', 'vector_probe', { object: 'run' })[0];
  const st = (run.info.probes as Array<{ index: string; status: string }>).find(
    (p) => p.index === 'public.items_hnsw'
  )!.status;
  assert.match(
    st,
    /permission denied .*need SELECT on "public"\."items" for role pgpulse; fix: GRANT SELECT ON "public"\."items" TO "pgpulse"/
  );
  const health = await sc.get('/api/v1/health');
  assert.match(health.json.message, /GRANT SELECT ON "public"\."items" TO "pgpulse"/);
  const curve = await sc.query({ ...range(), queries: [{ refId: 'A', metric: 'vector_recall_curve' }] });
  // no data at all: the per-refId error says why (with data it would be a frame notice)
  const said = [
    curve.json.results.A.error ?? '',
    ...curve.json.results.A.frames.flatMap((f: any) => f.schema.meta?.notices ?? []).map((n: any) => n.text),
  ].join('\n');
  assert.match(said, /GRANT SELECT ON "public"\."items" TO "pgpulse"/);
  const [d] = await diagnose(
    { ...sc.sidecar.config, dataDir: sc.dataDir + '-doctor', targets: [{ ...sc.sidecar.config.targets[0] }] } as never,
    undefined,
    new Progress()
  );
  const check = d.checks.find((c) => c.name === 'collector vector_probe');
  assert.equal(check?.status, 'fail', JSON.stringify(d.checks));
  assert.match(check!.detail, /GRANT SELECT ON "public"\."items" TO "pgpulse"/);
  await pg.query('GRANT SELECT ON public.items TO pgpulse');
});

/** recall of the probe's query population, computed here: 1,000 rows drawn uniformly, each moved by its exact nearest-neighbour distance */
async function independentRecall(): Promise<Map<number, number>> {
  const r = rng(2024);
  const gauss = () => Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
  const qs: Float32Array[] = [];
  for (let n = 0; n < 600; n++) {
    const id = 1 + Math.floor(r() * N);
    const v = vecs[id - 1];
    const nn = exactTopK(v, ids, vecs, 2).find((x) => x !== id)!;
    const d = Math.sqrt(l2sq(v, vecs[nn - 1]));
    const dir = Array.from(v, () => gauss());
    const norm = Math.sqrt(dir.reduce((a, x) => a + x * x, 0));
    qs.push(Float32Array.from(v, (x, i) => x + (d * dir[i]) / norm));
  }
  const exact = qs.map((q) => new Set(exactTopK(q, ids, vecs, K)));
  const c = new Client({ connectionString: pg.urlFor('postgres', 'app') });
  await c.connect();
  const out = new Map<number, number>();
  try {
    for (const ef of SWEEP) {
      let sum = 0;
      await c.query('BEGIN');
      await c.query(`SET LOCAL hnsw.ef_search = ${ef}`);
      for (let n = 0; n < qs.length; n++) {
        const got = (
          await c.query(`SELECT id FROM public.items ORDER BY embedding <-> $1::vector LIMIT ${K}`, [toSql(qs[n])])
        ).rows.map((x) => x.id as number);
        sum += got.filter((id) => exact[n].has(id)).length / K;
      }
      await c.query('COMMIT');
      out.set(ef, sum / qs.length);
    }
  } finally {
    await c.end();
  }
  return out;
}

test(`recall interval contains the independently computed recall; the advice is identical in ${RUNS} runs`, async () => {
  const truth = await independentRecall();
  let covered = 0;
  let total = 0;
  const advice: Array<number | null> = [];
  const misses: string[] = [];
  for (let run = 0; run < RUNS; run++) {
    await sc.sampleNow();
    const p = lastProbeRuns.get('default')!.probes.find((x) => x.index.indexrelname === 'items_hnsw')!;
    assert.equal(p.status, 'ok');
    assert.equal(p.queryVectors.length, probeCfg.sampleSize);
    for (const ef of SWEEP) {
      const est = p.settings.find((s) => s.setting === ef)!.recall!;
      const t = truth.get(ef)!;
      total++;
      if (est.lower <= t && t <= est.upper) {
        covered++;
      } else {
        misses.push(
          `run ${run} ef ${ef}: truth ${t.toFixed(3)} outside [${est.lower.toFixed(3)}, ${est.upper.toFixed(3)}]`
        );
      }
    }
    advice.push(p.advice!.value);
    assert.equal(p.advice!.collecting === true, run < 4, p.advice!.reason);
  }
  console.log(
    `# truth ${JSON.stringify([...truth])}; covered ${covered}/${total}; advice ${JSON.stringify(advice)}; ${misses.join('; ')}`
  );
  // conservative 99 % intervals (bench/vector-recall-validation: ≥ 19/20 per setting): at most 2 misses in 30
  assert.ok(covered >= total - 2, misses.join('; '));
  // the first advice waits for 5 pooled runs, then it never flips
  assert.deepEqual(advice.slice(0, 4), [null, null, null, null]);
  assert.equal(new Set(advice.slice(4)).size, 1, `advice flipped: ${JSON.stringify(advice)}`);
  // and it is right about the truth: an advised value reaches the target; none advised means none does with confidence
  const adv = advice[RUNS - 1];
  if (adv !== null) {
    assert.ok(truth.get(adv)! >= 0.95 - 0.01, `advised ${adv} has true recall ${truth.get(adv)}`);
  } else {
    // a value this far above the target clears a 99 % interval over 500 queries with certainty
    assert.ok(Math.max(...truth.values()) < 0.985, `no advice although ${JSON.stringify([...truth])}`);
  }
  // the table and the curve show the same advice
  const tbl = await sc.query({ ...range(), queries: [{ refId: 'A', metric: 'vector_indexes' }] });
  const f = tbl.json.results.A.frames[0];
  const names = f.schema.fields.map((x: any) => x.name);
  assert.equal(f.data.values[names.indexOf('best_ef_search')][0], adv);
});

/** pg_stat_statements totals of one role's vector statements on items */
async function appTotals(role: string): Promise<{ calls: number; time: number }> {
  const r = await pg.query<{ calls: string; time: number }>(
    `SELECT coalesce(sum(calls), 0)::text AS calls, coalesce(sum(total_exec_time), 0)::float8 AS time FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = $1 AND s.query ILIKE '%ORDER BY embedding <->%'`,
    [role]
  );
  return { calls: Number(r[0].calls), time: r[0].time };
}

test('vector calls and latency equal the application role’s pg_stat_statements deltas; probes and EXPLAIN are not counted', async () => {
  await sc.sampleNow();
  // the range starts after this baseline sample: its deltas are those of the next sample only
  const from = Date.now() + 1;
  const before = await appTotals('app');
  const c = new Client({ connectionString: pg.urlFor('postgres', 'app') });
  await c.connect();
  try {
    for (let n = 0; n < 40; n++) {
      await c.query(`SELECT id FROM public.items ORDER BY embedding <-> $1::vector LIMIT ${K}`, [toSql(vecs[n * 7])]);
    }
  } finally {
    await c.end();
  }
  const mid = await appTotals('app');
  // this cycle runs the probes (many vector statements of pgpulse's own) and the EXPLAIN checks
  await new Promise((r) => setTimeout(r, 5));
  await sc.sampleNow();
  const afterApp = await appTotals('app');
  assert.equal(afterApp.calls, mid.calls, 'no application call during the sample');
  const res = await sc.query({ from, to: Date.now() + 1000, queries: [{ refId: 'A', metric: 'vector_queries' }] });
  const f = res.json.results.A.frames[0];
  const names = f.schema.fields.map((x: any) => x.name);
  const col = (n: string) => f.data.values[names.indexOf(n)] as any[];
  const calls = col('calls').reduce((a: number, b: number) => a + b, 0);
  assert.equal(
    calls,
    mid.calls - before.calls,
    `vector calls: pgpulse ${calls}, application ${mid.calls - before.calls}: ${JSON.stringify(col('query'))}`
  );
  const time = col('mean_ms').reduce((a: number, m: number | null, i: number) => a + (m ?? 0) * col('calls')[i], 0);
  assert.ok(Math.abs(time - (mid.time - before.time)) < 1e-6, `total time ${time} vs ${mid.time - before.time}`);
});

test('a filtered query: rows per call from pg_stat_statements, the iterative-scan advice, and its measured effect', async () => {
  const sc4 = await startTestSidecar({
    targets: [{ name: 'default', url: pg.urlFor('postgres', 'pgpulse') }],
    grpc: false,
  });
  const sql = `SELECT id FROM public.items WHERE category = $2 ORDER BY embedding <-> $1::vector LIMIT ${K}`;
  const rowsOf = async () =>
    (
      await pg.query<{ calls: string; rows: string }>(
        `SELECT sum(calls)::text AS calls, sum(rows)::text AS rows FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = 'app' AND s.query LIKE '%WHERE category = $2 ORDER BY embedding%'`
      )
    )[0];
  const run = async (iterative: boolean) => {
    const c = new Client({ connectionString: pg.urlFor('postgres', 'app') });
    await c.connect();
    try {
      // ef_search 10 hands 10 candidates to a filter that keeps 1 in 10
      await c.query('SET hnsw.ef_search = 10; SET enable_seqscan = off');
      if (iterative) {
        await c.query('SET hnsw.iterative_scan = relaxed_order');
      }
      for (let n = 0; n < 20; n++) {
        await c.query(sql, [toSql(vecs[n * 13]), 3]);
      }
    } finally {
      await c.end();
    }
  };
  const table = async (from: number) => {
    const res = await sc4.query({ from, to: Date.now() + 1000, queries: [{ refId: 'A', metric: 'vector_queries' }] });
    const f = res.json.results.A.frames[0];
    const names = f.schema.fields.map((x: any) => x.name);
    const i = (f.data.values[names.indexOf('query')] as string[]).findIndex((q) => q.includes('category = $2'));
    return {
      rows: f.data.values[names.indexOf('rows_per_call')][i] as number,
      advice: f.data.values[names.indexOf('advice')][i] as string,
    };
  };
  try {
    await sc4.sampleNow();
    const from1 = Date.now() + 1;
    const s0 = (await rowsOf()) ?? { calls: '0', rows: '0' };
    await run(false);
    const s1 = await rowsOf();
    await new Promise((r) => setTimeout(r, 5));
    await sc4.sampleNow();
    const off = await table(from1);
    const truthOff = (Number(s1.rows) - Number(s0.rows ?? 0)) / (Number(s1.calls) - Number(s0.calls ?? 0));
    assert.ok(Math.abs(off.rows - truthOff) < 1e-9, `rows per call ${off.rows} vs server ${truthOff}`);
    assert.ok(off.rows < K, `a filter after 10 candidates returns fewer than k: ${off.rows}`);
    assert.match(off.advice, /fewer than k=10.*hnsw\.iterative_scan = relaxed_order/);

    const from2 = Date.now() + 1;
    await run(true);
    const s2 = await rowsOf();
    await new Promise((r) => setTimeout(r, 5));
    await sc4.sampleNow();
    const on = await table(from2);
    const truthOn = (Number(s2.rows) - Number(s1.rows)) / (Number(s2.calls) - Number(s1.calls));
    assert.ok(Math.abs(on.rows - truthOn) < 1e-9, `rows per call ${on.rows} vs server ${truthOn}`);
    // the measured effect: iterative scan keeps walking the graph until k rows pass the filter
    assert.equal(on.rows, K);
    assert.doesNotMatch(on.advice, /fewer than k/);
    console.log(`# filtered query rows per call: iterative_scan off ${off.rows}, relaxed_order ${on.rows}`);
  } finally {
    await sc4.destroy();
  }
});

test('index facts from the server: Δidx_scan, size vs shared_buffers, dead tuples with the < 0.8.4 vacuum advice', async () => {
  // probes off here: only the application's scans move idx_scan between the two samples
  const sc2 = await startTestSidecar({
    targets: [{ name: 'default', url: pg.urlFor('postgres', 'pgpulse') }],
    grpc: false,
  });
  try {
    await sc2.sampleNow();
    const scans0 = Number(
      (
        await pg.query<{ n: string }>(
          "SELECT idx_scan::text AS n FROM pg_stat_user_indexes WHERE indexrelname = 'items_hnsw'"
        )
      )[0].n
    );
    const c = new Client({ connectionString: pg.urlFor('postgres', 'app') });
    await c.connect();
    try {
      await c.query('SET enable_seqscan = off');
      for (let n = 0; n < 25; n++) {
        await c.query(`SELECT id FROM public.items ORDER BY embedding <-> $1::vector LIMIT 5`, [toSql(vecs[n])]);
      }
    } finally {
      await c.end();
    }
    await pg.query('DELETE FROM public.items WHERE id % 5 = 0');
    await pg.query('SELECT pg_stat_force_next_flush()');
    await new Promise((r) => setTimeout(r, 300));
    await sc2.sampleNow();
    const truth = (
      await pg.query<{ scans: string; size: string; sb: string; dead: string; rows: number }>(
        `SELECT ui.idx_scan::text AS scans, pg_relation_size('public.items_hnsw')::text AS size,
                (SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers')::text AS sb,
                t.n_dead_tup::text AS dead, c.reltuples AS rows
         FROM pg_stat_user_indexes ui JOIN pg_stat_user_tables t ON t.relid = ui.relid JOIN pg_class c ON c.oid = ui.relid WHERE ui.indexrelname = 'items_hnsw'`
      )
    )[0];
    const res = await sc2.query({ ...range(), queries: [{ refId: 'A', metric: 'vector_indexes' }] });
    const f = res.json.results.A.frames[0];
    const names = f.schema.fields.map((x: any) => x.name);
    const row = (f.data.values[names.indexOf('index')] as string[]).indexOf('items_hnsw');
    const col = (n: string) => f.data.values[names.indexOf(n)][row];
    assert.equal(col('idx_scan'), Number(truth.scans) - scans0);
    assert.equal(Number(truth.scans) - scans0, 25);
    assert.equal(col('size_bytes'), Number(truth.size));
    assert.ok(Math.abs(col('shared_buffers_share') - Number(truth.size) / Number(truth.sb)) < 1e-12);
    assert.equal(col('dead_tuples'), Number(truth.dead));
    assert.ok(Number(truth.dead) >= N / 5 - 1, `dead tuples ${truth.dead}`);
    assert.match(
      col('advice'),
      /\d+% dead tuples: .*upgrade pgvector to 0\.8\.4\+ .* before VACUUM public\.items, then REINDEX INDEX CONCURRENTLY public\.items_hnsw/
    );
    assert.match(col('advice'), /pgvector 0\.8\.2: HNSW vacuum can corrupt the index/);
  } finally {
    await sc2.destroy();
  }
});

test('a real HNSW build: the phase pgpulse shows is the one pg_stat_progress_create_index shows', async () => {
  const sc3 = await startTestSidecar({
    targets: [{ name: 'default', url: pg.urlFor('postgres', 'pgpulse') }],
    grpc: false,
  });
  const builder = new Client({ connectionString: pg.url });
  await builder.connect();
  try {
    await builder.query(`CREATE TABLE public.big AS SELECT id, embedding FROM public.items, generate_series(1, 6) g`);
    await builder.query("SET maintenance_work_mem = '64MB'; SET max_parallel_maintenance_workers = 0");
    const build = builder.query(
      'CREATE INDEX big_hnsw ON public.big USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64)'
    );
    let seen: { direct: string[]; shown: string } | null = null;
    const deadline = Date.now() + 120_000;
    let done = false;
    build.then(() => (done = true)).catch(() => (done = true));
    while (!done && !seen && Date.now() < deadline) {
      const p1 = await pg.query<{ phase: string }>('SELECT phase FROM pg_stat_progress_create_index');
      if (p1.length === 0) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      await sc3.sampleNow();
      const p2 = await pg.query<{ phase: string }>('SELECT phase FROM pg_stat_progress_create_index');
      const res = await sc3.query({ ...range(), queries: [{ refId: 'A', metric: 'vector_indexes' }] });
      const f = res.json.results.A.frames[0];
      const names = f.schema.fields.map((x: any) => x.name);
      const kinds = f.data.values[names.indexOf('kind')] as string[];
      const i = kinds.indexOf('build in progress');
      if (i >= 0 && p2.length > 0) {
        seen = { direct: [p1[0].phase, p2[0].phase], shown: f.data.values[names.indexOf('advice')][i] as string };
      }
    }
    await build;
    assert.ok(seen, 'the build was seen while it ran');
    assert.ok(
      seen!.direct.some((ph) => seen!.shown.includes(`: ${ph}`)),
      `shown "${seen!.shown}" vs server phases ${JSON.stringify(seen!.direct)}`
    );
  } finally {
    await builder.end();
    await sc3.destroy();
  }
});
