/**
 * Fleet scale: ONE sidecar samples 50 databases of one PostgreSQL 15 cluster (≈6,000
 * pg_stat_statements entries spread over them) and 20 separate small PostgreSQL 15 servers on
 * loopback, every 15 s, for BENCH_MINUTES per phase. Two phases in the same run, same servers:
 * PGPULSE_SHARED_READS=off (every target reads the server-wide views itself, as before) and on
 * (the targets of one server share one read per cycle, src/sidecar/cluster).
 *
 * Measured per phase, after a warm-up of two intervals: every interval kept (the largest gap
 * between two samples of each target's every-interval collector, from the store), the sidecar's
 * CPU (utime + stime from /proc/<pid>/stat) as % of one core, its RSS, the store's growth
 * (SQLite page_count × page_size through a read-only connection) extrapolated per day and per
 * 1,000 active statements (entries whose calls moved during the phase, from pg_stat_statements),
 * as written (rows: the head window) and packed (a copy of the store at either end of the phase
 * compacted with a head window of 0, then VACUUM: what a day costs once past the head window —
 * a series packs once 32 of its points have gathered, so a phase shorter than that shows rows),
 * the database time the sampling cost on the big cluster (pg_stat_statements of the monitoring
 * role), and dashboard latency while sampling (four panel queries in a loop over HTTP).
 * Writes bench/results/fleet-scale.md.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { packSeries } from '../src/sidecar/store/chunks';
import { preparer } from '../src/sidecar/store/statements';
import { Store } from '../src/sidecar/store/store';
import { freePort, startPostgres, type TestPostgres } from '../tests/support/pg';
import { anatomyTables, storeAnatomy, type Anatomy } from './store-anatomy';
import { compileSidecar, ROOT, SAMPLE_TABLES, WORK, fmt, rss, sleep, waitHttp, writeResult } from './lib';

const MINUTES = Number(process.env.BENCH_MINUTES ?? 3);
const INTERVAL_S = Number(process.env.BENCH_INTERVAL_S ?? 15);
const DATABASES = Number(process.env.BENCH_DATABASES ?? 50);
const SERVERS = Number(process.env.BENCH_SERVERS ?? 20);
/** statements per database of the big cluster: 50 × 120 = 6,000 */
const PER_DB = Number(process.env.BENCH_STATEMENTS_PER_DB ?? 120);
const TABLES_PER_DB = 12;
/** statements per small server */
const PER_SERVER = 50;
/** share of the statements re-run every interval, rotating, so all are active within the phase */
const CHURN = 0.25;
const TOKEN = 'fleet-bench-token';
/**
 * the sidecar starts as users and the image start it, `node bin/pgpulse.js serve`: its own node flags
 * and jemalloc when installed (PGPULSE_ALLOCATOR=system for glibc's); BENCH_NODE_FLAGS replaces the flags
 */
const NODE_FLAGS = process.env.BENCH_NODE_FLAGS;
/** a directory to keep the raw copies of the store (start, a third in, end of each phase) in, for bench/store-anatomy.ts */
const KEEP_COPIES = process.env.BENCH_KEEP_COPIES;
const PHASES = (process.env.BENCH_PHASES ?? 'on,off').split(',') as Array<'off' | 'on'>;

const statement = (k: number, v: number) => `SELECT id${', a'.repeat(v)} FROM t${k} WHERE id = ${(k % 20) + 1}`;

interface Fleet {
  big: TestPostgres;
  small: TestPostgres[];
  targets: Array<{ name: string; url: string }>;
}

async function run(url: string, sqls: string[]): Promise<void> {
  const c = new Client({ connectionString: url, application_name: 'bench-workload' });
  await c.connect();
  try {
    for (const q of sqls) {
      await c.query(q);
    }
  } finally {
    await c.end();
  }
}

async function prepareDatabase(pg: TestPostgres, db: string, tables: number): Promise<void> {
  await pg.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements', [], db);
  await pg.query(
    `DO $$ BEGIN FOR k IN 0..${tables - 1} LOOP
       EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, a int, b int)', k);
       EXECUTE format('INSERT INTO t%s SELECT g, g %% 7, g %% 11 FROM generate_series(1, 20) g', k);
     END LOOP; END $$`,
    [],
    db
  );
}

const dbName = (i: number) => `fleet_${String(i).padStart(2, '0')}`;
const shapes = (n: number) =>
  Array.from({ length: n }, (_, j) => statement(j % TABLES_PER_DB, Math.floor(j / TABLES_PER_DB)));

async function startFleet(): Promise<Fleet> {
  const big = await startPostgres({
    settings: {
      'pg_stat_statements.max': '10000',
      shared_buffers: '128MB',
      max_connections: String(DATABASES * 4 + 40),
    },
  });
  await big.query('CREATE ROLE fleet_mon LOGIN IN ROLE pg_monitor');
  await big.query('CREATE DATABASE fleet_tpl');
  await prepareDatabase(big, 'fleet_tpl', TABLES_PER_DB);
  const targets: Fleet['targets'] = [];
  for (let i = 0; i < DATABASES; i++) {
    await big.query(`CREATE DATABASE ${dbName(i)} TEMPLATE fleet_tpl`);
    targets.push({ name: `big-${dbName(i)}`, url: big.urlFor(dbName(i), 'fleet_mon') });
  }
  const small: TestPostgres[] = [];
  for (let i = 0; i < SERVERS; i++) {
    const pg = await startPostgres({
      settings: { shared_buffers: '16MB', max_connections: '20', 'pg_stat_statements.max': '1000' },
    });
    small.push(pg);
    await pg.query('CREATE ROLE fleet_mon LOGIN IN ROLE pg_monitor');
    await prepareDatabase(pg, 'postgres', TABLES_PER_DB);
    targets.push({ name: `small-${String(i).padStart(2, '0')}`, url: pg.urlFor('postgres', 'fleet_mon') });
  }
  return { big, small, targets };
}

/** every statement once, so pg_stat_statements holds them all before sampling starts */
async function seedStatements(f: Fleet): Promise<number> {
  for (let i = 0; i < DATABASES; i++) {
    await run(f.big.urlFor(dbName(i)), shapes(PER_DB));
  }
  for (const pg of f.small) {
    await run(pg.url, shapes(PER_SERVER));
  }
  return DATABASES * PER_DB + SERVERS * PER_SERVER;
}

/** re-run a rotating quarter of every database's statements */
async function churn(f: Fleet, round: number): Promise<void> {
  const pick = (n: number) => {
    const all = shapes(n);
    const k = Math.ceil(n * CHURN);
    const start = (round * k) % n;
    return Array.from({ length: k }, (_, j) => all[(start + j) % n]);
  };
  for (let i = 0; i < DATABASES; i++) {
    await run(f.big.urlFor(dbName(i)), pick(PER_DB));
  }
  for (const pg of f.small) {
    await run(pg.url, pick(PER_SERVER));
  }
}

/** calls per statement entry of the application (not the monitoring role), all servers */
async function callsByEntry(f: Fleet): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const read = async (pg: TestPostgres, server: string) => {
    const rows = await pg.query<{ k: string; calls: string }>(
      `SELECT s.dbid::text || ':' || s.queryid::text AS k, s.calls::text AS calls FROM public.pg_stat_statements(false) s
       JOIN pg_catalog.pg_roles r ON r.oid = s.userid WHERE r.rolname = 'postgres' AND s.queryid IS NOT NULL`
    );
    for (const r of rows) {
      out.set(`${server}:${r.k}`, Number(r.calls));
    }
  };
  await read(f.big, 'big');
  for (let i = 0; i < f.small.length; i++) {
    await read(f.small[i], `s${i}`);
  }
  return out;
}

/** database time and calls of the monitoring role on the big cluster */
async function monitorCost(pg: TestPostgres): Promise<{ ms: number; calls: number }> {
  const r = await pg.query<{ ms: number; calls: string }>(
    `SELECT coalesce(sum(total_exec_time + total_plan_time), 0)::float8 AS ms, coalesce(sum(calls), 0)::text AS calls
     FROM public.pg_stat_statements(false) s JOIN pg_catalog.pg_roles r ON r.oid = s.userid WHERE r.rolname = 'fleet_mon'`
  );
  return { ms: r[0].ms, calls: Number(r[0].calls) };
}

/** the monitoring role's statements on the big cluster, summed over its databases by text */
type MonitorTexts = Map<string, { ms: number; calls: number }>;

async function monitorTexts(pg: TestPostgres): Promise<{ texts: MonitorTexts; dealloc: number }> {
  const rows = await pg.query<{ query: string; ms: number; calls: string }>(
    `SELECT s.query, sum(s.total_exec_time + s.total_plan_time)::float8 AS ms, sum(s.calls)::text AS calls
     FROM public.pg_stat_statements(true) s JOIN pg_catalog.pg_roles r ON r.oid = s.userid
     WHERE r.rolname = 'fleet_mon' GROUP BY s.query`
  );
  const info = await pg.query<{ dealloc: string }>(
    'SELECT dealloc::text AS dealloc FROM public.pg_stat_statements_info'
  );
  return {
    texts: new Map(rows.map((r) => [r.query, { ms: r.ms, calls: Number(r.calls) }])),
    dealloc: Number(info[0]?.dealloc ?? 0),
  };
}

/**
 * the statements whose database time per cycle moved most, first half and second half of the phase
 * apart: a statement that grows with time shows a larger second half, a slow-cadence one runs in
 * one half only (an entry evicted by pg_stat_statements.max would show as negative)
 */
function topMonitorStatements(
  a: MonitorTexts,
  mid: MonitorTexts,
  b: MonitorTexts,
  halfCycles: [number, number]
): PhaseResult['monitorTop'] {
  const d = (x: MonitorTexts, y: MonitorTexts, q: string) => {
    const p = x.get(q) ?? { ms: 0, calls: 0 };
    const n = y.get(q) ?? { ms: 0, calls: 0 };
    return { ms: n.ms - p.ms, calls: n.calls - p.calls };
  };
  return [...new Set([...a.keys(), ...b.keys()])]
    .map((q) => {
      const h1 = d(a, mid, q);
      const h2 = d(mid, b, q);
      return {
        text: q.replace(/\s+/g, ' ').slice(0, 110),
        msPerCycle: [h1.ms / halfCycles[0], h2.ms / halfCycles[1]] as [number, number],
        callsPerCycle: [h1.calls / halfCycles[0], h2.calls / halfCycles[1]] as [number, number],
      };
    })
    .sort((x, y) => y.msPerCycle[0] + y.msPerCycle[1] - (x.msPerCycle[0] + x.msPerCycle[1]))
    .slice(0, 12);
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat (1-based), clock ticks
  const ticks = Number(fields[11]) + Number(fields[12]);
  const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return ticks / hz;
}

/**
 * Points in the store per collector, counted in the file: unlike the points-written counter this
 * includes the 1 s activity sampler's load buckets (written outside the collector cycle)
 */
function storedPoints(dataDir: string): Map<string, number> {
  const db = new Database(join(dataDir, 'pgpulse.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare('SELECT s.collector AS c, count(*) AS n FROM series s JOIN point p ON p.series_id = s.id GROUP BY 1')
      .all() as Array<{ c: string; n: number }>;
    return new Map(rows.map((r) => [r.c, r.n]));
  } finally {
    db.close();
  }
}

/** A copy of the store in one read snapshot (VACUUM INTO) while the sidecar writes on. */
function copyStore(dataDir: string, copy: string): void {
  const src = new Database(join(dataDir, 'pgpulse.db'), { readonly: true, fileMustExist: true });
  try {
    src.exec(`VACUUM INTO '${copy}'`);
  } finally {
    src.close();
  }
}

/**
 * Packs a copy of the store as compaction packs what is older than the head window: every point but
 * each series' newest into chunks (store/chunks.ts), then VACUUM; returns its bytes. The sidecar
 * packs a series once 32 of its points have gathered (one re-encode per hour, not per point); here
 * every series is packed whatever its count, so copies taken minutes apart compare packed to packed.
 */
export function packCopy(copy: string): number {
  const store = new Store(copy);
  try {
    store.compact(Date.now(), { retentionMs: 1e15, downsampleAfterMs: 1e15, downsampleStepMs: 300_000, headMs: 0 });
    const prepare = preparer(store.db);
    const ids = store.db.prepare('SELECT id FROM series').pluck().all() as number[];
    store.db.transaction(() => {
      for (const id of ids) {
        packSeries(prepare, id, Number.MAX_SAFE_INTEGER, 1);
      }
    })();
    store.db.exec('VACUUM');
  } finally {
    store.close();
  }
  const db = new Database(copy, { readonly: true, fileMustExist: true });
  try {
    return (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
  } finally {
    db.close();
  }
}

function dropCopy(copy: string): void {
  for (const f of [copy, `${copy}-wal`, `${copy}-shm`]) {
    rmSync(f, { force: true });
  }
}

function storeBytes(dataDir: string): number {
  const db = new Database(join(dataDir, 'pgpulse.db'), { readonly: true, fileMustExist: true });
  try {
    const pages = db.pragma('page_count', { simple: true }) as number;
    const size = db.pragma('page_size', { simple: true }) as number;
    const free = db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * size;
  } finally {
    db.close();
  }
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) {
    return NaN;
  }
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

export interface PhaseResult {
  phase: 'off' | 'on';
  seconds: number;
  maxGapS: number;
  worstTarget: string;
  intervalsOver: number;
  intervals: number;
  cpuPct: number;
  rssMaxMb: number;
  rssEndMb: number;
  growthMbPerDay: number;
  activeStatements: number;
  growthPerDayPer1k: number;
  /** the same once packed as compaction packs history older than the head window */
  packedPerDayPer1k: number;
  /** packed, from a third into the phase to its end: the steady growth, one-time costs excluded */
  slopePerDayPer1k: number;
  thirdToEndS: number;
  packedMb: { start: number; third: number; end: number };
  anatomyThird: Anatomy;
  anatomyEnd: Anatomy;
  storeEndMb: number;
  monitorMsPerCycle: number;
  monitorCallsPerCycle: number;
  /** the monitoring role's costliest statements on the big cluster (per cycle, first / second half) */
  monitorTop: Array<{ text: string; msPerCycle: [number, number]; callsPerCycle: [number, number] }>;
  /** pg_stat_statements entries evicted on the big cluster during the phase */
  pgssDealloc: number;
  dashboard: { n: number; p50: number; p95: number; p99: number; max: number; errors: number; texts: string[] };
  sharedStats?: string;
  targets: number;
  /** targets with at least one interval longer than interval + 2 s */
  targetsOver: number;
  /** cycles skipped because the target's previous one still ran */
  skippedOverlap: number;
  /** mean wall time of a sampling cycle, s */
  cycleMeanS: number;
  /** store points written per collector during the phase, most first */
  pointsByCollector: Array<[string, number]>;
  /** points added to the store per collector during the phase, counted in the file (load buckets too) */
  storedByCollector: Array<[string, number]>;
}

/** Σ of a counter family by one label, from a /metrics text */
function sumBy(metrics: string, family: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${family}{`)) {
      continue;
    }
    const key = new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] ?? '';
    out.set(key, (out.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/** the sidecar's /metrics, or '' (noted) when it does not answer within a minute */
async function scrape(port: number): Promise<string> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: AbortSignal.timeout(60_000),
    });
    return await r.text();
  } catch (e) {
    process.stderr.write(`/metrics did not answer: ${(e as Error).message} (${String((e as Error).cause)})\n`);
    return '';
  }
}

const PANELS = [
  { metric: 'top_queries', topN: 20 },
  { metric: 'cache_hit_ratio' },
  { metric: 'tps' },
  { metric: 'connections' },
];

async function dashboardLoop(
  port: number,
  targets: string[],
  until: () => boolean
): Promise<{ ms: number[]; errors: number; errorTexts: Map<string, number> }> {
  const ms: number[] = [];
  let errors = 0;
  const errorTexts = new Map<string, number>();
  const failed = (text: string) => {
    errors++;
    errorTexts.set(text, (errorTexts.get(text) ?? 0) + 1);
  };
  let i = 0;
  while (!until()) {
    const target = targets[i % targets.length];
    const panel = PANELS[i % PANELS.length];
    i++;
    const t0 = performance.now();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        signal: AbortSignal.timeout(120_000),
        body: JSON.stringify({
          from: Date.now() - 3_600_000,
          to: Date.now(),
          intervalMs: 15_000,
          maxDataPoints: 240,
          queries: [{ refId: 'A', target, ...panel }],
        }),
      });
      const body = (await res.json()) as { error?: string; results?: Record<string, { error?: string }> };
      if (!res.ok || body.results?.A?.error) {
        failed(`${panel.metric}: HTTP ${res.status} ${(body.results?.A?.error ?? body.error ?? '').slice(0, 160)}`);
      }
    } catch (e) {
      failed(`${panel.metric}: ${(e as Error).message}`);
    }
    ms.push(performance.now() - t0);
    await sleep(250);
  }
  return { ms, errors, errorTexts };
}

async function runPhase(f: Fleet, buildDir: string, phase: 'off' | 'on', round0: number): Promise<PhaseResult> {
  const dataDir = mkdtempSync(join(WORK, `fleet-${phase}-`));
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const configFile = join(dataDir, 'pgpulse.json');
  // YAML is a superset of JSON
  writeFileSync(configFile, JSON.stringify({ interval: `${INTERVAL_S}s`, targets: f.targets }));
  const child = spawn(
    process.execPath,
    // bin/pgpulse.js runs what `npm run build` wrote to build/ (buildDir)
    [join(ROOT, 'bin', 'pgpulse.js'), 'serve'],
    {
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        ...(NODE_FLAGS !== undefined ? { PGPULSE_NODE_FLAGS: NODE_FLAGS } : {}),
        PGPULSE_CONFIG: configFile,
        PGPULSE_DATA_DIR: dataDir,
        PGPULSE_TOKEN: TOKEN,
        PGPULSE_HTTP_ADDR: `127.0.0.1:${httpPort}`,
        PGPULSE_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
        PGPULSE_LOG_LEVEL: 'warn',
        PGPULSE_SHARED_READS: phase,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    }
  );
  const pid = child.pid!;
  let round = round0;
  try {
    await waitHttp(`http://127.0.0.1:${httpPort}/healthz`, 60_000);
    // warm-up: two intervals (first reads of texts, sizes, details)
    for (let i = 0; i < 2; i++) {
      await churn(f, round++);
      await sleep(INTERVAL_S * 1000);
    }
    const t0 = Date.now();
    const cpu0 = cpuSeconds(pid);
    const store0 = storeBytes(dataDir);
    const copies = {
      start: join(dataDir, 'copy-start.db'),
      third: join(dataDir, 'copy-third.db'),
      end: join(dataDir, 'copy-end.db'),
    };
    copyStore(dataDir, copies.start);
    const stored0 = storedPoints(dataDir);
    const calls0 = await callsByEntry(f);
    const mon0 = await monitorCost(f.big);
    const texts0 = await monitorTexts(f.big);
    let textsMid: { at: number; texts: MonitorTexts } | undefined;
    const metrics0 = await scrape(httpPort);
    const points0 = sumBy(metrics0, 'pgpulse_store_points_written_total', 'collector');
    const skipped0 = sumBy(metrics0, 'pgpulse_cycles_skipped_total', 'reason').get('overlap') ?? 0;
    const cycleSum0 = sumBy(metrics0, 'pgpulse_sampling_cycle_duration_seconds_sum', 'target');
    const cycleCount0 = sumBy(metrics0, 'pgpulse_sampling_cycle_duration_seconds_count', 'target');
    const end = t0 + MINUTES * 60_000;
    let rssMax = 0;
    const dash = dashboardLoop(
      httpPort,
      f.targets.map((t) => t.name),
      () => Date.now() >= end
    );
    // a copy a third into the phase: every statement has run by then, so what grows from there to
    // the end is the steady growth, without the one-time costs of the phase's first minutes
    let tThird = 0;
    while (Date.now() < end) {
      const tick = Date.now();
      if (tThird === 0 && tick >= t0 + (end - t0) / 3) {
        tThird = Date.now();
        copyStore(dataDir, copies.third);
      }
      await churn(f, round++);
      rssMax = Math.max(rssMax, rss(pid).rssMb);
      if (textsMid === undefined && Date.now() >= t0 + (end - t0) / 2) {
        textsMid = { at: Date.now(), texts: (await monitorTexts(f.big)).texts };
      }
      await sleep(Math.max(0, Math.min(end - Date.now(), INTERVAL_S * 1000 - (Date.now() - tick))));
    }
    const d = await dash;
    const t1 = Date.now();
    const cpu1 = cpuSeconds(pid);
    const rssEnd = rss(pid).rssMb;
    rssMax = Math.max(rssMax, rssEnd);
    const store1 = storeBytes(dataDir);
    copyStore(dataDir, copies.end);
    const stored1 = storedPoints(dataDir);
    const calls1 = await callsByEntry(f);
    const mon1 = await monitorCost(f.big);
    const texts1 = await monitorTexts(f.big);
    const seconds = (t1 - t0) / 1000;
    let active = 0;
    for (const [k, c] of calls1) {
      if (c > (calls0.get(k) ?? 0)) {
        active++;
      }
    }
    const metrics = await scrape(httpPort);
    if (KEEP_COPIES) {
      mkdirSync(KEEP_COPIES, { recursive: true });
      for (const [k, c] of Object.entries(copies)) {
        copyFileSync(c, join(KEEP_COPIES, `${phase}-${k}.db`));
      }
    }
    const packed0 = packCopy(copies.start);
    const packedThird = packCopy(copies.third);
    const packed1 = packCopy(copies.end);
    const anatomyThird = storeAnatomy(copies.third);
    const anatomyEnd = storeAnatomy(copies.end);
    for (const c of Object.values(copies)) {
      dropCopy(c);
    }
    const points1 = sumBy(metrics, 'pgpulse_store_points_written_total', 'collector');
    const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    const cycleS = total(sumBy(metrics, 'pgpulse_sampling_cycle_duration_seconds_sum', 'target')) - total(cycleSum0);
    const cycleN =
      total(sumBy(metrics, 'pgpulse_sampling_cycle_duration_seconds_count', 'target')) - total(cycleCount0);
    const skippedOverlap = (sumBy(metrics, 'pgpulse_cycles_skipped_total', 'reason').get('overlap') ?? 0) - skipped0;
    const storedByCollector = [...stored1]
      .map(([c, n]): [string, number] => [c, n - (stored0.get(c) ?? 0)])
      .sort((a, b) => b[1] - a[1]);
    const pointsByCollector = [...points1]
      .map(([c, n]): [string, number] => [c, n - (points0.get(c) ?? 0)])
      .sort((a, b) => b[1] - a[1]);
    const sharedStats = metrics
      .split('\n')
      .filter((l) => l.startsWith('pgpulse_shared_reads_total'))
      .join('; ');
    // every-interval collector (database, intervalFactor 1): gaps between consecutive samples per target
    const db = new Database(join(dataDir, 'pgpulse.db'), { readonly: true, fileMustExist: true });
    const rows = db
      .prepare(
        `SELECT t.name AS target, s.ts FROM sample s JOIN target t ON t.id = s.target_id
         WHERE s.collector = 'database' AND s.ok = 1 AND s.ts BETWEEN ? AND ? ORDER BY t.name, s.ts`
      )
      .all(t0 - INTERVAL_S * 1000, t1) as Array<{ target: string; ts: number }>;
    db.close();
    let maxGap = 0;
    let worst = '';
    let over = 0;
    let intervals = 0;
    const targetsOver = new Set<string>();
    const byTarget = new Map<string, number[]>();
    for (const r of rows) {
      byTarget.set(r.target, [...(byTarget.get(r.target) ?? []), r.ts]);
    }
    for (const t of f.targets) {
      const ts = byTarget.get(t.name) ?? [];
      // the stretch before the first and after the last sample counts as a gap too
      const edges = [t0, ...ts.filter((x) => x >= t0), t1];
      for (let i = 1; i < edges.length; i++) {
        const gap = (edges[i] - edges[i - 1]) / 1000;
        intervals++;
        if (gap > INTERVAL_S + 2) {
          over++;
          targetsOver.add(t.name);
        }
        if (gap > maxGap) {
          maxGap = gap;
          worst = t.name;
        }
      }
    }
    const growthPerDay = ((store1 - store0) / seconds) * 86_400;
    const cycles = seconds / INTERVAL_S;
    const sorted = d.ms;
    return {
      phase,
      seconds,
      maxGapS: maxGap,
      worstTarget: worst,
      intervalsOver: over,
      intervals,
      cpuPct: ((cpu1 - cpu0) / seconds) * 100,
      rssMaxMb: rssMax,
      rssEndMb: rssEnd,
      growthMbPerDay: growthPerDay / 1e6,
      activeStatements: active,
      growthPerDayPer1k: growthPerDay / 1e6 / (active / 1000),
      packedPerDayPer1k: (((packed1 - packed0) / seconds) * 86_400) / 1e6 / (active / 1000),
      slopePerDayPer1k: (((packed1 - packedThird) / ((t1 - tThird) / 1000)) * 86_400) / 1e6 / (active / 1000),
      thirdToEndS: (t1 - tThird) / 1000,
      packedMb: { start: packed0 / 1e6, third: packedThird / 1e6, end: packed1 / 1e6 },
      anatomyThird,
      anatomyEnd,
      storeEndMb: store1 / 1e6,
      monitorMsPerCycle: (mon1.ms - mon0.ms) / cycles,
      monitorCallsPerCycle: (mon1.calls - mon0.calls) / cycles,
      monitorTop: topMonitorStatements(texts0.texts, textsMid?.texts ?? texts0.texts, texts1.texts, [
        ((textsMid?.at ?? t0) - t0) / 1000 / INTERVAL_S || 1,
        (t1 - (textsMid?.at ?? t0)) / 1000 / INTERVAL_S,
      ]),
      pgssDealloc: texts1.dealloc - texts0.dealloc,
      dashboard: {
        n: sorted.length,
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        max: percentile(sorted, 100),
        errors: d.errors,
        texts: [...d.errorTexts].map(([t, n]) => `${n}× ${t}`),
      },
      sharedStats,
      pointsByCollector,
      storedByCollector,
      targets: f.targets.length,
      targetsOver: targetsOver.size,
      skippedOverlap,
      cycleMeanS: cycleS / Math.max(1, cycleN),
    };
  } finally {
    const exited =
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve()
        : new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** points a chunk holds in steady state (store/chunks.ts CHUNK_POINTS) */
const STEADY_CHUNK = 128;

/**
 * The packed growth taken apart (a phase's copies a third in and at the end, dbstat): what grows per
 * day with the points and with the samples, what a statement costs once, and how it scales.
 */
export function growthSection(
  r: Pick<
    PhaseResult,
    | 'activeStatements'
    | 'anatomyEnd'
    | 'anatomyThird'
    | 'packedMb'
    | 'packedPerDayPer1k'
    | 'slopePerDayPer1k'
    | 'targets'
    | 'thirdToEndS'
  >
): string {
  const a = r.anatomyThird;
  const b = r.anatomyEnd;
  const perDay = 86_400 / r.thirdToEndS;
  const size = (x: Anatomy, names: string[]) =>
    names.reduce((sum, n) => sum + (x.objects.find((o) => o.name === n)?.bytes ?? 0), 0);
  const groups: Array<[string, string[]]> = [
    ['chunks (`point_chunk` + index)', ['point_chunk', 'point_chunk_by_series']],
    ['sample rows (`sample_row` + 3 indexes, `sample_stream`; `sample` before migration 10)', SAMPLE_TABLES],
    ['series (+ 2 indexes)', ['series', 'sqlite_autoindex_series_1', 'series_by_field']],
    ["point rows (each series' newest)", ['point']],
    ['entity, statement_text', ['entity', 'statement_text']],
  ];
  const named = new Set(groups.flatMap(([, n]) => n));
  const rest = (x: Anatomy) => x.objects.filter((o) => !named.has(o.name)).reduce((sum, o) => sum + o.bytes, 0);
  const k = r.activeStatements / 1000;
  const mbDay = (bytes: number) => (bytes * perDay) / 1e6;
  const lines = groups.map(([label, names]) => {
    const d = size(b, names) - size(a, names);
    return `| ${label} | ${fmt(size(b, names) / 1e6, 2)} MB | ${fmt(mbDay(d) / k)} MB |`;
  });
  lines.push(`| everything else | ${fmt(rest(b) / 1e6, 2)} MB | ${fmt(mbDay(rest(b) - rest(a)) / k)} MB |`);
  // what the slope leaves out: a chunk's row, index entry and whole first point, once per
  // STEADY_CHUNK points in steady state (a phase this short fills one chunk per series)
  const chunkPoints = b.chunkedPoints - a.chunkedPoints;
  const overhead =
    (b.chunkBytes - b.blobBytes) / Math.max(1, b.chunks) +
    b.fields.reduce((sum, f) => sum + f.first + f.header, 0) / Math.max(1, b.chunks);
  const amortized = mbDay((chunkPoints / STEADY_CHUNK) * overhead) / k;
  const pointBytes = (size(b, groups[0][1]) - size(a, groups[0][1])) / Math.max(1, chunkPoints);
  const samples = b.samples - a.samples;
  const sampleBytes = (size(b, groups[1][1]) - size(a, groups[1][1])) / Math.max(1, samples);
  // one-time: what exists per series or statement whatever the history's length
  const oneTime = size(b, groups[2][1]) + size(b, groups[3][1]) + size(b, groups[4][1]) + b.chunks * overhead;
  const statementsSeen = b.statementTexts;
  return `Packed growth taken apart (dbstat of the packed copies a third into the phase and at its end,
${fmt(r.thirdToEndS, 0)} s apart; every series packed whatever its count):

| | at the end | growth per day per 1,000 active statements, a third in → end |
|---|---:|---:|
${lines.join('\n')}
| **all (the slope)** | ${fmt(r.packedMb.end, 2)} MB | **${fmt(r.slopePerDayPer1k)} MB** |
| + chunk overhead at ${STEADY_CHUNK} points a chunk (row, index entry, first point whole: ${fmt(overhead, 1)} B a chunk) | | ${fmt(amortized)} MB |
| **steady growth per day per 1,000 active statements** | | **${fmt(r.slopePerDayPer1k + amortized)} MB** |

Per point in chunks ${fmt(pointBytes, 2)} B (pages included), per sample row ${fmt(sampleBytes, 1)} B (${fmt(
    (samples * perDay) / r.targets,
    0
  )} samples per target and day); ${fmt(mbDay(size(b, groups[1][1]) - size(a, groups[1][1])) / r.targets, 1)} MB per target and day are sample rows, whatever its statements.
One-time (exists once per series, statement, chunk, whatever the history's length): ${fmt(oneTime / 1e6, 2)} MB for
${b.series.toLocaleString('en-US')} series of ${statementsSeen.toLocaleString('en-US')} statements seen and the fleet's tables, indexes and server views,
${fmt(oneTime / Math.max(1, statementsSeen) / 1000, 1)} kB per statement seen. Start → end (the previous measure,
one-time costs of the phase and one chunk per series included): ${fmt(r.packedPerDayPer1k)} MB per day per 1,000 active statements.

Bytes by table and index, and per chunked point by field and part, at the end (packed):

${anatomyTables(b)}
`;
}

function table(rs: PhaseResult[]): string {
  const head = `| | ${rs.map((r) => `shared reads **${r.phase}**`).join(' | ')} | goal |\n|---|${rs.map(() => '---:').join('|')}|---|`;
  const row = (label: string, f: (r: PhaseResult) => string, goal: string) =>
    `| ${label} | ${rs.map(f).join(' | ')} | ${goal} |`;
  return [
    head,
    row(
      'longest gap between two samples of one target (every-interval collector)',
      (r) => `${fmt(r.maxGapS)} s (${r.worstTarget})`,
      `≤ ${INTERVAL_S + 2} s`
    ),
    row(
      'intervals longer than interval + 2 s (targets with one)',
      (r) => `${r.intervalsOver} of ${r.intervals} (${r.targetsOver} of ${r.targets})`,
      '0'
    ),
    row(
      'cycles skipped (previous still running); mean cycle wall time',
      (r) => `${fmt(r.skippedOverlap, 0)}; ${fmt(r.cycleMeanS, 2)} s`,
      ''
    ),
    row('sidecar CPU, % of one core', (r) => `${fmt(r.cpuPct)} %`, '< 25 %'),
    row('sidecar RSS, max / at the end', (r) => `${fmt(r.rssMaxMb)} / ${fmt(r.rssEndMb)} MB`, '≤ 300 MB'),
    row('store growth, extrapolated per day', (r) => `${fmt(r.growthMbPerDay)} MB`, ''),
    row(
      'store points written per 15 s, by collector (largest 5)',
      (r) =>
        r.pointsByCollector
          .slice(0, 5)
          .map(([c, n]) => `${c} ${fmt((n / r.seconds) * INTERVAL_S, 0)}`)
          .join(', '),
      ''
    ),
    row(
      'store points added per 15 s, by collector, counted in the file (largest 6, with the 1 s load buckets)',
      (r) =>
        r.storedByCollector
          .slice(0, 6)
          .map(([c, n]) => `${c} ${fmt((n / r.seconds) * INTERVAL_S, 0)}`)
          .join(', '),
      ''
    ),
    row('active statements (calls moved during the phase)', (r) => fmt(r.activeStatements, 0), ''),
    row(
      'store growth per day per 1,000 active statements, as written (rows)',
      (r) => `${fmt(r.growthPerDayPer1k)} MB`,
      ''
    ),
    row(
      'store growth per day per 1,000 active statements, packed as compaction packs history older than the head window, start → end',
      (r) => `${fmt(r.packedPerDayPer1k)} MB`,
      ''
    ),
    row(
      'store growth per day per 1,000 active statements, packed, steady: a third into the phase → its end (one-time costs excluded; below)',
      (r) => `${fmt(r.slopePerDayPer1k)} MB`,
      '≤ 50 MB'
    ),
    row(
      'sampling database time on the big cluster per 15 s, calls',
      (r) => `${fmt(r.monitorMsPerCycle)} ms, ${fmt(r.monitorCallsPerCycle, 0)} calls`,
      ''
    ),
    row(
      'dashboard panel p50 / p95 / **p99** / max while sampling',
      (r) =>
        `${fmt(r.dashboard.p50)} / ${fmt(r.dashboard.p95)} / **${fmt(r.dashboard.p99)}** / ${fmt(r.dashboard.max)} ms (${r.dashboard.n} queries, ${r.dashboard.errors} errors)`,
      'p99 < 500 ms'
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  // build/ exactly as `npm run build:sidecar` writes it: serve finds the gRPC .proto files from there
  const buildDir = join(ROOT, 'build');
  compileSidecar();
  const started = Date.now();
  process.stderr.write(`starting 1 cluster with ${DATABASES} databases and ${SERVERS} small servers …\n`);
  const f = await startFleet();
  const results: PhaseResult[] = [];
  try {
    const statements = await seedStatements(f);
    process.stderr.write(`${statements} statements seeded (setup ${Math.round((Date.now() - started) / 1000)} s)\n`);
    let round = 0;
    for (const phase of PHASES) {
      process.stderr.write(`phase shared reads ${phase}: ${MINUTES} min …\n`);
      results.push(await runPhase(f, buildDir, phase, round));
      round += 100;
      process.stderr.write(`${JSON.stringify(results[results.length - 1])}\n`);
    }
    const load = loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
    const path = writeResult(
      'fleet-scale.md',
      `# Fleet scale: one sidecar, ${DATABASES} databases of one cluster + ${SERVERS} servers

${f.targets.length} targets (${DATABASES} databases of one PostgreSQL 15 cluster, ${SERVERS} separate PostgreSQL 15
servers on loopback with shared_buffers 16MB), sampled every ${INTERVAL_S} s by one sidecar (compiled, its own process
started as users and the image start it, \`node bin/pgpulse.js serve\` with ${NODE_FLAGS !== undefined ? `PGPULSE_NODE_FLAGS='${NODE_FLAGS}'` : 'its own node flags'} and ${process.env.PGPULSE_ALLOCATOR === 'system' ? "glibc's malloc" : 'jemalloc when installed'}; default collectors including the 1 s activity sampler), ${MINUTES} min per phase after a warm-up of two intervals.
pg_stat_statements holds ${statements} application statements (${PER_DB} in each database of the cluster,
${PER_SERVER} on each small server); every interval a rotating ${CHURN * 100} % of them runs again. A dashboard loop
queries one of ${PANELS.map((p) => p.metric).join(', ')} over the last hour for a rotating target every 250 ms.
Same servers for both phases; each phase starts with an empty store. Store growth is given as written
(rows, what the head window holds) and packed: a copy of the store at each end of the phase compacted
with a head window of 0 (every point but each series' newest packed, as hourly compaction packs history
older than the head window), then VACUUM; a series packs once 32 of its points have gathered. Load average at the end: ${load}.

${table(results)}

${results.map((r) => `### Store growth, shared reads ${r.phase}\n\n${growthSection(r)}`).join('\n')}

Dashboard errors: ${results.flatMap((r) => r.dashboard.texts.map((t) => `${r.phase}: ${t}`)).join('; ') || 'none'}.

The monitoring role's costliest statements on the big cluster (summed over its databases by
normalised text; database time and calls per 15 s, first half / second half of the phase; a
statement of a slow-cadence collector runs in some cycles only):

${results
  .map(
    (r) =>
      `Phase ${r.phase} (pg_stat_statements entries evicted during the phase: ${r.pgssDealloc}):\n\n| statement | ms per 15 s | calls per 15 s |\n|---|---:|---:|\n${r.monitorTop
        .map(
          (t) =>
            `| \`${t.text.replace(/\|/g, '\\|')}\` | ${fmt(t.msPerCycle[0], 2)} / ${fmt(t.msPerCycle[1], 2)} | ${fmt(t.callsPerCycle[0], 1)} / ${fmt(t.callsPerCycle[1], 1)} |`
        )
        .join('\n')}`
  )
  .join('\n\n')}

Shared-read counters of the "on" phase (\`source="server"\`: reads that went to a server, \`source="shared"\`:
results taken from another target's read of the same server):

${
  results
    .find((r) => r.phase === 'on')
    ?.sharedStats?.split('; ')
    .map((l) => `- \`${l}\``)
    .join('\n') || 'n/a'
}
`
    );
    process.stderr.write(`wrote ${path}\n`);
  } finally {
    await Promise.all([f.big, ...f.small].map((pg) => pg.destroy().catch(() => undefined)));
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)} (cause: ${String((e as Error).cause)})\n`);
    process.exit(1);
  });
}
