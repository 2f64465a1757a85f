/**
 * EXPLAIN of one pg_stat_statements entry, as the monitoring role, in the database the statement
 * ran in, inside a READ ONLY transaction with a local statement_timeout.
 *
 * The stored text is normalised ($1, $2 … for constants), so it cannot be planned as-is with
 * values. PostgreSQL 16+ has EXPLAIN (GENERIC_PLAN) for exactly this. On 14/15 pgpulse PREPAREs
 * the text (parameter types inferred from context, as GENERIC_PLAN does), forces the generic plan
 * with SET LOCAL plan_cache_mode = force_generic_plan and EXPLAINs EXECUTE with NULLs: the
 * generic plan is built without looking at the values, so NULLs stand in for "any value" and the
 * answer is the same plan GENERIC_PLAN gives. A captured literal sample was not chosen: it would
 * need reading every statement's constants from pg_stat_activity (scrubbed in pgpulse for good
 * reason), and its plan is a custom plan for that one value, not the statement's plan.
 *
 * The text's unqualified names resolve as they did for the role that ran it: the search_path is
 * that role's (ALTER ROLE … IN DATABASE / ALTER ROLE / ALTER DATABASE … SET search_path, else the
 * server's), with pg_catalog pinned first and pg_temp last so no one can shadow a catalog object.
 */
import type { Pool, PoolClient } from 'pg';
import type { TargetConfig } from '../config';
import { createPool, describeDbError } from '../targets/connection';
import { bindExtensionSchemas, extensionSchema, pinnedQuery, quoteIdent } from '../targets/safe-sql';
import { classifyStatement } from './classify';
import type { PlanJson } from './shape';

export type PlanMethod = 'generic_plan' | 'prepare_generic';

export const METHOD_TEXT: Record<PlanMethod, string> = {
  generic_plan: 'EXPLAIN (GENERIC_PLAN) of the normalised text (PostgreSQL 16+)',
  prepare_generic:
    'PostgreSQL 14/15 have no GENERIC_PLAN: the normalised text was PREPAREd and EXPLAIN EXECUTE run with NULL parameters under plan_cache_mode = force_generic_plan — the generic plan, built without the values',
};

/** Why a plan could not be produced, with the HTTP-like status the answer carries. */
export class PlanError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

export interface StatementInfo {
  queryid: string;
  text: string;
  datname: string;
  dbid: number;
  userid: number;
  rolname: string;
  /** other databases where the same queryid ran */
  others: string[];
}

export interface PlanResult {
  statement: StatementInfo;
  plan: PlanJson;
  method: PlanMethod;
  params: number;
}

/** One small pool per database of a target, with the monitoring role's credentials. */
export class DatabasePools {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly target: TargetConfig) {}

  get(datname: string): Pool {
    let p = this.pools.get(datname);
    if (!p) {
      const u = new URL(this.target.url);
      u.pathname = `/${encodeURIComponent(datname)}`;
      p = createPool({ ...this.target, url: u.toString() }, { max: 1, applicationName: 'pgpulse-plans' });
      this.pools.set(datname, p);
    }
    return p;
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.end().catch(() => undefined)));
  }
}

type StatementRow = {
  queryid: string;
  query: string | null;
  datname: string;
  dbid: number;
  userid: number;
  rolname: string | null;
};

/**
 * The statements behind queryids, read live from pg_stat_statements (the stored text is scrubbed)
 * in one read of its text file, whatever the number of queryids.
 */
async function statementRows(monitor: Pool, queryids: string[]): Promise<StatementRow[]> {
  const schema = await extensionSchema(monitor, 'pg_stat_statements');
  if (schema === undefined) {
    throw new PlanError(
      424,
      'pg_stat_statements is not installed in the database pgpulse connects to: CREATE EXTENSION pg_stat_statements'
    );
  }
  const r = await pinnedQuery<StatementRow>(
    monitor,
    bindExtensionSchemas(
      `SELECT s.queryid::text AS queryid, s.query, d.datname, s.dbid::int8 AS dbid, s.userid::int8 AS userid, r.rolname
       FROM @extschema:pg_stat_statements@.pg_stat_statements(true) s
       JOIN pg_catalog.pg_database d ON d.oid = s.dbid
       LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid
       WHERE s.queryid = ANY ($1::int8[]) AND s.toplevel
       ORDER BY s.calls DESC`,
      new Map([['pg_stat_statements', schema]])
    ),
    [queryids]
  );
  return r.rows.map((x) => ({ ...x, dbid: Number(x.dbid), userid: Number(x.userid) }));
}

function pickStatement(all: StatementRow[], queryid: string, database?: string): StatementInfo {
  const rows = all.filter((x) => x.queryid === queryid);
  if (rows.length === 0) {
    throw new PlanError(
      404,
      `queryid ${queryid} is not in pg_stat_statements now (evicted, reset, or never run on this server): pick a statement from Top queries`
    );
  }
  const dbs = [...new Set(rows.map((x) => x.datname))];
  const pick = database ? rows.find((x) => x.datname === database) : rows[0];
  if (!pick) {
    throw new PlanError(404, `queryid ${queryid} did not run in database ${database}; it ran in ${dbs.join(', ')}`);
  }
  if (pick.query === null || pick.query === '<insufficient privilege>') {
    throw new PlanError(
      403,
      `the monitoring role cannot read statement texts of other roles: GRANT pg_read_all_stats TO <monitoring role> (pg_monitor includes it)`
    );
  }
  return {
    queryid,
    text: pick.query,
    datname: pick.datname,
    dbid: pick.dbid,
    userid: pick.userid,
    rolname: pick.rolname ?? '',
    others: dbs.filter((d) => d !== pick.datname),
  };
}

/** The statement behind one queryid (in database, when given). */
export async function findStatement(monitor: Pool, queryid: string, database?: string): Promise<StatementInfo> {
  return pickStatement(await statementRows(monitor, [queryid]), queryid, database);
}

/** Several at once (one text-file read): each key's statement, or why it has none. */
export async function findStatements(
  monitor: Pool,
  keys: Array<{ queryid: string; database: string }>
): Promise<Array<StatementInfo | PlanError>> {
  const rows = await statementRows(monitor, [...new Set(keys.map((k) => k.queryid))]);
  return keys.map((k) => {
    try {
      return pickStatement(rows, k.queryid, k.database);
    } catch (e) {
      return e as PlanError;
    }
  });
}

/** Split a search_path value ("$user", public, "My Schema") into names. */
export function splitSearchPath(value: string): string[] {
  const out: string[] = [];
  const re = /\s*(?:"((?:[^"]|"")*)"|([^,\s]+))\s*(?:,|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(value)) !== null && m[0] !== '') {
    out.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2].toLowerCase());
  }
  return out;
}

/** SET LOCAL search_path for the role that ran the statement (see the file comment). */
export async function searchPathFor(c: PoolClient, s: StatementInfo): Promise<string> {
  const r = await c.query<{ setconfig: string[] }>(
    `SELECT setconfig FROM pg_catalog.pg_db_role_setting
     WHERE (setrole = $1::oid AND setdatabase IN ($2::oid, 0)) OR (setrole = 0 AND setdatabase = $2::oid)
     ORDER BY (setrole <> 0) DESC, (setdatabase <> 0) DESC`,
    [s.userid, s.dbid]
  );
  let value: string | undefined;
  for (const row of r.rows) {
    const entry = (row.setconfig ?? []).find((e) => e.startsWith('search_path='));
    if (entry) {
      value = entry.slice('search_path='.length);
      break;
    }
  }
  if (value === undefined) {
    // the server's value, unless it came from the monitoring role's own settings
    const d = await c.query<{ reset_val: string; boot_val: string; source: string }>(
      `SELECT reset_val, boot_val, source FROM pg_catalog.pg_settings WHERE name = 'search_path'`
    );
    const row = d.rows[0];
    value =
      row && !['user', 'database', 'database user', 'session', 'client'].includes(row.source)
        ? row.reset_val
        : (row?.boot_val ?? '"$user", public');
  }
  const names = splitSearchPath(value)
    .map((n) => (n === '$user' ? s.rolname : n))
    .filter((n) => n && n !== 'pg_catalog' && n !== 'pg_temp');
  return `SET LOCAL search_path = ${['pg_catalog', ...names.map(quoteIdent), 'pg_temp'].join(', ')}`;
}

/** The GRANT that fixes "permission denied for …" of the monitoring role, naming the role. */
export function grantHint(message: string, role: string): string {
  const m =
    /permission denied for (table|relation|view|materialized view|sequence|schema|function|procedure) ([^\s]+)/i.exec(
      message
    );
  const who = quoteIdent(role);
  if (!m) {
    return `the monitoring role ${who} needs SELECT on the tables the statement reads (and USAGE on their schemas)`;
  }
  const kind = m[1].toLowerCase();
  if (kind === 'schema') {
    return `GRANT USAGE ON SCHEMA ${m[2]} TO ${who}`;
  }
  if (kind === 'function' || kind === 'procedure') {
    return `GRANT EXECUTE ON FUNCTION ${m[2]} TO ${who}`;
  }
  return `GRANT SELECT ON ${m[2]} TO ${who} (qualify it with its schema; plain EXPLAIN needs no other privilege than the statement's own)`;
}

/**
 * The planner runs some functions while planning: IMMUTABLE ones with constant arguments (folded),
 * and STABLE ones to estimate selectivity. Normalised texts have $n for constants, but a call
 * without arguments (or with defaults) stays foldable. Such a function, written by whoever owns a
 * schema on the statement's search_path, would run as the monitoring role: pgpulse refuses to
 * plan a statement naming one that is neither built in nor part of an extension.
 */
export async function userFunctionsRunAtPlanTime(c: PoolClient, names: string[]): Promise<string[]> {
  if (names.length === 0) {
    return [];
  }
  const r = await c.query<{ f: string }>(
    `SELECT p.oid::pg_catalog.regprocedure::text AS f
     FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE p.proname OPERATOR(pg_catalog.=) ANY ($1::text[]) AND p.provolatile OPERATOR(pg_catalog.<>) 'v'
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'e')
     ORDER BY 1`,
    [names]
  );
  return r.rows.map((x) => x.f);
}

/** Run the EXPLAIN on a client of the statement's database; never leaves a prepared statement behind. */
export async function explainOn(
  c: PoolClient,
  s: StatementInfo,
  params: number,
  serverVersionNum: number,
  timeoutMs: number,
  functions: string[] = []
): Promise<{ plan: PlanJson; method: PlanMethod }> {
  const method: PlanMethod = serverVersionNum >= 160000 ? 'generic_plan' : 'prepare_generic';
  // one fixed name: a new name per call would be a new pg_stat_statements entry per EXPLAIN
  // EXECUTE on 14/15 (utility statements are keyed by their text), evicting the application's
  const name = 'pgpulse_plan';
  let prepared = false;
  await c.query('BEGIN READ ONLY');
  try {
    await c.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    await c.query('SET LOCAL search_path = pg_catalog, pg_temp');
    const risky = await userFunctionsRunAtPlanTime(c, functions);
    if (risky.length > 0) {
      throw new PlanError(
        422,
        `queryid ${s.queryid} calls ${risky.join(', ')}: a non-volatile function that is neither built in nor from an extension, which the planner may run while planning — as the monitoring role. pgpulse does not explain it; run EXPLAIN as the application role (or make the function part of an extension)`
      );
    }
    const path = await searchPathFor(c, s);
    await c.query(path);
    let rows: Array<{ 'QUERY PLAN': unknown }>;
    if (method === 'generic_plan') {
      rows = (await c.query(`EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${s.text}`)).rows;
    } else {
      await c.query('SET LOCAL plan_cache_mode = force_generic_plan');
      // a leftover of a failed call on this session (or a pooler's server connection)
      if (
        (await c.query(`SELECT 1 FROM pg_catalog.pg_prepared_statements WHERE name OPERATOR(pg_catalog.=) '${name}'`))
          .rows.length > 0
      ) {
        await c.query(`DEALLOCATE ${name}`);
      }
      // PREPARE is not transactional: a failed EXECUTE would leave it in the session, and behind a
      // transaction pooler a DEALLOCATE after ROLLBACK may reach another server connection. The
      // savepoint keeps the transaction usable, so the DEALLOCATE runs inside it, on this connection.
      await c.query('SAVEPOINT pgpulse_explain');
      try {
        await c.query(`PREPARE ${name} AS ${s.text}`);
        prepared = true;
        const args = params > 0 ? `(${new Array(params).fill('NULL').join(', ')})` : '';
        rows = (await c.query(`EXPLAIN (FORMAT JSON) EXECUTE ${name}${args}`)).rows;
      } catch (e) {
        await c.query('ROLLBACK TO SAVEPOINT pgpulse_explain');
        throw e;
      } finally {
        if (prepared) {
          await c.query(`DEALLOCATE ${name}`);
          prepared = false;
        }
      }
    }
    await c.query('COMMIT');
    const doc = rows[0]?.['QUERY PLAN'];
    const parsed = (typeof doc === 'string' ? JSON.parse(doc) : doc) as Array<{ Plan: PlanJson }>;
    return { plan: parsed[0].Plan, method };
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    if (prepared) {
      // the savepoint could not be rolled back (connection lost): a leftover is cleared before the next PREPARE
      await c.query(`DEALLOCATE ${name}`).catch(() => undefined);
    }
    throw e;
  }
}

export interface ExplainDeps {
  target: TargetConfig;
  monitor: Pool;
  pools: DatabasePools;
  serverVersionNum: number;
  timeoutMs: number;
  mayContact: () => Promise<{ allowed: boolean; reason?: string }>;
}

/** queryid → its generic plan, or a PlanError naming the cause and the fix. */
export async function explainQueryId(
  d: ExplainDeps,
  queryid: string,
  database?: string,
  known?: StatementInfo
): Promise<PlanResult> {
  const gate = await d.mayContact();
  if (!gate.allowed) {
    throw new PlanError(
      409,
      `target ${d.target.name}: not connecting to explain — ${gate.reason ?? 'the sampling gate says no'}; plans are explained only while the compute is active`
    );
  }
  if (!d.serverVersionNum) {
    throw new PlanError(
      503,
      `target ${d.target.name} has not been sampled yet: its server version is unknown; retry after the first sample`
    );
  }
  let s: StatementInfo;
  try {
    s = known ?? (await findStatement(d.monitor, queryid, database));
  } catch (e) {
    throw e instanceof PlanError ? e : new PlanError(502, describeDbError(e, d.target.name));
  }
  const kind = await classifyStatement(s.text);
  if (!kind.ok) {
    throw new PlanError(422, `queryid ${queryid} is not explained: ${kind.reason}`);
  }
  let c: PoolClient;
  try {
    c = await d.pools.get(s.datname).connect();
  } catch (e) {
    throw new PlanError(
      502,
      `cannot connect to database ${s.datname} where queryid ${queryid} ran: ${describeDbError(e, d.target.name)}`
    );
  }
  try {
    const r = await explainOn(c, s, kind.params, d.serverVersionNum, d.timeoutMs, kind.functions);
    c.release();
    return { statement: s, plan: r.plan, method: r.method, params: kind.params };
  } catch (e) {
    const err = e as { code?: string; message?: string };
    // a PostgreSQL error leaves a usable session (the transaction was rolled back); anything else
    // (connection lost, protocol error) must not go back to the pool
    const sessionOk = e instanceof PlanError || /^[0-9A-Z]{5}$/.test(err.code ?? '');
    c.release(sessionOk ? undefined : (e as Error));
    if (e instanceof PlanError) {
      throw e;
    }
    if (err.code === '42501') {
      const role = decodeURIComponent(new URL(d.target.url).username || '') || '<monitoring role>';
      throw new PlanError(
        403,
        `EXPLAIN of queryid ${queryid} in database ${s.datname}: ${err.message} — ${grantHint(err.message ?? '', role)}`
      );
    }
    if (err.code === '57014') {
      throw new PlanError(
        504,
        `EXPLAIN of queryid ${queryid} took longer than ${d.timeoutMs} ms (statement_timeout): raise targets[].plans.timeout`
      );
    }
    if (err.code === '42P18') {
      throw new PlanError(
        422,
        `queryid ${queryid}: PostgreSQL cannot infer the type of a parameter (${err.message}); such a statement has no generic plan`
      );
    }
    throw new PlanError(
      502,
      `EXPLAIN of queryid ${queryid} in database ${s.datname} failed: ${describeDbError(e, d.target.name)}`
    );
  }
}
