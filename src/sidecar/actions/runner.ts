/**
 * Runs one opt-in action against a target: cancel/terminate a long query, ANALYZE, VACUUM,
 * REINDEX INDEX CONCURRENTLY, or CREATE INDEX CONCURRENTLY from a finding. A dry-run only shows
 * the SQL (and checks eligibility read-only); a real run needs actions enabled in the config, uses
 * the separate actions credential, never touches pgpulse's own sessions or non-client backends,
 * and is audited whatever happens.
 */
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';
import { findingById } from '../advisors/findings-store';
import { parseOne, qualified } from '../advisors/sql-analysis';
import type { TargetConfig } from '../config';
import type { Store } from '../store/store';
import { redact } from '../auth';
import { detectPooler } from '../targets/pooler';
import { createPool, describeDbError, ownBackendPids } from '../targets/connection';
import { identityFromUrl } from '../neon/identity';
import { normalizeSentText } from '../store/scrub';
import { PIN_SEARCH_PATH, pinnedQuery } from '../targets/safe-sql';
import { PlanError } from '../plans/explain';
import { planExplainAnalyze, type PlannedAnalyze } from '../plans/analyze';
import { parsePlansConfig } from '../plans/config';
import { auditFinish, auditStart, type AuditStatus } from './audit';
import { actionKinds, type ActionKind, type ActionsConfig } from './config';

export const actionRequestSchema = z
  .object({
    action: z.enum(actionKinds, { errorMap: () => ({ message: `action must be one of ${actionKinds.join(', ')}` }) }),
    // a PostgreSQL pid is an int4: a larger number names no backend and must not reach the SQL
    pid: z
      .number()
      .int()
      .positive()
      .max(2147483647, { message: 'pid must be a process id between 1 and 2147483647' })
      .optional(),
    /** schema.table (ANALYZE, VACUUM) */
    table: z.string().min(1).max(400).optional(),
    /** schema.index (REINDEX) */
    index: z.string().min(1).max(400).optional(),
    /** an advisor finding id: its object (or, for create_index, its SQL) is what the action works on */
    finding: z.string().min(1).max(600).optional(),
    /** explain_analyze: the pg_stat_statements entry, its database when it ran in several, and one value per $n */
    queryid: z
      .string()
      .regex(/^-?\d{1,20}$/, 'queryid must be an integer (as pg_stat_statements shows it)')
      .optional(),
    database: z.string().min(1).max(200).optional(),
    params: z
      .array(z.union([z.string(), z.number(), z.boolean(), z.null()]))
      .max(100)
      .optional(),
    /** true unless false is sent: show the SQL, change nothing */
    dryRun: z.boolean().default(true),
  })
  .strict();
export type ActionRequest = z.input<typeof actionRequestSchema>;

export interface ActionOutcome {
  target: string;
  action: string;
  object: string;
  status: AuditStatus;
  /** HTTP status for the route: 200 done / dry-run, 202 still running, 400/403/404 refused, 502 failed */
  httpStatus: number;
  sql: string;
  message: string;
  auditId?: number;
  /** the backend a cancel/terminate is aimed at, as pg_stat_activity showed it */
  backend?: Record<string, unknown>;
}

class Refusal extends Error {
  constructor(
    readonly httpStatus: number,
    message: string,
    readonly object = '',
    readonly sql = ''
  ) {
    super(message);
  }
}

const WAIT_MS = 45_000;
/** statements PostgreSQL refuses inside a transaction block */
const NON_TRANSACTIONAL: readonly ActionKind[] = ['vacuum', 'reindex', 'create_index'];

/**
 * The actions role's URL. Behind Neon's pooler (PgBouncer, transaction mode) a statement that
 * cannot run in a transaction cannot carry a transaction-local timeout, and a session SET would
 * leak into other clients' server connection: those run on the direct host (the same name
 * without -pooler), as Neon advises for maintenance.
 */
export function actionsUrl(url: string, pooled: boolean): string {
  if (!pooled) {
    return url;
  }
  const u = new URL(url);
  const [first, ...rest] = u.hostname.split('.');
  if (first.endsWith('-pooler')) {
    u.hostname = [first.slice(0, -'-pooler'.length), ...rest].join('.');
  }
  return u.toString();
}
const PGPULSE_APP = 'pgpulse';

function splitName(v: string, what: string): [string, string] {
  const i = v.indexOf('.');
  if (i <= 0 || i === v.length - 1) {
    throw new Refusal(400, `${what} must be schema-qualified, like public.orders (got "${v.slice(0, 80)}")`);
  }
  return [v.slice(0, i), v.slice(i + 1)];
}

const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

export class ActionRunner {
  private pool: Pool | undefined;

  constructor(
    readonly target: TargetConfig,
    private readonly store: Store,
    /** the parsed config, or why it is invalid (actions are then refused with that message) */
    readonly cfg: ActionsConfig | Error,
    /** the monitoring pool: read-only eligibility checks only */
    private readonly monitor: Pool,
    private readonly log?: Logger,
    /** may a connection reach the target now (Neon: only while the API says it is active) */
    private readonly mayContact: () => Promise<{ allowed: boolean; reason?: string }> = async () => ({ allowed: true })
  ) {}

  private get pooled(): boolean {
    const url = this.cfg instanceof Error ? undefined : this.cfg.url;
    return this.target.neon?.pooled ?? (url ? identityFromUrl(url).pooled : false);
  }

  private actionsPool(cfg: ActionsConfig): Pool {
    if (!this.pool) {
      // no session-level SET on connect: statement_timeout is set per statement (see execute)
      this.pool = createPool(
        { ...this.target, url: actionsUrl(cfg.url as string, this.pooled) },
        { applicationName: `${PGPULSE_APP}-actions`, max: 2 }
      );
    }
    return this.pool;
  }

  private async contact(object: string): Promise<void> {
    const ok = await this.mayContact();
    if (!ok.allowed) {
      throw new Refusal(
        409,
        `target ${this.target.name}: not connecting — ${ok.reason ?? 'the sampling gate says no'}`,
        object
      );
    }
  }

  async close(): Promise<void> {
    await this.pool?.end().catch(() => undefined);
    this.pool = undefined;
  }

  /**
   * opts.refuse: the caller may not run actions (e.g. not a Grafana Admin): the request is planned
   * (its SQL shown) and audited as refused with this reason; nothing runs.
   */
  async run(
    raw: unknown,
    trigger: string,
    opts: { minQueryMs?: number; refuse?: { reason: string; httpStatus: number } } = {}
  ): Promise<ActionOutcome> {
    const name = this.target.name;
    const parsed = actionRequestSchema.safeParse(raw);
    if (!parsed.success) {
      const msg = parsed.error.issues
        .map((i) =>
          i.code === 'unrecognized_keys'
            ? `unknown field(s) ${i.keys.join(', ')}: send action, pid, table, index, finding, queryid, database, params, dryRun`
            : `${i.path.join('.') || 'body'}: ${i.message}`
        )
        .join('; ');
      const action = String((raw as { action?: unknown })?.action ?? '').slice(0, 40);
      const message = `invalid action request: ${msg}`;
      const auditId = auditStart(this.store, name, {
        ts: Date.now(),
        action: action || '(none)',
        object: '',
        trigger,
        dryRun: (raw as { dryRun?: unknown })?.dryRun !== false,
        sql: '',
        status: 'refused',
        result: message,
      });
      return { target: name, action, object: '', status: 'refused', httpStatus: 400, sql: '', message, auditId };
    }
    const req = parsed.data;
    const now = Date.now();
    const cfg = this.cfg;
    let plan: { object: string; sql: string; backend?: Record<string, unknown>; run?: PlannedAnalyze['run'] };
    try {
      if (!req.dryRun) {
        if (cfg instanceof Error) {
          throw new Refusal(403, `actions are not available for target ${name}: ${cfg.message}`);
        }
        if (!cfg.enabled) {
          throw new Refusal(
            403,
            `actions are disabled for target ${name}: they are off by default. To allow them set targets[].actions.enabled: true and actions.url (a separate role, never the monitoring one) in the config; use dryRun: true to see the SQL without running it`
          );
        }
        if (!cfg.allow.includes(req.action)) {
          throw new Refusal(
            403,
            `action ${req.action} is not allowed for target ${name}: targets[].actions.allow is [${cfg.allow.join(', ')}]`
          );
        }
      }
      const minQueryMs = opts.minQueryMs ?? (cfg instanceof Error ? 60_000 : cfg.minQueryMs);
      plan = await this.plan(req.action, req, minQueryMs);
    } catch (e) {
      if (e instanceof Refusal) {
        const auditId = auditStart(this.store, name, {
          ts: now,
          action: req.action,
          object: e.object || describeObject(req),
          trigger,
          dryRun: req.dryRun,
          sql: e.sql,
          status: 'refused',
          result: e.message,
        });
        return {
          target: name,
          action: req.action,
          object: e.object || describeObject(req),
          status: 'refused',
          httpStatus: e.httpStatus,
          sql: e.sql,
          message: e.message,
          auditId,
        };
      }
      const msg = describeDbError(e, name);
      const auditId = auditStart(this.store, name, {
        ts: now,
        action: req.action,
        object: describeObject(req),
        trigger,
        dryRun: req.dryRun,
        sql: '',
        status: 'failed',
        result: msg,
      });
      return {
        target: name,
        action: req.action,
        object: describeObject(req),
        status: 'failed',
        httpStatus: 502,
        sql: '',
        message: msg,
        auditId,
      };
    }
    if (opts.refuse && !req.dryRun) {
      const auditId = auditStart(this.store, name, {
        ts: now,
        action: req.action,
        object: plan.object,
        trigger,
        dryRun: false,
        sql: plan.sql,
        status: 'refused',
        result: opts.refuse.reason,
      });
      return {
        target: name,
        action: req.action,
        object: plan.object,
        status: 'refused',
        httpStatus: opts.refuse.httpStatus,
        sql: plan.sql,
        message: opts.refuse.reason,
        auditId,
        backend: plan.backend,
      };
    }
    if (req.dryRun) {
      const message = `dry-run: nothing was changed; this SQL would run${cfg instanceof Error || !cfg.enabled ? ' (actions are disabled for this target: enable them to run it)' : ''}`;
      const auditId = auditStart(this.store, name, {
        ts: now,
        action: req.action,
        object: plan.object,
        trigger,
        dryRun: true,
        sql: plan.sql,
        status: 'dry_run',
        result: message,
      });
      return {
        target: name,
        action: req.action,
        object: plan.object,
        status: 'dry_run',
        httpStatus: 200,
        sql: plan.sql,
        message,
        auditId,
        backend: plan.backend,
      };
    }
    const gate = await this.mayContact();
    if (!gate.allowed) {
      const message = `target ${name}: not connecting — ${gate.reason ?? 'the sampling gate says no'}; nothing was run`;
      const auditId = auditStart(this.store, name, {
        ts: now,
        action: req.action,
        object: plan.object,
        trigger,
        dryRun: false,
        sql: plan.sql,
        status: 'refused',
        result: message,
      });
      return {
        target: name,
        action: req.action,
        object: plan.object,
        status: 'refused',
        httpStatus: 409,
        sql: plan.sql,
        message,
        auditId,
        backend: plan.backend,
      };
    }
    const auditId = auditStart(this.store, name, {
      ts: now,
      action: req.action,
      object: plan.object,
      trigger,
      dryRun: false,
      sql: plan.sql,
      status: 'running',
    });
    const exec = (
      plan.run
        ? plan.run(actionsUrl((cfg as ActionsConfig).url as string, this.pooled), this.analyzeTimeoutMs())
        : this.execute(req.action, plan.sql, cfg as ActionsConfig)
    ).then(
      (r) => {
        auditFinish(this.store, name, auditId, r.status, r.message);
        return r;
      },
      (e) => {
        const err = e as { code?: string; message?: string };
        const msg =
          err.code === '42501'
            ? `target ${name}: permission denied for the actions role (${redact(String(err.message ?? ''))}) — grant it what ${req.action} needs: pg_signal_backend + pg_read_all_stats for cancel/terminate; table ownership (or MAINTAIN on PG17) for ANALYZE/VACUUM/REINDEX; table ownership and CREATE on the schema for CREATE INDEX`
            : describeDbError(e, name);
        auditFinish(this.store, name, auditId, 'failed', msg);
        this.log?.warn({ target: name, action: req.action }, msg);
        return { status: 'failed' as const, message: msg };
      }
    );
    const r = await Promise.race([exec, new Promise<null>((res) => setTimeout(() => res(null), WAIT_MS).unref())]);
    if (r === null) {
      return {
        target: name,
        action: req.action,
        object: plan.object,
        status: 'running',
        httpStatus: 202,
        sql: plan.sql,
        message: `still running after ${WAIT_MS / 1000}s; follow audit id ${auditId} (GET resources/actions)`,
        auditId,
        backend: plan.backend,
      };
    }
    return {
      target: name,
      action: req.action,
      object: plan.object,
      status: r.status,
      httpStatus: r.status === 'done' ? 200 : r.status === 'refused' || r.status === 'skipped' ? 409 : 502,
      sql: plan.sql,
      message: r.message,
      auditId,
      backend: plan.backend,
    };
  }

  /** EXPLAIN ANALYZE's statement_timeout: targets[].plans.analyzeTimeout, never above actions.timeout */
  private analyzeTimeoutMs(): number {
    let ms = 30_000;
    try {
      ms = parsePlansConfig(this.target).analyzeTimeoutMs;
    } catch {
      // an invalid plans config is reported at startup; the default stands
    }
    return Math.min(ms, this.cfg instanceof Error ? ms : this.cfg.timeoutMs);
  }

  private async plan(
    action: ActionKind,
    req: z.infer<typeof actionRequestSchema>,
    minQueryMs: number
  ): Promise<{ object: string; sql: string; backend?: Record<string, unknown>; run?: PlannedAnalyze['run'] }> {
    const finding = req.finding ? findingById(this.store, this.target.name, req.finding) : undefined;
    if (req.finding && (!finding || finding.clearedAt !== null)) {
      throw new Refusal(
        404,
        `finding "${req.finding.slice(0, 200)}" is not open for target ${this.target.name}: list open findings with GET resources/recommendations`
      );
    }
    switch (action) {
      case 'cancel':
      case 'terminate':
        return this.planSignal(action, req.pid, minQueryMs);
      case 'analyze':
      case 'vacuum': {
        const obj = req.table ?? finding?.object;
        if (!obj) {
          throw new Refusal(400, `${action} needs table (schema.table) or finding`);
        }
        const [schema, table] = splitName(obj, 'table');
        if (!this.store.entities(this.target.name, 'tables', { schemaname: schema, relname: table }).length) {
          throw new Refusal(
            404,
            `table ${schema}.${table} is not known for target ${this.target.name} (pgpulse has not sampled it)`,
            obj
          );
        }
        const sql =
          action === 'analyze'
            ? `ANALYZE ${qualified(schema, table)};`
            : `VACUUM (ANALYZE) ${qualified(schema, table)};`;
        return { object: `${schema}.${table}`, sql };
      }
      case 'reindex': {
        const obj = req.index ?? finding?.object;
        if (!obj) {
          throw new Refusal(400, 'reindex needs index (schema.index) or finding');
        }
        const [schema, index] = splitName(obj, 'index');
        if (!this.store.entities(this.target.name, 'indexes', { schemaname: schema, indexrelname: index }).length) {
          throw new Refusal(
            404,
            `index ${schema}.${index} is not known for target ${this.target.name} (pgpulse has not sampled it)`,
            obj
          );
        }
        return { object: `${schema}.${index}`, sql: `REINDEX INDEX CONCURRENTLY ${qualified(schema, index)};` };
      }
      case 'explain_analyze': {
        await this.contact(`queryid ${req.queryid ?? ''}`);
        try {
          return await planExplainAnalyze(this.monitor, this.target, req);
        } catch (e) {
          if (e instanceof PlanError) {
            throw new Refusal(e.status, e.message, req.queryid ? `queryid ${req.queryid}` : '');
          }
          throw e;
        }
      }
      case 'create_index': {
        if (!finding) {
          throw new Refusal(
            400,
            'create_index needs finding: the id of an open missing-index finding (its SQL is what runs)'
          );
        }
        if (finding.fix.action !== 'create_index' || !finding.fix.sql) {
          throw new Refusal(
            400,
            `finding ${finding.id} does not propose an index (its fix is not CREATE INDEX)`,
            finding.object
          );
        }
        // the stored SQL must still be exactly one CREATE INDEX CONCURRENTLY
        const stmt = await parseOne(finding.fix.sql);
        if (!stmt?.IndexStmt || stmt.IndexStmt.concurrent !== true) {
          throw new Refusal(
            400,
            `finding ${finding.id}: its SQL is not a single CREATE INDEX CONCURRENTLY; refusing to run it`,
            finding.object
          );
        }
        return { object: finding.object, sql: finding.fix.sql };
      }
    }
  }

  private async planSignal(action: 'cancel' | 'terminate', pid: number | undefined, minQueryMs: number) {
    if (!pid) {
      throw new Refusal(400, `${action} needs pid: the process id of the backend (pg_stat_activity.pid)`);
    }
    await this.contact(`pid ${pid}`);
    const r = await pinnedQuery<{
      pid: number;
      backend_type: string;
      app: string;
      state: string | null;
      datname: string | null;
      usename: string | null;
      running_ms: number | null;
      backend_start: string;
      query: string;
    }>(
      this.monitor,
      `SELECT pid, backend_type, coalesce(application_name, '') AS app, state, datname, usename,
              (extract(epoch from clock_timestamp() - query_start) * 1000)::float8 AS running_ms,
              backend_start::text AS backend_start, left(query, 300) AS query
       FROM pg_catalog.pg_stat_activity WHERE pid = $1`,
      [pid]
    );
    const object = `pid ${pid}`;
    const b = r.rows[0];
    if (!b) {
      throw new Refusal(404, `no backend with pid ${pid} on target ${this.target.name}`, object);
    }
    // pg_stat_activity keeps the text as sent, constants and all: shown and audited with constants as $n
    const backend = {
      pid: b.pid,
      backend_type: b.backend_type,
      application_name: b.app,
      state: b.state,
      datname: b.datname,
      usename: b.usename,
      running_ms: b.running_ms,
      query: normalizeSentText(b.query),
    };
    const fn = action === 'cancel' ? 'pg_cancel_backend' : 'pg_terminate_backend';
    // every condition is checked again inside the statement itself, so nothing changes between check and act
    const sql = `SELECT ${fn}(pid) AS signalled FROM pg_stat_activity
WHERE pid = ${pid} AND backend_start = ${lit(b.backend_start)}::timestamptz
  AND backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND state = 'active' AND query_start <= clock_timestamp() - interval '${Math.floor(minQueryMs)} milliseconds';`;
    if (b.backend_type !== 'client backend') {
      throw new Refusal(
        403,
        `pid ${pid} is a ${b.backend_type}, not a client backend: pgpulse never signals system processes`,
        object,
        sql
      );
    }
    // pgpulse's own connections by their backend pid, never by a name anyone can choose
    if (ownBackendPids().has(pid)) {
      throw new Refusal(
        403,
        `pid ${pid} is one of pgpulse's own connections: pgpulse never signals its own sessions`,
        object,
        sql
      );
    }
    if (b.state !== 'active') {
      throw new Refusal(
        409,
        `pid ${pid} is not running a query (state ${b.state ?? 'unknown'}): nothing to ${action}`,
        object,
        sql
      );
    }
    if ((b.running_ms ?? 0) < minQueryMs) {
      throw new Refusal(
        409,
        `pid ${pid} has been running its query for ${Math.round((b.running_ms ?? 0) / 1000)} s, under the threshold of ${Math.round(minQueryMs / 1000)} s`,
        object,
        sql
      );
    }
    return { object, sql, backend };
  }

  private async execute(
    action: ActionKind,
    sql: string,
    cfg: ActionsConfig
  ): Promise<{ status: AuditStatus; message: string }> {
    const pool = this.actionsPool(cfg);
    const c = await pool.connect();
    const timeout = Math.max(1, Math.floor(cfg.timeoutMs));
    const inTx = !NON_TRANSACTIONAL.includes(action);
    // VACUUM / ANALYZE of a table the role may not maintain succeed with only a WARNING ("…,
    // skipping it"): that is not "done"
    const warnings: string[] = [];
    const onNotice = (n: { severity?: string; message?: string }) => {
      if (n.severity === 'WARNING' && n.message) {
        warnings.push(n.message);
      }
    };
    c.on('notice', onNotice);
    try {
      const started = Date.now();
      let r: { rows: Array<{ signalled?: boolean }> };
      if (inTx) {
        // transaction-local: nothing outlives the statement, even on a pooled server connection
        await c.query('BEGIN');
        try {
          await c.query(PIN_SEARCH_PATH);
          await c.query(`SET LOCAL statement_timeout = ${timeout}`);
          r = await c.query<{ signalled?: boolean }>(sql);
          await c.query('COMMIT');
        } catch (e) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw e;
        }
      } else {
        // VACUUM / CONCURRENTLY cannot run in a transaction: a session setting on our own direct
        // connection (never the pooler, see actionsUrl), reset before the connection goes back.
        // A PgBouncer without Neon's -pooler name is only seen on the wire: behind it the SET and
        // the statement could land on different server connections and the SET stay behind.
        if (await detectPooler(c)) {
          return {
            status: 'refused',
            message: `${action} cannot run in a transaction, so behind a transaction pooler (PgBouncer) its statement_timeout would be a session setting left on a server connection other clients share; nothing was run — point targets[].actions.url at the server directly (not through the pooler)`,
          };
        }
        await c.query(`SET statement_timeout = ${timeout}`);
        await c.query('SET search_path = pg_catalog, pg_temp');
        try {
          r = await c.query<{ signalled?: boolean }>(sql);
        } finally {
          await c.query('RESET statement_timeout').catch(() => undefined);
          await c.query('RESET search_path').catch(() => undefined);
        }
      }
      if (action === 'cancel' || action === 'terminate') {
        if (r.rows.length === 0) {
          // the actions role sees other roles' state/query_start only with pg_read_all_stats
          const seen = await pinnedQuery<{ visible: boolean }>(
            c,
            "SELECT pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER') OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS visible"
          );
          if (!seen.rows[0]?.visible) {
            return {
              status: 'failed',
              message:
                "the actions role cannot see other sessions' state in pg_stat_activity: GRANT pg_read_all_stats TO <actions role>; nothing was signalled",
            };
          }
          return {
            status: 'refused',
            message: 'the backend no longer matched (query finished, pid gone or reused): nothing was signalled',
          };
        }
        return r.rows[0].signalled
          ? { status: 'done', message: `${action === 'cancel' ? 'cancel' : 'terminate'} signal sent` }
          : {
              status: 'failed',
              message:
                'PostgreSQL refused to signal the backend (pg_signal_backend is needed, and superuser backends need a superuser)',
            };
      }
      const skipped = warnings.filter((w) => /skipping/i.test(w));
      if (skipped.length > 0) {
        return {
          status: 'skipped',
          message: `PostgreSQL skipped it: ${redact(skipped.join('; '))} — the actions role needs to own the table (or MAINTAIN on PostgreSQL 17+: GRANT MAINTAIN ON <table> TO <actions role>)`,
        };
      }
      return {
        status: 'done',
        message: `completed in ${((Date.now() - started) / 1000).toFixed(1)} s${warnings.length ? ` (warnings: ${redact(warnings.join('; '))})` : ''}`,
      };
    } finally {
      c.removeListener('notice', onNotice);
      c.release();
    }
  }
}

function describeObject(req: {
  pid?: number;
  table?: string;
  index?: string;
  finding?: string;
  queryid?: string;
}): string {
  return req.pid
    ? `pid ${req.pid}`
    : (req.table ?? req.index ?? req.finding ?? (req.queryid ? `queryid ${req.queryid}` : ''));
}
