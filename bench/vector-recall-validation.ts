/**
 * Validation of the probe recall estimate on a real PostgreSQL 18.3 + pgvector 0.8.2
 * (tests/support/pgvector-server.ts), several datasets:
 *   clustered  BENCH_N (20,000) × 128, HNSW m 8 / ef_construction 32 (a modest graph)
 *   uniform    BENCH_N (20,000) × 64,  HNSW m 16 / ef_construction 64
 *   halfvec    BENCH_N_HD (4,000) × 768 vector column, HNSW on (embedding::halfvec(768))
 * For each, independently of pgpulse's code (the bench's own SQL, exact answers from a sequential
 * scan on the server with index scans off):
 *   - "workload" recall: 300 held-out query vectors from the same distribution, not in the table;
 *   - "population" recall: what the probes estimate — 1,000 rows drawn uniformly, each moved in a
 *     random direction by the distance to its exact nearest other row;
 *   - the old estimator: 20 stored vectors from TABLESAMPLE … LIMIT n in physical order, used as
 *     their own queries (self-match included), as pgpulse did before.
 * Then BENCH_RUNS (20) consecutive probe runs (runProbes, the same state, defaults but the sweep):
 * per ef_search the coverage of the population recall by the reported 99 % interval (and by the 95 %
 * interval of the same estimate, for comparison), the bias and
 * spread of the estimate, and the advice of every run. Writes bench/vector-recall-validation.results.md.
 *
 *   node --import tsx bench/vector-recall-validation.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { startPgvectorServer } from '../tests/support/pgvector-server';
import { clustered, l2sq, rng, toSql } from '../tests/integration/vector/dataset';
import { accessMethodOf, loadParser } from '../src/sidecar/vector/classify';
import { parseVectorConfig } from '../src/sidecar/vector/config';
import { discover } from '../src/sidecar/vector/discovery';
import { ADVICE_RUNS, runProbes, type ProbeState } from '../src/sidecar/vector/probes';
import { agrestiCoull, Z95 } from '../src/sidecar/vector/recall-stats';
import { PIN_SEARCH_PATH } from '../src/sidecar/targets/safe-sql';

const N = Number(process.env.BENCH_N ?? 20_000);
const N_HD = Number(process.env.BENCH_N_HD ?? 4000);
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
/** BENCH_DATASETS=clustered,uniform runs a subset (results go to a file named after it) */
const ONLY = process.env.BENCH_DATASETS?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const SWEEP = [10, 20, 40, 80, 160, 320];
const K = 10;
const TARGET = 0.95;

interface Dataset {
  name: string;
  dims: number;
  table: Float32Array[];
  heldOut: Float32Array[];
  index: string;
  /** the ORDER BY key and the query cast */
  key: string;
  cast: string;
}

function uniform(n: number, dims: number, seed: number): Float32Array[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: dims }, () => r()));
}

function datasets(): Dataset[] {
  const c = clustered(N + 300, 128, 50, 42);
  const u = uniform(N + 300, 64, 7);
  const h = clustered(N_HD + 300, 768, 30, 5, 0.05);
  const all: Dataset[] = [
    {
      name: 'clustered',
      dims: 128,
      table: c.slice(0, N),
      heldOut: c.slice(N),
      index: 'USING hnsw (embedding vector_l2_ops) WITH (m = 8, ef_construction = 32)',
      key: 'embedding',
      cast: 'vector',
    },
    {
      name: 'uniform',
      dims: 64,
      table: u.slice(0, N),
      heldOut: u.slice(N),
      index: 'USING hnsw (embedding vector_l2_ops)',
      key: 'embedding',
      cast: 'vector',
    },
    {
      name: 'halfvec-768',
      dims: 768,
      table: h.slice(0, N_HD),
      heldOut: h.slice(N_HD),
      index: 'USING hnsw ((embedding::halfvec(768)) halfvec_l2_ops)',
      key: '(embedding::halfvec(768))',
      cast: 'halfvec(768)',
    },
  ];
  return ONLY ? all.filter((d) => ONLY.includes(d.name)) : all;
}

const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
const sd = (a: number[]) => Math.sqrt(a.reduce((x, y) => x + (y - mean(a)) ** 2, 0) / Math.max(1, a.length - 1));
const f3 = (x: number) => x.toFixed(3);

async function recallOf(
  c: Client,
  d: Dataset,
  queries: Array<{ q: string; self?: number }>
): Promise<Map<number, number>> {
  // exact: sequential scan on the server
  const exact: Array<Set<number>> = [];
  await c.query('BEGIN');
  await c.query('SET LOCAL enable_indexscan = off');
  await c.query('SET LOCAL enable_seqscan = on');
  for (const q of queries) {
    exact.push(
      new Set(
        (await c.query(`SELECT id FROM items ORDER BY ${d.key} <-> $1::${d.cast} LIMIT ${K}`, [q.q])).rows.map(
          (r) => r.id as number
        )
      )
    );
  }
  await c.query('COMMIT');
  const out = new Map<number, number>();
  for (const ef of SWEEP) {
    await c.query('BEGIN');
    await c.query('SET LOCAL enable_seqscan = off');
    await c.query(`SET LOCAL hnsw.ef_search = ${ef}`);
    let sum = 0;
    for (let i = 0; i < queries.length; i++) {
      const got = (
        await c.query(`SELECT id FROM items ORDER BY ${d.key} <-> $1::${d.cast} LIMIT ${K}`, [queries[i].q])
      ).rows.map((r) => r.id as number);
      sum += got.filter((id) => exact[i].has(id)).length / K;
    }
    await c.query('COMMIT');
    out.set(ef, sum / queries.length);
  }
  return out;
}

/** the probe's query population, built here: uniform rows moved by their exact nearest-neighbour distance */
async function populationQueries(c: Client, d: Dataset, n: number): Promise<Array<{ q: string }>> {
  const r = rng(777);
  const gauss = () => Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
  const out: Array<{ q: string }> = [];
  await c.query('BEGIN');
  await c.query('SET LOCAL enable_indexscan = off');
  for (let i = 0; i < n; i++) {
    const id = 1 + Math.floor(r() * d.table.length);
    const v = d.table[id - 1];
    const nn = (
      await c.query(`SELECT id FROM items WHERE id <> $2 ORDER BY ${d.key} <-> $1::${d.cast} LIMIT 1`, [toSql(v), id])
    ).rows[0].id as number;
    const dist = Math.sqrt(l2sq(v, d.table[nn - 1]));
    const dir = Array.from(v, () => gauss());
    const norm = Math.sqrt(dir.reduce((a, x) => a + x * x, 0));
    out.push({ q: toSql(Float32Array.from(v, (x, j) => x + (dist * dir[j]) / norm)) });
  }
  await c.query('COMMIT');
  return out;
}

/** the estimator pgpulse had before: 20 stored vectors, physical-order sample, self-match included */
async function oldEstimate(c: Client, d: Dataset, seed: number): Promise<Map<number, number>> {
  const pct = Math.min(100, (100 * 20 * 4) / d.table.length);
  const rows = (
    await c.query(
      `SELECT (${d.key})::text AS q FROM items TABLESAMPLE ${d.table.length <= 100_000 ? 'BERNOULLI' : 'SYSTEM'} (${pct}) REPEATABLE (${seed}) LIMIT 20`
    )
  ).rows as Array<{ q: string }>;
  return recallOf(c, d, rows);
}

async function main(): Promise<void> {
  await loadParser();
  const pg = await startPgvectorServer({ settings: { shared_buffers: '256MB', maintenance_work_mem: '256MB' } });
  const report: string[] = [];
  const t0 = Date.now();
  try {
    for (const d of datasets()) {
      await pg.query('DROP TABLE IF EXISTS items');
      await pg.query(`CREATE TABLE items (id int PRIMARY KEY, embedding vector(${d.dims}))`);
      const c = new Client({ connectionString: pg.url });
      await c.connect();
      try {
        const batch = Math.max(50, Math.floor(200_000 / d.dims));
        for (let s = 0; s < d.table.length; s += batch) {
          await c.query(
            `INSERT INTO items VALUES ${d.table
              .slice(s, s + batch)
              .map((v, i) => `(${s + i + 1}, '${toSql(v)}')`)
              .join(',')}`
          );
        }
        await c.query(`CREATE INDEX items_ann ON items ${d.index}`);
        await c.query('ANALYZE items');
        const workload = await recallOf(
          c,
          d,
          d.heldOut.map((v) => ({ q: toSql(v) }))
        );
        const population = await recallOf(c, d, await populationQueries(c, d, 1000));
        const old: Array<Map<number, number>> = [];
        for (let r = 1; r <= RUNS; r++) {
          old.push(await oldEstimate(c, d, r));
        }

        // discovery as the collector runs it: under the pinned search_path, so probe SQL names pgvector's schema
        await c.query('BEGIN');
        await c.query(PIN_SEARCH_PATH);
        const disc = await discover(c as never, '0.8.2', accessMethodOf);
        await c.query('COMMIT');
        const cfg = parseVectorConfig({
          probes: { enabled: true, sweep: SWEEP, budget: '120s', statementTimeout: '60s', targetRecall: TARGET },
        }).probes;
        const state: ProbeState = { next: null, run: 0, advice: new Map(), pool: new Map() };
        const runs: Array<{
          est: Map<number, { r: number; lo: number; hi: number; n: number }>;
          advice: number | null;
          collecting: boolean;
          ms: number;
        }> = [];
        for (let r = 0; r < RUNS; r++) {
          const run = await runProbes(c as never, disc.indexes, cfg, state);
          const p = run.probes[0];
          if (!p || p.status !== 'ok') {
            throw new Error(`probe run failed: ${p?.status ?? run.status}`);
          }
          runs.push({
            est: new Map(
              p.settings
                .filter((s) => s.setting !== 'default')
                .map((s) => [
                  s.value as number,
                  { r: s.recall!.recall, lo: s.recall!.lower, hi: s.recall!.upper, n: s.recall!.n },
                ])
            ),
            advice: p.advice?.value ?? null,
            collecting: p.advice?.collecting === true,
            ms: run.durationMs,
          });
        }
        const advised = runs.filter((r) => !r.collecting).map((r) => r.advice);
        report.push(`### ${d.name}: ${d.table.length.toLocaleString('en')} × ${d.dims}, \`${d.index}\``, '');
        report.push(
          `Probe runs: ${RUNS}, ${cfg.sampleSize} query vectors each, median ${(runs.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(RUNS / 2)] / 1000).toFixed(1)} s per run. ` +
            `Advice (target ${TARGET}): collecting in runs 1–${ADVICE_RUNS - 1}, then ${JSON.stringify(advised)} — ${new Set(advised).size === 1 ? 'identical in every run' : 'NOT identical'}.`,
          ''
        );
        report.push(
          '| ef_search | workload recall (300 held-out) | population recall (1,000 moved) | old estimate: bias vs workload ± spread | new estimate: bias vs workload ± spread | new: bias vs population | mean 99 % half-width | 99 % interval (shown) contains population recall | a 95 % interval would |'
        );
        report.push('|---|---|---|---|---|---|---|---|---|');
        for (const ef of SWEEP) {
          const w = workload.get(ef)!;
          const p = population.get(ef)!;
          const olds = old.map((m) => m.get(ef)!);
          const news = runs.map((r) => r.est.get(ef)!);
          const cover = news.filter((e) => e.lo <= p && p <= e.hi).length;
          const cover95 = news
            .map((e) => agrestiCoull(e.r, e.n, Z95))
            .filter((e) => e.lower <= p && p <= e.upper).length;
          report.push(
            `| ${ef} | ${f3(w)} | ${f3(p)} | ${f3(mean(olds) - w)} ± ${f3(sd(olds))} | ${f3(mean(news.map((e) => e.r)) - w)} ± ${f3(sd(news.map((e) => e.r)))} | ${f3(mean(news.map((e) => e.r)) - p)} | ${f3(mean(news.map((e) => (e.hi - e.lo) / 2)))} | ${cover}/${RUNS} (${Math.round((100 * cover) / RUNS)} %) | ${cover95}/${RUNS} |`
          );
        }
        report.push('');
        console.log(report.slice(-SWEEP.length - 6).join('\n'));
      } finally {
        await c.end();
      }
    }
  } finally {
    await pg.destroy();
  }
  const md = `# Vector recall estimate: validation on a real server

Command: \`node --import tsx bench/vector-recall-validation.ts\` (env: BENCH_N=${N}, BENCH_N_HD=${N_HD}, BENCH_RUNS=${RUNS}${ONLY ? `, BENCH_DATASETS=${ONLY.join(',')}` : ''})
Recorded: ${new Date().toISOString()} on this project's 2-core machine (shared with other work), Node ${process.version}, ${Math.round((Date.now() - t0) / 1000)} s.
Server: PostgreSQL 18.3 + pgvector 0.8.2 (scripts/fetch-pgvector-server.sh), k = ${K}, probe defaults except the sweep.

- *workload recall*: 300 held-out query vectors from the dataset's distribution (not in the table), exact top-k by sequential scan on the server;
- *population recall*: what the probes estimate — 1,000 uniformly drawn rows, each moved in a random direction by its exact nearest-neighbour distance;
- *old estimate*: the estimator before this change (20 stored vectors as their own queries, physical-order sample), one per run;
- *new estimate*: the probe's reported recall and 99 % interval (Agresti–Coull over the query vectors), ${RUNS} consecutive runs; spread = standard deviation across runs.

${report.join('\n')}`;
  const file = `vector-recall-validation${ONLY ? `.${ONLY.join('-')}` : ''}.results.md`;
  writeFileSync(join(__dirname, file), md);
  console.log(`wrote bench/${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
