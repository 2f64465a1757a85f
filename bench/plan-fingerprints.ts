/**
 * What one plan-fingerprint round costs (targets[].plans sampleTopN / sampleInterval): PostgreSQL 15
 * with 5,000 distinct pg_stat_statements entries, the sidecar in-process, one round per run for
 * sampleTopN = 5 (the default) and 20. Database time is read from pg_stat_statements for the
 * monitoring role (its EXPLAINs and the text read), wall time around FingerprintSampler.tick().
 * Writes bench/results/plan-fingerprints.md. Not part of CI; no test asserts on timings.
 */
import { Client } from 'pg';
import { startPostgres, type TestPostgres } from '../tests/support/pg';
import { startTestSidecar } from '../tests/support/sidecar';
import { plansOf } from '../src/sidecar/plans';
import { fmt, median, sleep, writeResult } from './lib';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const TABLES = 200;
const VARIANTS = 25; // × 200 tables = 5,000 distinct statements
const ROLE = 'plans_mon';

async function dbTime(pg: TestPostgres): Promise<{ ms: number; calls: number }> {
  const r = await pg.query<{ ms: number; calls: string }>(
    `SELECT coalesce(sum(total_exec_time + total_plan_time), 0)::float8 AS ms, coalesce(sum(calls), 0)::text AS calls
     FROM pg_stat_statements(false) s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = $1`,
    [ROLE],
    'app'
  );
  return { ms: r[0].ms, calls: Number(r[0].calls) };
}

async function main(): Promise<void> {
  const pg = await startPostgres({ settings: { 'pg_stat_statements.max': '10000' } });
  try {
    await pg.query('CREATE DATABASE app');
    await pg.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD 'pw' IN ROLE pg_monitor`);
    await pg.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements', [], 'app');
    await pg.query(
      `DO $$ BEGIN FOR k IN 0..${TABLES - 1} LOOP
         EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, a int, b int, c text)', k);
         EXECUTE format('CREATE INDEX ON t%s (a)', k);
         EXECUTE format('INSERT INTO t%s SELECT g, g %% 7, g %% 11, md5(g::text) FROM generate_series(1, 200) g', k);
       END LOOP; END $$`,
      [],
      'app'
    );
    await pg.query('ANALYZE', [], 'app');
    await pg.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${ROLE}`, [], 'app');
    const app = new Client({ connectionString: pg.urlFor('app') });
    await app.connect();
    const stmt = (k: number, v: number) => `SELECT id${', a'.repeat(v)} FROM t${k} WHERE a = $1 AND b < $2`;
    for (let k = 0; k < TABLES; k++) {
      for (let v = 0; v < VARIANTS; v++) {
        await app.query(stmt(k, v), [1, 5]);
      }
    }
    const entries = Number(
      (await pg.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_stat_statements', [], 'app'))[0].n
    );
    const lines: string[] = [];
    for (const topN of [5, 20]) {
      const sc = await startTestSidecar({
        targets: [
          { name: 'default', url: pg.urlFor('app', ROLE, 'pw'), plans: { sampleTopN: topN, sampleInterval: '1h' } },
        ],
      });
      try {
        await sc.sampleNow();
        // the top statements of the range: 20 of them run more often between two samples
        for (let i = 0; i < 30; i++) {
          for (let k = 0; k < 20; k++) {
            await app.query(stmt(k, 0), [i % 7, 5]);
          }
        }
        await sleep(1100);
        await sc.sampleNow();
        const fp = plansOf(sc.sidecar.service).get('default')!.fingerprints!;
        const wall: number[] = [];
        const db: number[] = [];
        const calls: number[] = [];
        let checked = 0;
        for (let r = 0; r < RUNS; r++) {
          const before = await dbTime(pg);
          const t = process.hrtime.bigint();
          const rep = await fp.tick();
          wall.push(Number(process.hrtime.bigint() - t) / 1e6);
          await sleep(600); // pg_stat_statements counts a statement when it ends; the last one is in by now
          const after = await dbTime(pg);
          db.push(after.ms - before.ms);
          calls.push(after.calls - before.calls);
          checked = rep.checked.length;
        }
        lines.push(`| ${topN} | ${checked} | ${fmt(median(wall))} ms | ${fmt(median(db), 2)} ms | ${median(calls)} |`);
      } finally {
        await sc.destroy();
      }
    }
    await app.end();
    const path = writeResult(
      'plan-fingerprints.md',
      `# Plan fingerprint round (bench/plan-fingerprints.ts)

PostgreSQL 15, ${entries} pg_stat_statements entries, ${TABLES} tables; the sidecar in-process; ${RUNS} rounds per setting, medians.
A round = the top N statements by total time from the store, one pg_stat_statements(true) read for their texts, one EXPLAIN per statement in its database.
Database time and statements are pg_stat_statements' own numbers for the monitoring role (${ROLE}).

| sampleTopN | statements explained | wall time per round | database time per round | statements executed per round |
|---:|---:|---:|---:|---:|
${lines.join('\n')}

At the default (5 every 15 minutes) that is one round per 900 s.
`
    );
    console.log(`wrote ${path}`);
  } finally {
    await pg.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
