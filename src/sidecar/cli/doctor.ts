/**
 * `pgpulse doctor`: a one-shot check of each target — connectivity, server, role and its
 * permissions, extensions, one real sampling cycle (into a throw-away store), the actions
 * credential when actions are enabled — and, from that, what will and won't work.
 */
import { bindExtensionSchemas, EXTENSIONS_SQL, pinnedQuery } from '../targets/safe-sql';
import { pooledByPid } from '../targets/pooler';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { gateForTarget, startSidecar } from '../app';
import { oneShotLogger } from './console-log';
import type { SidecarConfig, TargetConfig } from '../config';
import { parseActionsConfig } from '../actions/config';
import { describeDbError } from '../targets/connection';
import { markOwnQueries, sharedRoleNote } from '../targets/own-statements';
import { versionProblem } from '../targets/versions';
import type { Progress } from './support';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface TargetDiagnosis {
  target: string;
  reachable: boolean;
  server?: string;
  checks: Check[];
  /** feature → works or why not */
  features: Array<{ feature: string; works: boolean; why: string }>;
}

async function connect(url: string, t: TargetConfig, app: string): Promise<Client> {
  // no statement_timeout startup parameter: PgBouncer (Neon's -pooler endpoint) rejects it; the
  // checks run in one read-only transaction with SET LOCAL instead (see readOnly)
  const c = new Client({ connectionString: url, application_name: app, connectionTimeoutMillis: t.connectTimeoutMs });
  c.on('error', () => undefined);
  markOwnQueries(c);
  await c.connect();
  return c;
}

/** transaction-local settings only: nothing leaks into a pooled server connection */
async function readOnly(c: Client, t: TargetConfig): Promise<void> {
  await c.query('BEGIN READ ONLY');
  await c.query(`SET LOCAL statement_timeout = ${Math.max(1000, Math.floor(t.statementTimeoutMs))}`);
}

/**
 * Neon targets: ask the Neon API first. A compute that is idle (or whose state pgpulse cannot
 * read) is not connected to: doctor would wake it.
 */
async function neonVerdict(t: TargetConfig): Promise<{ allowed: boolean; reason?: string } | undefined> {
  if (!t.neon) {
    return undefined;
  }
  const { createLogger } = await import('../logger');
  const gate = gateForTarget(t, createLogger('silent'));
  if (!gate?.mayContact) {
    return {
      allowed: false,
      reason: 'the Neon module is not loaded: pgpulse does not connect to a Neon compute whose state it cannot read',
    };
  }
  return gate.mayContact(t);
}

async function diagnoseTarget(t: TargetConfig, progress: Progress): Promise<TargetDiagnosis> {
  const checks: Check[] = [];
  const features: TargetDiagnosis['features'] = [];
  const add = (name: string, status: CheckStatus, detail: string) => checks.push({ name, status, detail });
  progress.step(`${t.name}: connecting`);
  const neon = await neonVerdict(t);
  if (neon && !neon.allowed) {
    add('neon', 'skip', `not connecting: ${neon.reason}`);
    return {
      target: t.name,
      reachable: false,
      checks,
      features: [{ feature: 'everything', works: false, why: `not checked: ${neon.reason}` }],
    };
  }
  if (neon) {
    add('neon', 'ok', 'the Neon API says the compute is active: connecting does not wake it');
  }
  let c: Client;
  const started = Date.now();
  try {
    c = await connect(t.url, t, 'pgpulse-doctor');
  } catch (e) {
    add('connect', 'fail', describeDbError(e, t.name));
    return {
      target: t.name,
      reachable: false,
      checks,
      features: [{ feature: 'everything', works: false, why: 'the target is not reachable' }],
    };
  }
  add('connect', 'ok', `connected in ${Date.now() - started} ms`);
  const installed = new Map<string, string>();
  let server = '';
  try {
    await readOnly(c, t);
    progress.step(`${t.name}: reading server and role`);
    const info = (
      await pinnedQuery<{
        v: string;
        vn: number;
        u: string;
        db: string;
        rec: boolean;
        su: boolean;
        mon: boolean;
        ras: boolean;
        sig: boolean;
        libs: string;
        tio: string;
        tc: string;
        pgss_track: string | null;
        pid: number;
      }>(
        c,
        `SELECT pg_catalog.pg_backend_pid() AS pid, pg_catalog.current_setting('server_version') AS v, pg_catalog.current_setting('server_version_num')::int AS vn, current_user AS u,
                pg_catalog.current_database() AS db, pg_catalog.pg_is_in_recovery() AS rec,
                (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS su,
                pg_catalog.pg_has_role('pg_monitor', 'MEMBER') AS mon, pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER') AS ras,
                pg_catalog.pg_has_role('pg_signal_backend', 'MEMBER') AS sig,
                pg_catalog.current_setting('shared_preload_libraries') AS libs, pg_catalog.current_setting('track_io_timing') AS tio,
                pg_catalog.current_setting('track_counts') AS tc, pg_catalog.current_setting('pg_stat_statements.track', true) AS pgss_track`
      )
    ).rows[0];
    add(
      'pooler',
      'ok',
      pooledByPid((c as unknown as { processID?: number }).processID, info.pid)
        ? 'through a transaction pooler (PgBouncer: the startup process id is not the server backend): pgpulse uses only transaction-local settings; VACUUM, REINDEX and CREATE INDEX CONCURRENTLY actions need actions.url pointing at the server directly; give pgpulse its own role so it does not share a pool with the application'
        : 'direct connection to the server (no pooler in between)'
    );
    server = `PostgreSQL ${info.v}`;
    const versionNote = versionProblem(info.vn, info.v);
    add(
      'server',
      !versionNote ? 'ok' : info.vn < 140000 ? 'fail' : 'warn',
      `${server}${info.rec ? ' (standby)' : ''}, database ${info.db}${versionNote ? ': ' + versionNote : ''}`
    );
    add(
      'role',
      info.su ? 'warn' : info.mon ? 'ok' : 'fail',
      info.su
        ? `${info.u} is a superuser: it works, but a monitoring role needs only pg_monitor (CREATE ROLE pgpulse LOGIN PASSWORD '…'; GRANT pg_monitor TO pgpulse;)`
        : info.mon
          ? `${info.u} is a member of pg_monitor`
          : `${info.u} is not a member of pg_monitor: other sessions' queries and statistics are hidden — GRANT pg_monitor TO ${info.u};`
    );
    add(
      'track_counts',
      info.tc === 'on' ? 'ok' : 'fail',
      info.tc === 'on'
        ? 'table and index statistics are collected'
        : 'track_counts is off: table/index statistics and autovacuum do not work — set track_counts = on'
    );
    add(
      'track_io_timing',
      info.tio === 'on' ? 'ok' : 'warn',
      info.tio === 'on'
        ? 'I/O timing is collected'
        : 'track_io_timing is off: statement I/O time stays 0 (ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();)'
    );
    progress.step(`${t.name}: extensions`);
    const schemas = new Map<string, string>();
    for (const r of (await pinnedQuery<{ extname: string; extversion: string; nspname: string }>(c, EXTENSIONS_SQL))
      .rows) {
      installed.set(r.extname, r.extversion);
      schemas.set(r.extname, r.nspname);
    }
    const available = new Set(
      (
        await pinnedQuery<{ name: string }>(
          c,
          "SELECT name FROM pg_catalog.pg_available_extensions WHERE name IN ('pg_stat_statements','hypopg','vector','neon','pg_trgm')"
        )
      ).rows.map((r) => r.name)
    );
    const preloaded = info.libs
      .split(',')
      .map((s) => s.trim())
      .includes('pg_stat_statements');
    const pgss = installed.get('pg_stat_statements');
    if (pgss && preloaded) {
      try {
        await pinnedQuery(
          c,
          bindExtensionSchemas(
            'SELECT 1 FROM @extschema:pg_stat_statements@.pg_stat_statements(false) LIMIT 1',
            schemas
          )
        );
        add(
          'pg_stat_statements',
          'ok',
          `version ${pgss}, readable${info.pgss_track ? ` (track = ${info.pgss_track})` : ''}`
        );
      } catch (e) {
        add('pg_stat_statements', 'fail', `installed but not readable: ${describeDbError(e, t.name)}`);
      }
    } else {
      add(
        'pg_stat_statements',
        'fail',
        !preloaded
          ? "not in shared_preload_libraries: add it (ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'), restart, then CREATE EXTENSION pg_stat_statements"
          : 'preloaded but not created in this database: CREATE EXTENSION pg_stat_statements;'
      );
    }
    const opt = (ext: string, why: string) => {
      const v = installed.get(ext);
      add(
        ext,
        v ? 'ok' : available.has(ext) ? 'warn' : 'skip',
        v
          ? `version ${v}`
          : available.has(ext)
            ? `available, not installed: CREATE EXTENSION ${ext}; (${why})`
            : `not available on this server (${why})`
      );
    };
    opt('hypopg', 'lets the advisor prove index suggestions with hypothetical indexes');
    opt('vector', 'pgvector: only needed for vector search metrics');
    opt('pg_trgm', "needed for the trigram indexes the advisor proposes for LIKE '%…'");
    if (t.neon || available.has('neon')) {
      opt('neon', 'Neon local file cache metrics');
    }
  } catch (e) {
    add('inspect', 'fail', describeDbError(e, t.name));
  } finally {
    await c.query('COMMIT').catch(() => undefined);
    await c.end().catch(() => undefined);
  }

  // one real sampling cycle into a throw-away store: exactly what `serve` would do
  progress.step(`${t.name}: one sampling cycle`);
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-doctor-'));
  try {
    const config: SidecarConfig = {
      token: 'doctor',
      dataDir: dir,
      httpAddress: '127.0.0.1:0',
      grpcAddress: '127.0.0.1:0',
      intervalMs: t.intervalMs,
      retentionMs: 86_400_000,
      downsampleAfterMs: 86_400_000,
      downsampleStepMs: 300_000,
      logLevel: 'silent',
      targets: [t],
    };
    const sc = await startSidecar({
      config,
      http: false,
      grpc: false,
      sampling: false,
      background: false,
      logger: oneShotLogger(),
    });
    try {
      const s = sc.samplers.get(t.name);
      await s?.runCycle(true);
      if (s?.status.paused) {
        add('sampling', 'warn', `sampling paused: ${s.status.paused}`);
      }
      const own = s?.status.ownRole;
      if (own) {
        add(
          'own statements',
          own.shared ? 'warn' : 'ok',
          sharedRoleNote(own) ??
            `role ${own.name} is dedicated to pgpulse: its pg_stat_statements entries (userid ${own.oid}) are left out of statement metrics`
        );
      }
      const collectors = new Set<string>();
      for (const r of sc.store.db.prepare('SELECT DISTINCT collector FROM sample').all() as Array<{
        collector: string;
      }>) {
        collectors.add(r.collector);
      }
      const status = (id: string): { works: boolean; why: string; failed?: boolean } => {
        const why = s?.status.unavailable[id];
        if (why) {
          return { works: false, why };
        }
        const failing = s?.status.failing[id];
        if (failing) {
          return { works: false, why: failing.error, failed: true };
        }
        const last = sc.store.lastSample(t.name, id, false);
        if (!last) {
          return {
            works: false,
            why: collectors.size
              ? 'did not run (disabled in the config or not due)'
              : (s?.status.lastError ?? 'no sample'),
          };
        }
        if (!last.ok) {
          const err = (
            sc.store.db.prepare('SELECT error FROM sample WHERE id = ?').get(last.id) as { error: string | null }
          ).error;
          return { works: false, why: err ?? 'failed', failed: true };
        }
        return { works: true, why: 'sampled' };
      };
      for (const id of [...new Set([...collectors, ...Object.keys(s?.status.unavailable ?? {})])].sort()) {
        const st = status(id);
        // a collector that ran and failed is broken (✖); one that cannot run here is a warning
        add(`collector ${id}`, st.works ? 'ok' : st.failed ? 'fail' : 'warn', st.why);
      }
      const both = (ids: string[]) => {
        const sts = ids.map(status);
        const bad = sts.find((x) => !x.works);
        return bad ? { works: false, why: bad.why } : { works: true, why: ids.join(', ') + ' collectors sampled' };
      };
      features.push({
        feature: 'Health (cache hit ratio, TPS, connections, locks, checkpoints)',
        ...both(['database', 'activity', 'locks']),
      });
      features.push({ feature: 'Queries (top queries, latency, slow statements)', ...both(['statements']) });
      features.push({ feature: 'Indexes & tables (usage, dead tuples, vacuum)', ...both(['tables', 'indexes']) });
      features.push({
        feature: 'Advisor: missing-index proof with hypopg',
        works: installed.has('hypopg'),
        why: installed.has('hypopg')
          ? 'hypopg installed (EXPLAIN also needs SELECT on the tables for the monitoring role)'
          : 'CREATE EXTENSION hypopg to prove suggestions; without it they are reported unproven',
      });
      features.push({
        feature: 'Vector search (pgvector indexes, probes)',
        ...(installed.has('vector')
          ? status('vector')
          : { works: false, why: 'pgvector is not installed in this database (CREATE EXTENSION vector)' }),
      });
      if (t.neon || collectors.has('neon')) {
        features.push({
          feature: 'Neon (LFC hit ratio, compute state)',
          ...(collectors.has('neon') ? status('neon') : { works: false, why: 'neon collector did not run' }),
        });
      }
    } finally {
      await sc.stop();
    }
  } catch (e) {
    add('sampling', 'fail', (e as Error).message);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // actions: off unless enabled, and then only with their own credential
  progress.step(`${t.name}: actions`);
  try {
    const a = parseActionsConfig(t);
    if (!a.enabled) {
      add('actions', 'skip', 'disabled (the default): pgpulse changes nothing; dry-runs still show the SQL');
      features.push({
        feature: 'Actions (cancel, ANALYZE, VACUUM, REINDEX, CREATE INDEX)',
        works: false,
        why: 'disabled in the config (targets[].actions.enabled)',
      });
    } else {
      const ac = await connect(a.url as string, t, 'pgpulse-doctor');
      try {
        await readOnly(ac, t);
        const r = (
          await pinnedQuery<{ u: string; su: boolean; sig: boolean; ras: boolean }>(
            ac,
            "SELECT current_user AS u, (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS su, pg_catalog.pg_has_role('pg_signal_backend', 'MEMBER') AS sig, pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER') AS ras"
          )
        ).rows[0];
        const canSignal = r.su || (r.sig && r.ras);
        add(
          'actions credential',
          canSignal ? 'ok' : 'warn',
          `connects as ${r.u}${r.su ? ' (superuser)' : ''}; ${
            canSignal
              ? 'can cancel/terminate'
              : `cancel/terminate will fail: GRANT ${[!r.sig && 'pg_signal_backend', !r.ras && 'pg_read_all_stats'].filter(Boolean).join(', ')} TO ${r.u};`
          } ANALYZE/VACUUM/REINDEX need table ownership (or MAINTAIN on PG17)`
        );
        features.push({
          feature: 'Actions (cancel, ANALYZE, VACUUM, REINDEX, CREATE INDEX)',
          works: true,
          why: `enabled: ${a.allow.join(', ')}${a.policies.length ? `; policies: ${a.policies.map((p) => `${p.name}${p.dryRun ? ' (dry-run)' : ''}`).join(', ')}` : ''}`,
        });
      } finally {
        await ac.query('COMMIT').catch(() => undefined);
        await ac.end().catch(() => undefined);
      }
    }
  } catch (e) {
    add(
      'actions',
      'fail',
      e instanceof Error && e.name === 'ActionsConfigError'
        ? e.message
        : `actions credential: ${describeDbError(e, t.name)}`
    );
    features.push({ feature: 'Actions', works: false, why: 'see the actions check' });
  }
  return { target: t.name, reachable: true, server, checks, features };
}

export async function diagnose(
  config: SidecarConfig,
  targets: string[] | undefined,
  progress: Progress
): Promise<TargetDiagnosis[]> {
  const out: TargetDiagnosis[] = [];
  for (const t of config.targets) {
    if (targets && !targets.includes(t.name)) {
      continue;
    }
    out.push(await diagnoseTarget(t, progress));
  }
  progress.done();
  return out;
}

const MARK: Record<CheckStatus, string> = { ok: '✔', warn: '!', fail: '✖', skip: '-' };

export function doctorText(d: TargetDiagnosis[]): string {
  const lines: string[] = [];
  for (const t of d) {
    lines.push(`target ${t.target}${t.server ? ` — ${t.server}` : ''}`);
    for (const c of t.checks) {
      lines.push(`  ${MARK[c.status]} ${c.name}: ${c.detail}`);
    }
    lines.push('  what will work:');
    for (const f of t.features) {
      lines.push(`    ${f.works ? '✔' : '✖'} ${f.feature}${f.works ? '' : ` — ${f.why}`}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
