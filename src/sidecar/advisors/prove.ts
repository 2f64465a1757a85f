/**
 * What-if proof of an index with hypopg: the planner's estimated cost of the statement with and
 * without a hypothetical index, in one read-only transaction. EXPLAIN never executes the
 * statement; hypothetical indexes live only in this backend's memory and are reset afterwards.
 */
import type { PoolClient } from 'pg';
import type { Candidate, Proof } from './rules/missing-index';
import { PIN_SEARCH_PATH } from '../targets/safe-sql';
import { qualified, quoteIdent } from './sql-analysis';

interface Plan {
  Plan: { 'Total Cost': number };
}

/** EXPLAIN cost of a statement that may carry $n parameters (normalized pg_stat_statements text). */
export async function explainCost(
  db: PoolClient,
  sql: string,
  params: number,
  serverVersionNum: number
): Promise<number> {
  if (params === 0) {
    const r = await db.query<{ 'QUERY PLAN': Plan[] }>(`EXPLAIN (FORMAT JSON) ${sql}`);
    return r.rows[0]['QUERY PLAN'][0].Plan['Total Cost'];
  }
  if (serverVersionNum >= 160000) {
    const r = await db.query<{ 'QUERY PLAN': Plan[] }>(`EXPLAIN (FORMAT JSON, GENERIC_PLAN) ${sql}`);
    return r.rows[0]['QUERY PLAN'][0].Plan['Total Cost'];
  }
  // PostgreSQL < 16: a prepared statement planned generically ignores the NULL arguments
  await db.query('SET LOCAL plan_cache_mode = force_generic_plan');
  // prepared statements outlive a rolled-back transaction: clear one left by an earlier failure
  const left = await db.query("SELECT 1 FROM pg_catalog.pg_prepared_statements WHERE name = 'pgpulse_whatif'");
  if (left.rowCount) {
    await db.query('DEALLOCATE pgpulse_whatif');
  }
  // PREPARE outlives a failed EXECUTE and a ROLLBACK; behind a transaction pooler a DEALLOCATE after
  // the ROLLBACK may reach another server connection, so it runs inside the transaction, after a
  // savepoint made it usable again
  await db.query('SAVEPOINT pgpulse_whatif');
  await db.query(`PREPARE pgpulse_whatif AS ${sql}`);
  try {
    const args = new Array(params).fill('NULL').join(', ');
    const r = await db.query<{ 'QUERY PLAN': Plan[] }>(`EXPLAIN (FORMAT JSON) EXECUTE pgpulse_whatif(${args})`);
    return r.rows[0]['QUERY PLAN'][0].Plan['Total Cost'];
  } catch (e) {
    await db.query('ROLLBACK TO SAVEPOINT pgpulse_whatif');
    throw e;
  } finally {
    await db.query('DEALLOCATE pgpulse_whatif');
  }
}

export async function hypopgVersion(db: PoolClient): Promise<string | undefined> {
  return (await hypopg(db))?.version;
}

async function hypopg(db: PoolClient): Promise<{ version: string; schema: string } | undefined> {
  const r = await db.query<{ extversion: string; nspname: string }>(
    "SELECT e.extversion, n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'hypopg'"
  );
  return r.rows[0] ? { version: r.rows[0].extversion, schema: r.rows[0].nspname } : undefined;
}

/**
 * The application's statement names its tables without a schema: it is planned with pg_catalog
 * first, then only the candidate table's schema, never "$user" or a database default. EXPLAIN
 * without ANALYZE does not run the statement.
 */
async function explainAsApp(
  db: PoolClient,
  schema: string,
  sql: string,
  params: number,
  serverVersionNum: number
): Promise<number> {
  await db.query(`SET LOCAL search_path = pg_catalog, ${quoteIdent(schema)}, pg_temp`);
  try {
    return await explainCost(db, sql, params, serverVersionNum);
  } finally {
    await db.query(PIN_SEARCH_PATH).catch(() => undefined);
  }
}

/**
 * Prove each candidate with its most expensive statement. Returns one proof per candidate, in
 * order; a candidate that cannot be proven says why in `note`.
 */
export async function proveCandidates(
  db: PoolClient,
  candidates: Candidate[],
  serverVersionNum: number,
  timeoutMs = 5000
): Promise<Proof[]> {
  if (candidates.length === 0) {
    return [];
  }
  const proofs: Proof[] = candidates.map(() => ({ method: 'none' as const }));
  await db.query('BEGIN READ ONLY');
  try {
    await db.query(PIN_SEARCH_PATH);
    await db.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    const hypo = await hypopg(db);
    if (!hypo) {
      for (const p of proofs) {
        p.note = 'not proven: hypopg is not installed in this database (CREATE EXTENSION hypopg)';
      }
      return proofs;
    }
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i];
      const st = c.statements[0];
      await db.query('SAVEPOINT whatif');
      try {
        const before = await explainAsApp(db, c.schema, st.s.text ?? '', st.shape.params, serverVersionNum);
        await db.query(`SELECT * FROM ${quoteIdent(hypo.schema)}.hypopg_create_index($1)`, [
          `CREATE INDEX ON ${qualified(c.schema, c.table)} (${c.columns.map(quoteIdent).join(', ')})`,
        ]);
        let after: number;
        try {
          after = await explainAsApp(db, c.schema, st.s.text ?? '', st.shape.params, serverVersionNum);
        } finally {
          await db.query(`SELECT ${quoteIdent(hypo.schema)}.hypopg_reset()`);
        }
        proofs[i] = {
          method: 'hypopg',
          costBefore: before,
          costAfter: after,
          gainPct: before > 0 ? ((before - after) / before) * 100 : 0,
        };
        await db.query('RELEASE SAVEPOINT whatif');
      } catch (e) {
        await db.query('ROLLBACK TO SAVEPOINT whatif').catch(() => undefined);
        await db.query(`SELECT ${quoteIdent(hypo.schema)}.hypopg_reset()`).catch(() => undefined);
        const err = e as { code?: string; message?: string };
        proofs[i] = {
          method: 'none',
          note:
            err.code === '42501'
              ? 'not proven: the monitoring role may not EXPLAIN this statement (needs SELECT on the table)'
              : `not proven: EXPLAIN failed (${String(err.message ?? e).slice(0, 160)})`,
        };
      }
    }
    return proofs;
  } finally {
    await db.query('ROLLBACK').catch(() => undefined);
  }
}
