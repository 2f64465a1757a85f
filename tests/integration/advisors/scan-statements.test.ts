/**
 * The seq-scan advice's "find the statements" SQL, run on a real PostgreSQL 15 with
 * pg_stat_statements: for a table named `t` it must list the statements that read t — not every
 * statement containing the letter t, as ILIKE '%t%' did.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { scanningStatementsSql } from '../../../src/sidecar/advisors/rules/missing-index';
import { startPostgres, type TestPostgres } from '../../support/pg';

let pg: TestPostgres;

before(async () => {
  pg = await startPostgres();
  await pg.query(
    'CREATE TABLE t (id int, note text); CREATE TABLE tally (total int); CREATE TABLE "we.ird(x)" (x int)'
  );
  await pg.query('SELECT pg_stat_statements_reset()');
  await pg.query('SELECT count(*) FROM t WHERE id > 3');
  await pg.query('SELECT total FROM tally WHERE total > 0');
  await pg.query("SELECT count(*) FROM pg_stat_activity WHERE state = 'active'");
  await pg.query('SELECT x FROM "we.ird(x)"');
});

after(async () => {
  await pg?.destroy();
});

const matched = async (sql: string) =>
  (await pg.query<{ query: string }>(sql.split('\n').slice(1).join('\n'))).map((r) => r.query);

it('a short table name matches it as a whole word, and says the pattern may catch aliases', async () => {
  const { sql, caveat } = scanningStatementsSql({ schema: 'public', table: 't' }, []);
  assert.doesNotMatch(sql, /ILIKE '%t%'/);
  assert.deepEqual(await matched(sql), ['SELECT count(*) FROM t WHERE id > $1']);
  assert.match(caveat ?? '', /"t" is a short name/);
});

it('regex metacharacters in a name are literal', async () => {
  const { sql } = scanningStatementsSql({ schema: 'public', table: 'we.ird(x)' }, []);
  assert.deepEqual(await matched(sql), ['SELECT x FROM "we.ird(x)"']);
});

it('statements pgpulse attributed to the table are listed by queryid', async () => {
  const [row] = await pg.query<{ queryid: string }>(
    "SELECT queryid::text FROM pg_stat_statements WHERE query LIKE 'SELECT count(*) FROM t %'"
  );
  const { sql, caveat } = scanningStatementsSql({ schema: 'public', table: 't' }, [row.queryid]);
  assert.equal(caveat, undefined);
  assert.deepEqual(await matched(sql), ['SELECT count(*) FROM t WHERE id > $1']);
});
