/**
 * The statements workload the sampling benchmarks share: 500 tables with 2,000 indexes and 5,000
 * distinct pg_stat_statements entries in database "app", a monitoring role pgpulse_mon, and a churn
 * that re-runs 10 % of the statements so counters move between cycles.
 */
import { Client } from 'pg';
import type { TestPostgres } from '../tests/support/pg';

export const TABLES = 500; // × (primary key + 3 indexes) = 2,000 indexes
export const VARIANTS = 10; // × 500 tables = 5,000 distinct statements

export function statementText(k: number, v: number): string {
  return `SELECT id${', a'.repeat(v)} FROM t${k} WHERE id = ${(k % 20) + 1}`;
}

export async function setup(pg: TestPostgres): Promise<{ entries: number; indexes: number }> {
  await pg.query('CREATE DATABASE app');
  await pg.query('CREATE ROLE pgpulse_mon LOGIN IN ROLE pg_monitor');
  await pg.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements', [], 'app');
  await pg.query(
    `DO $$ BEGIN FOR k IN 0..${TABLES - 1} LOOP
       EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, a int, b int, c text)', k);
       EXECUTE format('CREATE INDEX ON t%s (a)', k);
       EXECUTE format('CREATE INDEX ON t%s (b)', k);
       EXECUTE format('CREATE INDEX ON t%s (c)', k);
       EXECUTE format('INSERT INTO t%s SELECT g, g %% 7, g %% 11, md5(g::text) FROM generate_series(1, 20) g', k);
     END LOOP; END $$`,
    [],
    'app'
  );
  await pg.query('ANALYZE', [], 'app');
  const c = new Client({ connectionString: pg.urlFor('app') });
  await c.connect();
  for (let k = 0; k < TABLES; k++) {
    for (let v = 0; v < VARIANTS; v++) {
      await c.query(statementText(k, v));
    }
  }
  await c.end();
  const [{ n }] = await pg.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM pg_stat_statements(false) WHERE query IS NULL OR true',
    [],
    'app'
  );
  const [{ i }] = await pg.query<{ i: string }>('SELECT count(*)::text AS i FROM pg_stat_user_indexes', [], 'app');
  return { entries: Number(n), indexes: Number(i) };
}

/** re-run 10 % of the statements, so each cycle has changed counters to store */
export async function churn(pg: TestPostgres, seed: number): Promise<void> {
  const c = new Client({ connectionString: pg.urlFor('app'), application_name: 'bench-workload' });
  await c.connect();
  const n = TABLES * VARIANTS;
  for (let j = 0; j < n / 10; j++) {
    const x = (j * 7919 + seed * 104729) % n;
    await c.query(statementText(Math.floor(x / VARIANTS), x % VARIANTS));
  }
  await c.end();
}
