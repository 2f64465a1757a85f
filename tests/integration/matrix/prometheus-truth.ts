/**
 * /metrics against ground truth, through a pg_monitor-only role (registered in matrix.ts SUITES):
 * - counters are exposed as they are in pg_stat_* right after the sample: the test's N sequential
 *   scans move pgpulse_tables_seq_scan_total by exactly N, and pg_stat_database's counters of a
 *   database only the test uses equal what PostgreSQL reports;
 * - pgpulse_cache_hit_ratio equals Δblks_hit / (Δblks_hit + Δblks_read) of that database between
 *   the two samples, from pg_stat_database read right after each;
 * - with topStatements 3, exactly the three statements with the highest total_exec_time (read
 *   from pg_stat_statements) are exposed, and the rest is counted as omitted;
 * - promtool (Prometheus' own parser and linter) accepts the live exposition.
 * Objects are named pt_* apart from other suites; it calls pg_stat_statements_reset() once.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import type { TestPostgres } from '../../support/pg';
import type { MatrixServer } from '../../support/pg-matrix';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { pause } from './frames';

const DB = 'pt_db';
const SCANS = 5;
const XACTS = 12;
const ROLE = 'pt_monitor';

/** value of one series on the exposition; undefined when absent */
function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) {
      continue;
    }
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  // statistics reach the shared view when the backend flushes them (at exit, PG15+; via the stats collector, PG14)
  for (let i = 0; i < 100; i++) {
    if (await check()) {
      return;
    }
    await pause(100);
  }
  assert.fail(`statistics never showed ${what}`);
}

export function prometheusTruthSuite(server: MatrixServer, getPg: () => TestPostgres): void {
  describe(`${server.label}: /metrics against ground truth (pg_monitor-only role)`, () => {
    let pg: TestPostgres;
    let sc: TestSidecar;

    const scrape = async () => {
      const m = await sc.get('/metrics');
      assert.equal(m.status, 200);
      return m.text;
    };
    const dbTruth = async () =>
      (
        await pg.query<{ xact_commit: string; blks_hit: string; blks_read: string }>(
          `SELECT xact_commit::text, blks_hit::text, blks_read::text FROM pg_catalog.pg_stat_database WHERE datname = $1`,
          [DB]
        )
      ).map((r) => ({ commit: Number(r.xact_commit), hit: Number(r.blks_hit), read: Number(r.blks_read) }))[0];
    const seqScans = async () =>
      Number(
        (
          await pg.query<{ n: string }>(
            `SELECT seq_scan::text AS n FROM pg_catalog.pg_stat_user_tables WHERE relid = 'public.pt_scan'::regclass`
          )
        )[0].n
      );

    before(async () => {
      pg = getPg();
      await pg.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${ROLE}') THEN
          CREATE ROLE ${ROLE} LOGIN PASSWORD 'ptpw' IN ROLE pg_monitor;
        END IF; END $$`);
      if ((await pg.query(`SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1`, [DB])).length === 0) {
        await pg.query(`CREATE DATABASE ${DB} TEMPLATE template0`);
      }
      await pg.query(
        "CREATE TABLE IF NOT EXISTS public.pt_blocks AS SELECT g AS id, repeat('x', 100) AS pad FROM pg_catalog.generate_series(1, 5000) g",
        [],
        DB
      );
      // in the database the sidecar connects to: the tables collector reads the connected database
      await pg.query(
        'CREATE TABLE IF NOT EXISTS public.pt_scan AS SELECT g AS id FROM pg_catalog.generate_series(1, 1000) g'
      );
      sc = await startTestSidecar({
        url: pg.urlFor('postgres', ROLE, 'ptpw'),
        metrics: { topStatements: 3, topRelations: 1000 },
      });
    });
    after(async () => {
      await sc?.destroy();
      await pg?.query('DROP TABLE IF EXISTS public.pt_scan').catch(() => undefined);
    });

    it(`counters equal pg_stat_* after each sample; ${SCANS} scans move seq_scan by ${SCANS}; the cache hit ratio is Δhit / (Δhit + Δread)`, async () => {
      await sc.sampleNow();
      const scans0 = await seqScans();
      const db0 = await dbTruth();
      const m0 = await scrape();
      assert.equal(value(m0, 'pgpulse_tables_seq_scan_total', { relname: 'pt_scan' }), scans0);
      assert.equal(value(m0, 'pgpulse_database_xact_commit_total', { target: 'default', datname: DB }), db0.commit);

      const scanner = new Client({ connectionString: pg.url });
      await scanner.connect();
      for (let i = 0; i < SCANS; i++) {
        await scanner.query('SELECT count(*) FROM public.pt_scan');
      }
      await scanner.end();
      const worker = new Client({ connectionString: pg.urlFor(DB) });
      await worker.connect();
      for (let i = 0; i < XACTS; i++) {
        await worker.query('SELECT sum(id) FROM public.pt_blocks');
      }
      await worker.end();
      await waitFor(`${SCANS} scans of pt_scan`, async () => (await seqScans()) === scans0 + SCANS);
      await waitFor(`${XACTS} commits in ${DB}`, async () => (await dbTruth()).commit >= db0.commit + XACTS);

      await sc.sampleNow();
      const scans1 = await seqScans();
      const db1 = await dbTruth();
      const m1 = await scrape();
      assert.equal(scans1, scans0 + SCANS, 'nothing else scanned pt_scan');
      assert.equal(value(m1, 'pgpulse_tables_seq_scan_total', { relname: 'pt_scan' }), scans1);
      assert.equal(value(m1, 'pgpulse_database_xact_commit_total', { datname: DB }), db1.commit);
      assert.equal(value(m1, 'pgpulse_database_blks_hit_total', { datname: DB }), db1.hit);
      const dh = db1.hit - db0.hit;
      const dr = db1.read - db0.read;
      assert.ok(dh + dr > 0, `the workload touched blocks in ${DB}`);
      assert.equal(value(m1, 'pgpulse_cache_hit_ratio', { target: 'default', datname: DB }), dh / (dh + dr));
      assert.match(m1, /^# TYPE pgpulse_database_xact_commit_total counter$/m);
      assert.match(
        m1,
        /^# HELP pgpulse_cache_hit_ratio Cache hit ratio: Share of block reads served from shared buffers/m
      );
    });

    it('only the top 3 statements by total time are exposed, the others are counted as omitted', async () => {
      await pg.query('SELECT public.pg_stat_statements_reset()');
      const c = new Client({ connectionString: pg.url });
      await c.connect();
      // five statements of distinct shape, each slower than the one before: the top 3 are the last 3
      const shapes = [
        'SELECT pg_catalog.pg_sleep($1)',
        'SELECT pg_catalog.pg_sleep($1), 1',
        'SELECT pg_catalog.pg_sleep($1), 1, 2',
        'SELECT pg_catalog.pg_sleep($1), 1, 2, 3',
        'SELECT pg_catalog.pg_sleep($1), 1, 2, 3, 4',
      ];
      for (const [i, sql] of shapes.entries()) {
        await c.query(sql, [0.02 * (i + 1)]);
      }
      await c.end();
      await sc.sampleNow();
      const m = await scrape();
      const others = `FROM public.pg_stat_statements s JOIN pg_catalog.pg_roles r ON r.oid = s.userid WHERE s.toplevel AND r.rolname <> '${ROLE}'`;
      // counted first: each truth query adds its own entry once it has run
      const total = Number((await pg.query<{ n: string }>(`SELECT count(*)::text AS n ${others}`))[0].n);
      const top = await pg.query<{ queryid: string; query: string }>(
        `SELECT s.queryid::text AS queryid, s.query ${others} ORDER BY s.total_exec_time DESC LIMIT 3`
      );
      assert.ok(
        top.every((t) => /pg_sleep/.test(t.query)),
        `the slowest statements are the test's: ${JSON.stringify(top)}`
      );
      const exposed = m
        .split('\n')
        .filter((l) => l.startsWith('pgpulse_statements_calls_total{'))
        .map((l) => /queryid="(-?\d+)"/.exec(l)?.[1])
        .sort();
      assert.deepEqual(exposed, top.map((t) => t.queryid).sort());
      assert.equal(value(m, 'pgpulse_metrics_rows_omitted', { collector: 'statements' }), total - 3);
    });

    it("each collector's database time is at least what pg_stat_statements records for its queries, and at most its wall time", async () => {
      const labels = { target: 'default', collector: 'database' };
      const read = (m: string) => ({
        db: value(m, 'pgpulse_collector_db_seconds_total', labels) ?? NaN,
        run: value(m, 'pgpulse_collector_run_seconds_total', labels) ?? NaN,
        runs: value(m, 'pgpulse_collector_runs_total', labels) ?? NaN,
      });
      const role = `(SELECT oid FROM pg_catalog.pg_roles WHERE rolname = '${ROLE}')`;
      // only the sidecar's own entries are forgotten: the database collector's statement starts afresh
      await pg.query(`SELECT public.pg_stat_statements_reset(${role}, 0, 0)`);
      const m0 = read(await scrape());
      const CYCLES = 3;
      for (let i = 0; i < CYCLES; i++) {
        await sc.sampleNow();
      }
      const m1 = read(await scrape());
      const truth = await pg.query<{ calls: string; ms: number }>(
        `SELECT coalesce(sum(calls), 0)::text AS calls, coalesce(sum(total_exec_time), 0)::float8 AS ms
           FROM public.pg_stat_statements WHERE userid = ${role} AND query LIKE '%d.xact_commit, d.xact_rollback%'`
      );
      assert.equal(m1.runs - m0.runs, CYCLES);
      assert.equal(Number(truth[0].calls), CYCLES, 'one read of pg_stat_database per run');
      const db = m1.db - m0.db;
      const run = m1.run - m0.run;
      assert.ok(db >= truth[0].ms / 1000, `waited ${db} s ≥ executed ${truth[0].ms / 1000} s`);
      assert.ok(db <= run, `database time ${db} s ≤ wall time ${run} s`);
      assert.match(await scrape(), /^# TYPE pgpulse_collector_db_seconds_total counter$/m);
    });

    it('promtool accepts the live exposition (only prom-client’s nodejs_active_*_total gauges draw a lint note)', async () => {
      const r = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: await scrape(), encoding: 'utf8' });
      assert.equal(r.error, undefined, 'promtool runs (apt-get install prometheus ships it)');
      const problems = `${r.stdout}${r.stderr}`
        .split('\n')
        .filter(
          (l) =>
            l.trim() !== '' &&
            !/^pgpulse_nodejs_active_\w+_total non-counter metrics should not have "_total" suffix$/.test(l)
        );
      assert.ok(r.status === 0 || r.status === 3, `promtool exit ${r.status}: ${problems.join('\n')}`);
      assert.deepEqual(problems, []);
    });
  });
}
