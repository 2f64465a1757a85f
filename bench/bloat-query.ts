/**
 * The bloat collector's statistics query (src/model/catalog/bloat-sql.ts) against its form at
 * BENCH_BASELINE_REV (default d6c0917, where pg_stats was read once for the tables and again for
 * their indexes): the same rows, and the PostgreSQL backend's CPU time per run (utime + stime of the
 * backend process from /proc over BENCH_RUNS runs, so the machine's load does not enter it), as a
 * superuser and as a pg_monitor role that may SELECT only some of the tables. One PostgreSQL 15
 * database: 12 tables in public and 12 in a second schema, B-tree indexes plain and on an
 * expression, half of them analyzed. Writes bench/results/bloat-query.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { BLOAT_STATISTICS_SQL } from '../src/model/catalog/bloat-sql';
import { startPostgres } from '../tests/support/pg';
import { ROOT, WORK, writeResult } from './lib';

const BASELINE_REV = process.env.BENCH_BASELINE_REV ?? 'd6c0917';
const RUNS = Number(process.env.BENCH_RUNS ?? 100);

/** the baseline's query text, from git (the module is data: one exported template of SQL) */
async function baselineSql(): Promise<string> {
  const src = execFileSync('git', ['show', `${BASELINE_REV}:src/model/catalog/bloat-sql.ts`], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  mkdirSync(WORK, { recursive: true });
  const file = join(WORK, `bloat-sql-${BASELINE_REV}.ts`);
  writeFileSync(file, src);
  return ((await import(file)) as { BLOAT_STATISTICS_SQL: string }).BLOAT_STATISTICS_SQL;
}

async function main(): Promise<void> {
  const before = await baselineSql();
  const pg = await startPostgres();
  const lines: string[] = [];
  try {
    await pg.query('CREATE ROLE bloat_mon LOGIN IN ROLE pg_monitor');
    await pg.query('CREATE DATABASE bloat');
    await pg.query(
      `CREATE SCHEMA s2; DO $$ BEGIN FOR k IN 0..11 LOOP
         EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, a int, b text)', k);
         EXECUTE format('CREATE TABLE s2.t%s (id int PRIMARY KEY, a int, b text) WITH (fillfactor = 70)', k);
         EXECUTE format('CREATE INDEX ON t%s (a, b)', k);
         EXECUTE format('CREATE INDEX ON t%s (lower(b))', k);
         EXECUTE format('INSERT INTO t%s SELECT g, g %% 7, CASE WHEN g %% 3 = 0 THEN NULL ELSE repeat(''x'', g %% 40) END FROM generate_series(1, 5000) g', k);
         EXECUTE format('INSERT INTO s2.t%s SELECT g, g, ''y'' FROM generate_series(1, 3000) g', k);
         IF k % 2 = 0 THEN EXECUTE format('ANALYZE t%s', k); EXECUTE format('ANALYZE s2.t%s', k); END IF;
       END LOOP; END $$`,
      [],
      'bloat'
    );
    await pg.query('GRANT SELECT ON ALL TABLES IN SCHEMA public TO bloat_mon', [], 'bloat');
    const roles: Array<[string, string]> = [
      ['superuser', pg.urlFor('bloat')],
      ['pg_monitor, SELECT on public only', pg.urlFor('bloat', 'bloat_mon')],
    ];
    for (const [who, url] of roles) {
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        const pid = (await c.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0].p;
        const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
        const cpuMs = () => {
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          return ((Number(f[11]) + Number(f[12])) / hz) * 1000;
        };
        const rows = async (sql: string) =>
          (await c.query(sql)).rows
            .map((r) => JSON.stringify(r))
            .sort()
            .join('\n');
        const perRun = async (sql: string) => {
          const t0 = cpuMs();
          for (let i = 0; i < RUNS; i++) {
            await c.query(sql);
          }
          return (cpuMs() - t0) / RUNS;
        };
        const same = (await rows(before)) === (await rows(BLOAT_STATISTICS_SQL));
        const n = (await c.query(BLOAT_STATISTICS_SQL)).rowCount;
        // alternated twice: a drift of the machine shows as a difference between the pairs
        const a1 = await perRun(before);
        const b1 = await perRun(BLOAT_STATISTICS_SQL);
        const a2 = await perRun(before);
        const b2 = await perRun(BLOAT_STATISTICS_SQL);
        lines.push(
          `| ${who} | ${same ? 'yes' : '**no**'} (${n} rows) | ${a1.toFixed(2)} / ${a2.toFixed(2)} ms | ${b1.toFixed(2)} / ${b2.toFixed(2)} ms |`
        );
      } finally {
        await c.end();
      }
    }
  } finally {
    await pg.destroy();
  }
  const path = writeResult(
    'bloat-query.md',
    `# Bloat statistics query: backend CPU per run

PostgreSQL 15, one database with 24 tables (12 in public, 12 in a second schema with fillfactor 70;
B-tree indexes plain and on an expression; half analyzed). CPU time of the backend process
(utime + stime from /proc) over ${RUNS} runs each, alternated twice; the same rows compared first.
Baseline: the query at ${BASELINE_REV}.

| role | same rows as the baseline | baseline (two passes) | now (two passes) |
|---|---|---:|---:|
${lines.join('\n')}
`
  );
  process.stderr.write(`wrote ${path}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
