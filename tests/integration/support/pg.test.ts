import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres } from '../../support/pg';
test('pg starts', async () => {
  const pg = await startPostgres();
  const r = await pg.query<{ v: string }>('select version() v');
  assert.match(r[0].v, /PostgreSQL 15/);
  const e = await pg.query('select * from pg_stat_statements(false) limit 1');
  await pg.stop();
  await pg.start();
  await pg.query('select 1');
  await pg.destroy();
});
