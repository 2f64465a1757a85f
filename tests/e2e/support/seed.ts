/**
 * The workload the browser tests look at: a small shop database with known table statistics.
 * Autovacuum is off for `orders` so its dead tuples stay where the test put them.
 */
import type { TestPostgres } from '../../support/pg';

export const SHOP_DB = 'shop';

export async function seedShop(pg: TestPostgres): Promise<void> {
  await pg.query(`CREATE DATABASE ${SHOP_DB}`);
  const statements = [
    'CREATE EXTENSION IF NOT EXISTS pg_stat_statements',
    'CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, note text) WITH (autovacuum_enabled = false)',
    'CREATE INDEX orders_customer_idx ON orders (customer)',
    "INSERT INTO orders SELECT g, g % 37, 'note ' || g FROM generate_series(1, 500) g",
    'DELETE FROM orders WHERE id <= 40',
    'CREATE TABLE customers (id int PRIMARY KEY, name text)',
    "INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 37) g",
    'SELECT count(*) FROM orders WHERE customer = 3',
  ];
  for (const sql of statements) {
    await pg.query(sql, [], SHOP_DB);
  }
}

export interface TableTruth {
  n_live_tup: number;
  n_dead_tup: number;
}

/** What PostgreSQL itself says about a table right now: the ground truth the UI must show. */
export async function tableTruth(
  query: <T>(sql: string, params?: unknown[]) => Promise<T[]>,
  table: string
): Promise<TableTruth> {
  const rows = await query<{ n_live_tup: string; n_dead_tup: string }>(
    'SELECT n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE relname = $1',
    [table]
  );
  if (!rows[0]) {
    throw new Error(`table ${table} not in pg_stat_user_tables`);
  }
  return { n_live_tup: Number(rows[0].n_live_tup), n_dead_tup: Number(rows[0].n_dead_tup) };
}
