/**
 * Benchmark 1: what one sampling cycle costs, pgpulse vs postgres_exporter 0.11.1 + Prometheus,
 * against the same PostgreSQL 15 with 5,000 distinct pg_stat_statements entries and 2,000 indexes.
 *
 * pgpulse: the compiled sidecar in its own process (bench/pgpulse-driver.cjs), one full cycle
 * (every collector, as a forced cycle) per step. postgres_exporter: its default metrics plus the
 * package's example queries.yaml (PG15 column names; index statistics added), scraped by a real
 * Prometheus every 5 s. Both connect as their own pg_monitor role, so pg_stat_statements tells
 * their database time apart. Between cycles a workload re-runs 10 % of the statements so counters
 * move. Writes bench/results/sampling-cost.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, startPostgres, type TestPostgres } from '../tests/support/pg';
import { compileSidecar, ROOT, WORK, dirBytes, fmt, median, ratio, rss, sleep, waitHttp, writeResult } from './lib';
import { TABLES, churn, setup } from './statements-workload';

// 11: the first cycle plus ten steady ones, so the steady mean includes the one run in
// EXACT_SIZE_REFRESH (10) that re-reads every relation's exact size
const CYCLES = Number(process.env.BENCH_CYCLES ?? 11);
const SCRAPE_S = 5;
// normal-cadence cycles after the forced ones: 40 covers one run of the slowest collector (bloat)
const TICKS = Number(process.env.BENCH_TICKS ?? 40);

interface Snap {
  ms: number;
  calls: number;
}

async function snap(pg: TestPostgres, role: string): Promise<Snap> {
  const r = await pg.query<{ ms: number; calls: string }>(
    `SELECT coalesce(sum(total_exec_time + total_plan_time), 0)::float8 AS ms, coalesce(sum(calls), 0)::text AS calls
     FROM pg_stat_statements(false) s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = $1`,
    [role],
    'app'
  );
  return { ms: r[0].ms, calls: Number(r[0].calls) };
}

function lines(child: ChildProcess): () => Promise<string> {
  const rl = createInterface({ input: child.stdout! });
  const queue: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  rl.on('line', (l) => {
    const w = waiters.shift();
    if (w) {
      w(l);
    } else {
      queue.push(l);
    }
  });
  return () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve)));
}

let startMemory: { rssMb: number; peakMb: number; heapMb: number; externalMb: number } | undefined;

let ownTop: Array<{ q: string; ms: number; calls: string }> = [];

/** database time per target interval at the normal cadence (each collector every intervalFactor cycles) */
let cadence = { ticks: 0, dbMsPerTick: 0, callsPerTick: 0 };

interface PgpulseCycle {
  byCollector: Record<string, number>;
  heapMb: number;
  externalMb: number;
  wallMs: number;
  points: number;
  rows: number;
  storeGrowthBytes: number;
  dbMs: number;
  dbCalls: number;
  rssMb: number;
  peakMb: number;
}

async function runPgpulse(pg: TestPostgres, buildDir: string): Promise<PgpulseCycle[]> {
  const dataDir = join(WORK, 'pgpulse-data');
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const child = spawn(process.execPath, [join(ROOT, 'bench', 'pgpulse-driver.cjs'), buildDir, dataDir], {
    env: { ...process.env, DATABASE_URL: pg.urlFor('app', 'pgpulse_mon') },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const next = lines(child);
  const ready = JSON.parse(await next());
  startMemory = {
    ...rss(child.pid!),
    heapMb: ready.memory.heapUsed / 1048576,
    externalMb: ready.memory.external / 1048576,
  };
  const out: PgpulseCycle[] = [];
  try {
    for (let i = 0; i < CYCLES; i++) {
      await churn(pg, i);
      const s0 = await snap(pg, 'pgpulse_mon');
      child.stdin!.write('cycle\n');
      const r = JSON.parse(await next());
      if (r.reachable !== true) {
        throw new Error(`pgpulse could not sample: ${JSON.stringify(r)}`);
      }
      const s1 = await snap(pg, 'pgpulse_mon');
      const m = rss(child.pid!);
      out.push({
        byCollector: r.byCollector,
        heapMb: r.memory.heapUsed / 1048576,
        externalMb: r.memory.external / 1048576,
        wallMs: r.wallMs,
        points: r.points,
        rows: r.rows,
        storeGrowthBytes: r.storeGrowthBytes,
        dbMs: s1.ms - s0.ms,
        dbCalls: s1.calls - s0.calls,
        ...m,
      });
      process.stderr.write(
        `pgpulse cycle ${i + 1}/${CYCLES}: ${r.wallMs.toFixed(0)} ms, ${r.rows} rows, ${r.points} points\n`
      );
      await sleep(1000);
    }
    // the same sidecar goes on at its normal cadence, back to back: what one target interval costs
    // in production, costly collectors (tables/indexes every 2nd, settings every 20th, bloat every
    // 40th cycle) amortised over the cycles they skip
    const t0 = await snap(pg, 'pgpulse_mon');
    for (let i = 0; i < TICKS; i++) {
      child.stdin!.write('tick\n');
      const r = JSON.parse(await next());
      if (r.reachable !== true) {
        throw new Error(`pgpulse could not sample: ${JSON.stringify(r)}`);
      }
    }
    const t1 = await snap(pg, 'pgpulse_mon');
    cadence = {
      ticks: TICKS,
      dbMsPerTick: (t1.ms - t0.ms) / Math.max(1, TICKS),
      callsPerTick: (t1.calls - t0.calls) / Math.max(1, TICKS),
    };
    process.stderr.write(
      `pgpulse at its normal cadence: ${cadence.dbMsPerTick.toFixed(1)} ms database time per interval over ${TICKS} intervals\n`
    );
    ownTop = await pg.query<{ q: string; ms: number; calls: string }>(
      `SELECT regexp_replace(left(s.query, 90), '\\s+', ' ', 'g') AS q, s.total_exec_time::float8 AS ms, s.calls::text AS calls
       FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = 'pgpulse_mon' ORDER BY s.total_exec_time DESC LIMIT 6`,
      [],
      'app'
    );
  } finally {
    child.stdin!.write('quit\n');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await new Promise((r) => child.once('exit', r));
    clearTimeout(killer);
  }
  return out;
}

interface ExporterRun {
  scrapes: number;
  scrapeMs: number[];
  samples: number[];
  dbMsPerScrape: number;
  dbCallsPerScrape: number;
  walBytesPerScrape: number;
  exporterRss: { rssMb: number; peakMb: number };
  promRss: { rssMb: number; peakMb: number };
}

async function promQuery(
  port: number,
  q: string,
  time: number
): Promise<Array<{ values?: Array<[number, string]>; value?: [number, string] }>> {
  const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}&time=${time / 1000}`);
  const j = (await r.json()) as {
    status: string;
    data: { result: Array<{ values?: Array<[number, string]>; value?: [number, string] }> };
    error?: string;
  };
  if (j.status !== 'success') {
    throw new Error(`Prometheus query ${q}: ${j.error}`);
  }
  return j.data.result;
}

async function runExporter(pg: TestPostgres): Promise<ExporterRun> {
  const exporterPort = await freePort();
  const promPort = await freePort();
  const promDir = join(WORK, 'prom-sampling');
  rmSync(promDir, { recursive: true, force: true });
  mkdirSync(join(promDir, 'data'), { recursive: true });
  const cfg = join(promDir, 'prometheus.yml');
  writeFileSync(
    cfg,
    `global:\n  scrape_interval: ${SCRAPE_S}s\n  scrape_timeout: ${SCRAPE_S}s\nscrape_configs:\n  - job_name: postgres_exporter\n    static_configs:\n      - targets: ['127.0.0.1:${exporterPort}']\n`
  );
  const exporter = spawn(
    '/usr/bin/prometheus-postgres-exporter',
    [
      `--web.listen-address=127.0.0.1:${exporterPort}`,
      `--extend.query-path=${join(ROOT, 'bench', 'postgres-exporter-queries.yaml')}`,
      '--log.level=warn',
    ],
    {
      env: { ...process.env, DATA_SOURCE_NAME: `postgresql://exporter_mon@127.0.0.1:${pg.port}/app?sslmode=disable` },
      stdio: ['ignore', 'ignore', 'inherit'],
    }
  );
  let prom: ChildProcess | undefined;
  try {
    await waitHttp(`http://127.0.0.1:${exporterPort}/`); // the landing page: no database query
    prom = spawn(
      '/usr/bin/prometheus',
      [
        `--config.file=${cfg}`,
        `--storage.tsdb.path=${join(promDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      }
    );
    await waitHttp(`http://127.0.0.1:${promPort}/-/ready`);
    const deadline = Date.now() + 60_000;
    while ((await promQuery(promPort, 'scrape_samples_scraped{job="postgres_exporter"}', Date.now())).length === 0) {
      if (Date.now() > deadline) {
        throw new Error('Prometheus never scraped postgres_exporter');
      }
      await sleep(500);
    }
    const s0 = await snap(pg, 'exporter_mon');
    const wal0 = dirBytes(join(promDir, 'data', 'wal'));
    const t0 = Date.now();
    for (let i = 0; i < CYCLES; i++) {
      const started = Date.now();
      await churn(pg, 1000 + i);
      await sleep(Math.max(0, SCRAPE_S * 1000 - (Date.now() - started)));
      process.stderr.write(`exporter: ${i + 1}/${CYCLES} scrape intervals\n`);
    }
    const t1 = Date.now();
    const s1 = await snap(pg, 'exporter_mon');
    const wal1 = dirBytes(join(promDir, 'data', 'wal'));
    const window = `${Math.floor((t1 - t0) / 1000)}s`;
    const dur = await promQuery(promPort, `scrape_duration_seconds{job="postgres_exporter"}[${window}]`, t1);
    const smp = await promQuery(promPort, `scrape_samples_scraped{job="postgres_exporter"}[${window}]`, t1);
    const scrapeMs = (dur[0]?.values ?? []).map(([, v]) => Number(v) * 1000);
    const samples = (smp[0]?.values ?? []).map(([, v]) => Number(v));
    const scrapes = Math.max(1, scrapeMs.length);
    return {
      scrapes,
      scrapeMs,
      samples,
      dbMsPerScrape: (s1.ms - s0.ms) / scrapes,
      dbCallsPerScrape: (s1.calls - s0.calls) / scrapes,
      walBytesPerScrape: (wal1 - wal0) / scrapes,
      exporterRss: rss(exporter.pid!),
      promRss: rss(prom.pid!),
    };
  } finally {
    for (const p of [prom, exporter]) {
      if (p && p.exitCode === null) {
        p.kill('SIGTERM');
        await new Promise((r) => p.once('exit', r));
      }
    }
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  mkdirSync(WORK, { recursive: true });
  const buildDir = join(WORK, 'build');
  compileSidecar(buildDir);
  const pg = await startPostgres({
    settings: { 'pg_stat_statements.max': '10000', shared_buffers: '128MB', max_connections: '100' },
  });
  try {
    process.stderr.write('creating 500 tables / 2,000 indexes and 5,000 statements …\n');
    const shape = await setup(pg);
    await pg.query('CREATE ROLE exporter_mon LOGIN IN ROLE pg_monitor');
    const pp = await runPgpulse(pg, buildDir);
    const ex = await runExporter(pg);
    const steady = pp.slice(1);
    const first = pp[0];
    const pM = {
      wall: median(steady.map((c) => c.wallMs)),
      db: median(steady.map((c) => c.dbMs)),
      dbMean: steady.reduce((a, c) => a + c.dbMs, 0) / Math.max(1, steady.length),
      calls: median(steady.map((c) => c.dbCalls)),
      rows: median(steady.map((c) => c.rows)),
      points: median(steady.map((c) => c.points)),
      bytes: median(steady.map((c) => c.storeGrowthBytes)),
      rss: Math.max(...pp.map((c) => c.rssMb)),
      peak: Math.max(...pp.map((c) => c.peakMb)),
    };
    const eM = {
      wall: median(ex.scrapeMs),
      samples: median(ex.samples),
      rss: ex.exporterRss.rssMb,
      both: ex.exporterRss.rssMb + ex.promRss.rssMb,
    };
    const row = (name: string, a: string, b: string, r: string) => `| ${name} | ${a} | ${b} | ${r} |`;
    const body = `
# Sampling cost: pgpulse vs postgres_exporter 0.11.1 + Prometheus 2.42

Database: PostgreSQL ${(await pg.query<{ v: string }>("SELECT current_setting('server_version') AS v"))[0].v} (Debian), \`pg_stat_statements.max = 10000\`,
${shape.entries.toLocaleString('en-US')} pg_stat_statements entries (5,000 distinct workload statements plus setup DDL),
${shape.indexes.toLocaleString('en-US')} indexes on ${TABLES} tables. Between cycles a workload re-runs 10 % of the
statements (500), so counters move. Each tool connects as its own \`pg_monitor\` role; database
time is Σ Δ(total_exec_time + total_plan_time) of that role in pg_stat_statements (statement
execution only: connection setup and protocol time are not in it).

- **pgpulse**: the compiled sidecar alone in its own process (\`bench/pgpulse-driver.cjs\`), ${CYCLES}
  forced full cycles (every collector, the vital signs' bloat estimate included), then ${cadence.ticks} cycles
  back to back at the normal cadence, as in production: statements/tables/indexes every 2nd cycle,
  settings every 20th, bloat every 40th; exact relation sizes (pg_total_relation_size /
  pg_relation_size) only for relations whose relpages or relfilenode moved and for all every 10th
  tables/indexes run, relpages × block_size every run; pg_database_size every 10th run. The normal-cadence row is the cost of one
  target interval; the forced rows are an upper bound no interval reaches.
- **postgres_exporter**: default metrics + \`bench/postgres-exporter-queries.yaml\` (the package's example
  queries.yaml: pg_stat_statements *with* query texts as the example reads it, pg_stat_user_tables,
  pg_statio_user_tables; PG15 column names; index statistics added), scraped by a real Prometheus every
  ${SCRAPE_S} s: ${ex.scrapes} scrapes measured. Scrape wall time is Prometheus' \`scrape_duration_seconds\`.

| per cycle / scrape (median) | pgpulse | postgres_exporter (+ Prometheus) | ratio pgpulse / exporter |
|---|---:|---:|---:|
${row('wall time (ms)', fmt(pM.wall), fmt(eM.wall), ratio(pM.wall, eM.wall))}
${row('database time (ms, pg_stat_statements of the role)', fmt(pM.db, 2), fmt(ex.dbMsPerScrape, 2), ratio(pM.db, ex.dbMsPerScrape))}
${row('database time, mean of the steady cycles (ms; pgpulse: includes the exact-size refresh every 10th run)', fmt(pM.dbMean, 2), fmt(ex.dbMsPerScrape, 2), ratio(pM.dbMean, ex.dbMsPerScrape))}
${row(`database time per interval at each tool's normal cadence (ms; pgpulse: mean of ${cadence.ticks} intervals, exporter: per scrape)`, fmt(cadence.dbMsPerTick, 2), fmt(ex.dbMsPerScrape, 2), ratio(cadence.dbMsPerTick, ex.dbMsPerScrape))}
${row('statements executed on the database', fmt(pM.calls, 0), fmt(ex.dbCallsPerScrape, 0), ratio(pM.calls, ex.dbCallsPerScrape))}
${row('rows read (pgpulse) / samples exposed (exporter)', fmt(pM.rows, 0), fmt(eM.samples, 0), ratio(pM.rows, eM.samples))}
${row('points written to the store', fmt(pM.points, 0), `${fmt(eM.samples, 0)} (every sample, every scrape)`, ratio(pM.points, eM.samples))}
${row('bytes written per cycle (pgpulse: SQLite growth after checkpoint; Prometheus: WAL growth)', fmt(pM.bytes, 0), fmt(ex.walBytesPerScrape, 0), ratio(pM.bytes, ex.walBytesPerScrape))}
${row('RSS (MB): pgpulse sidecar / exporter', fmt(pM.rss), fmt(eM.rss), ratio(pM.rss, eM.rss))}
${row('RSS (MB): pgpulse sidecar / exporter + Prometheus', fmt(pM.rss), fmt(eM.both), ratio(pM.rss, eM.both))}

First pgpulse cycle (also fetches the text of every statement once): ${fmt(first.wallMs)} ms wall,
${fmt(first.dbMs, 2)} ms database time, ${fmt(first.points, 0)} points, ${fmt(first.storeGrowthBytes, 0)} bytes. Peak RSS
of the sidecar over the run: ${fmt(pM.peak)} MB; Prometheus RSS ${fmt(ex.promRss.rssMb)} MB.

## Every pgpulse cycle

| # | wall ms | db ms | statements | rows | points | store bytes | RSS MB | JS heap used MB | external MB |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${pp.map((c, i) => `| ${i + 1} | ${fmt(c.wallMs)} | ${fmt(c.dbMs, 2)} | ${c.dbCalls} | ${c.rows} | ${c.points} | ${c.storeGrowthBytes} | ${fmt(c.rssMb)} | ${fmt(c.heapMb)} | ${fmt(c.externalMb)} |`).join('\n')}

Sidecar memory before the first cycle: RSS ${fmt(startMemory?.rssMb ?? NaN)} MB, JS heap used ${fmt(startMemory?.heapMb ?? NaN)} MB, external ${fmt(startMemory?.externalMb ?? NaN)} MB.

Where a steady pgpulse cycle spends its time (median wall ms per collector, as the sampler records it):
${Object.keys(steady[0]?.byCollector ?? {})
  .map((c) => `${c} ${fmt(median(steady.map((x) => x.byCollector[c] ?? 0)))}`)
  .join(', ')}.

pgpulse's most expensive statements on the database over all ${CYCLES} forced cycles and ${cadence.ticks} normal-cadence intervals (pg_stat_statements, role pgpulse_mon):

| statement (start) | total ms | calls |
|---|---:|---:|
${ownTop.map((t) => `| \`${t.q.replace(/\|/g, '\\|')}\` | ${fmt(t.ms)} | ${t.calls} |`).join('\n')}

postgres_exporter scrape durations (ms): ${ex.scrapeMs.map((x) => fmt(x)).join(', ')}.

Caveats: one machine, both tools on the same 2 cores as the database; the exporter's figures are
per scrape averaged over the window (database time) or Prometheus' own per-scrape series; the pgpulse
points count only what changed (plus a full keyframe every 120 samples per collector), which is why
it is far below the rows read. Bench run took ${fmt((Date.now() - started) / 1000, 0)} s.
`;
    const path = writeResult('sampling-cost.md', body);
    process.stderr.write(`wrote ${path}\n`);
  } finally {
    await pg.destroy();
  }
}

main().catch((e) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
