/**
 * The opt-in explain_analyze action: EXPLAIN (ANALYZE, BUFFERS) of one pg_stat_statements entry
 * with parameter values the user supplies (a normalised text has $1 … and cannot run without
 * them). It runs the statement for real, so it is an action (disabled by default, Admin only
 * through Grafana, dry-run first, audited) and only for a SELECT without FOR UPDATE/SHARE, inside
 * a READ ONLY transaction with a local statement_timeout that is always rolled back: a SELECT that
 * calls a function which writes fails instead of writing.
 *
 * The values travel as bind parameters (never spliced into the text), typed by PostgreSQL from
 * the statement as a PREPARE would type them.
 */
import type { Pool } from 'pg';
import type { TargetConfig } from '../config';
import { createPool, describeDbError } from '../targets/connection';
import { classifyStatement } from './classify';
import { findStatement, PlanError, searchPathFor, type StatementInfo } from './explain';
import { flattenPlan, type PlanJson } from './shape';

export type ParamValue = string | number | boolean | null;

const MAX_PARAM_CHARS = 10_000;

export interface PlannedAnalyze {
  object: string;
  sql: string;
  run(actionsUrl: string, timeoutMs: number): Promise<{ status: 'done' | 'failed'; message: string }>;
}

const show = (v: ParamValue) =>
  v === null ? 'NULL' : typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : String(v);

export function validateParams(values: unknown, wanted: number): ParamValue[] {
  const list = values === undefined ? [] : values;
  if (!Array.isArray(list)) {
    throw new PlanError(400, 'params must be an array of values for $1, $2, … (strings, numbers, booleans or null)');
  }
  if (list.length !== wanted) {
    throw new PlanError(
      400,
      `the statement has ${wanted} parameter(s) ($1${wanted > 1 ? `…$${wanted}` : ''}); params gives ${list.length}: send exactly one value per parameter`
    );
  }
  return list.map((v, i) => {
    if (v === null || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) {
      return v as ParamValue;
    }
    if (typeof v === 'string') {
      if (v.length > MAX_PARAM_CHARS || v.includes('\u0000')) {
        throw new PlanError(
          400,
          `params[${i}] ($${i + 1}): a string of at most ${MAX_PARAM_CHARS} characters without NUL bytes`
        );
      }
      return v;
    }
    throw new PlanError(400, `params[${i}] ($${i + 1}) must be a string, a finite number, a boolean or null`);
  });
}

/** One line a person reads in the audit trail: timing and the nodes with actual vs estimated rows. */
function summary(doc: { Plan: PlanJson; 'Execution Time'?: number; 'Planning Time'?: number }): string {
  const nodes = flattenPlan(doc.Plan).slice(0, 12);
  const raw: PlanJson[] = [];
  const walk = (p: PlanJson) => {
    raw.push(p);
    (p.Plans ?? []).forEach(walk);
  };
  walk(doc.Plan);
  const lines = nodes.map((n, i) => {
    const p = raw[i];
    const actual = typeof p['Actual Rows'] === 'number' ? p['Actual Rows'] : '?';
    const loops = typeof p['Actual Loops'] === 'number' && p['Actual Loops'] > 1 ? ` × ${p['Actual Loops']} loops` : '';
    const buf = `shared hit ${p['Shared Hit Blocks'] ?? 0} read ${p['Shared Read Blocks'] ?? 0}`;
    return `${'  '.repeat(n.depth)}${n.label}${n.index ? ` using ${n.index}` : ''}${n.relation ? ` on ${n.relation}` : ''}: rows ${actual}${loops} (est. ${n.rows ?? '?'}), ${buf}`;
  });
  return `execution ${doc['Execution Time']?.toFixed(3) ?? '?'} ms, planning ${doc['Planning Time']?.toFixed(3) ?? '?'} ms\n${lines.join('\n')}`;
}

async function run(
  target: TargetConfig,
  s: StatementInfo,
  values: ParamValue[],
  sql: string,
  actionsUrl: string,
  timeoutMs: number
): Promise<{ status: 'done' | 'failed'; message: string }> {
  const u = new URL(actionsUrl);
  u.pathname = `/${encodeURIComponent(s.datname)}`;
  const pool: Pool = createPool({ ...target, url: u.toString() }, { max: 1, applicationName: 'pgpulse-actions' });
  try {
    const c = await pool.connect();
    try {
      await c.query('BEGIN READ ONLY');
      try {
        await c.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
        await c.query('SET LOCAL search_path = pg_catalog, pg_temp');
        await c.query(await searchPathFor(c, s));
        const r = await c.query(sql, values);
        const doc = r.rows[0]?.['QUERY PLAN'];
        const parsed = (typeof doc === 'string' ? JSON.parse(doc) : doc) as Array<{
          Plan: PlanJson;
          'Execution Time'?: number;
          'Planning Time'?: number;
        }>;
        return { status: 'done', message: summary(parsed[0]) };
      } finally {
        // read-only and rolled back whatever happened: nothing the statement did is kept
        await c.query('ROLLBACK').catch(() => undefined);
      }
    } finally {
      c.release();
    }
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === '25006') {
      return {
        status: 'failed',
        message: `PostgreSQL refused to write inside the READ ONLY transaction (${err.message}): the statement calls something that writes; nothing was changed`,
      };
    }
    if (err.code === '57014') {
      return {
        status: 'failed',
        message: `cancelled by statement_timeout after ${timeoutMs} ms (targets[].plans.analyzeTimeout); nothing was changed`,
      };
    }
    if (err.code === '42501') {
      return {
        status: 'failed',
        message: `${describeDbError(e, target.name)} — EXPLAIN ANALYZE runs as the actions role in database ${s.datname}: grant it SELECT on the tables the statement reads`,
      };
    }
    return { status: 'failed', message: describeDbError(e, target.name) };
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** Check everything that can be checked without running the statement, and say what would run. */
export async function planExplainAnalyze(
  monitor: Pool,
  target: TargetConfig,
  req: { queryid?: string; database?: string; params?: unknown }
): Promise<PlannedAnalyze> {
  if (!req.queryid) {
    throw new PlanError(
      400,
      'explain_analyze needs queryid (as pg_stat_statements shows it) and params (one value per $n)'
    );
  }
  const s = await findStatement(monitor, req.queryid, req.database);
  const object = `queryid ${s.queryid} in ${s.datname}`;
  const kind = await classifyStatement(s.text);
  if (!kind.ok) {
    throw new PlanError(422, `queryid ${s.queryid}: ${kind.reason}`);
  }
  if (kind.locking) {
    throw new PlanError(
      422,
      `queryid ${s.queryid}: SELECT … FOR UPDATE/SHARE locks rows and cannot run in a read-only transaction; EXPLAIN ANALYZE refused`
    );
  }
  const values = validateParams(req.params, kind.params);
  const sql = `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${s.text}`;
  const shown = [
    `-- in database ${s.datname}, search_path of role ${s.rolname}, inside BEGIN READ ONLY … ROLLBACK with SET LOCAL statement_timeout`,
    sql + ';',
    ...values.map((v, i) => `-- $${i + 1} = ${show(v)} (sent as a bind parameter)`),
  ].join('\n');
  return { object, sql: shown, run: (actionsUrl, timeoutMs) => run(target, s, values, sql, actionsUrl, timeoutMs) };
}
