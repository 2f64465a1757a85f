/**
 * `pgpulse doctor`: a one-shot check of each target — connectivity, server, role and its
 * permissions, extensions, one real sampling cycle (into a throw-away store), the actions
 * credential when actions are enabled — and, from that, what will and won't work.
 */
import { bindExtensionSchemas } from '../targets/safe-sql';
import { extensionSchemas, preloaded, probeCapabilities, type TargetCapabilities } from '../targets/capabilities';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { Client } from 'pg';
import { gateForTarget, startSidecar } from '../app';
import type { Sidecar } from '../feature';
import { oneShotLogger } from './console-log';
import type { SidecarConfig, TargetConfig } from '../config';
import { parseActionsConfig } from '../actions/config';
import { describeDbError, inReadOnlyTx } from '../targets/connection';
import { markOwnQueries, sharedRoleNote } from '../targets/own-statements';
import type { Progress } from './support';
import {
  actionsCredentialCheck,
  capabilityChecks,
  type Check,
  type CheckStatus,
  type Inspection,
} from './doctor-checks';

export type { Check, CheckStatus } from './doctor-checks';

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
  // checks run in read-only transactions with SET LOCAL instead (inReadOnlyTx)
  const c = new Client({ connectionString: url, application_name: app, connectionTimeoutMillis: t.connectTimeoutMs });
  c.on('error', () => undefined);
  markOwnQueries(c);
  await c.connect();
  return c;
}

function txTimeout(t: TargetConfig): number {
  return Math.max(1000, Math.floor(t.statementTimeoutMs));
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

/** The findings about one target as they accumulate: each check below adds to it. */
class Diagnosis {
  readonly checks: Check[] = [];
  readonly features: TargetDiagnosis['features'] = [];
  server = '';

  constructor(readonly target: TargetConfig) {}

  add(name: string, status: CheckStatus, detail: string): void {
    this.checks.push({ name, status, detail });
  }

  result(reachable: boolean): TargetDiagnosis {
    return {
      target: this.target.name,
      reachable,
      ...(reachable ? { server: this.server } : {}),
      checks: this.checks,
      features: this.features,
    };
  }

  /** nothing beyond this point can be checked */
  stop(why: string): TargetDiagnosis {
    this.features.push({ feature: 'everything', works: false, why });
    return this.result(false);
  }
}

async function inspect(c: Client, t: TargetConfig): Promise<Inspection> {
  const caps = await inReadOnlyTx(c, txTimeout(t), () => probeCapabilities(c));
  let pgssError: string | null = null;
  // installed, and preloaded or pgpulse cannot tell: reading it is the proof
  if (caps.extensions.has('pg_stat_statements') && preloaded(caps, 'pg_stat_statements') !== false) {
    try {
      await inReadOnlyTx(c, txTimeout(t), () =>
        c.query(
          bindExtensionSchemas(
            'SELECT 1 FROM @extschema:pg_stat_statements@.pg_stat_statements(false) LIMIT 1',
            extensionSchemas(caps)
          )
        )
      );
    } catch (e) {
      pgssError = describeDbError(e, t.name);
    }
  }
  return { caps, startupPid: (c as unknown as { processID?: number }).processID, pgssError };
}

/** A throw-away config that samples only this target into dir. */
function oneTargetConfig(t: TargetConfig, dir: string): SidecarConfig {
  return {
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
}

interface CollectorVerdict {
  works: boolean;
  why: string;
  failed?: boolean;
}

/**
 * The collectors with a sample in the store: its streams (migration 10) that still hold one, an
 * index seek each. Through the sample view this was a scan of every sample joined to its stream.
 */
export const SAMPLED_COLLECTORS_SQL =
  'SELECT DISTINCT st.collector FROM sample_stream st WHERE EXISTS (SELECT 1 FROM sample_row WHERE stream = st.id)';

export function sampledCollectors(db: Database.Database): Set<string> {
  return new Set(db.prepare(SAMPLED_COLLECTORS_SQL).pluck().all() as string[]);
}

/** How each collector fared in the one sampling cycle doctor ran. */
function collectorVerdicts(sc: Sidecar, t: TargetConfig): { ran: Set<string>; of(id: string): CollectorVerdict } {
  const s = sc.samplers.get(t.name);
  const ran = sampledCollectors(sc.store.db);
  const of = (id: string): CollectorVerdict => {
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
        why: ran.size ? 'did not run (disabled in the config or not due)' : (s?.status.lastError ?? 'no sample'),
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
  return { ran, of };
}

/** what a user gets from the collectors that ran (and the extensions the probe saw) */
function featureVerdicts(
  t: TargetConfig,
  caps: TargetCapabilities | undefined,
  v: ReturnType<typeof collectorVerdicts>
): TargetDiagnosis['features'] {
  const installed = (ext: string) => caps?.extensions.has(ext) === true;
  const all = (ids: string[]) => {
    const bad = ids.map(v.of).find((x) => !x.works);
    return bad ? { works: false, why: bad.why } : { works: true, why: ids.join(', ') + ' collectors sampled' };
  };
  return [
    {
      feature: 'Health (cache hit ratio, TPS, connections, locks, checkpoints)',
      ...all(['database', 'activity', 'locks']),
    },
    { feature: 'Queries (top queries, latency, slow statements)', ...all(['statements']) },
    { feature: 'Indexes & tables (usage, dead tuples, vacuum)', ...all(['tables', 'indexes']) },
    {
      feature: 'Advisor: missing-index proof with hypopg',
      works: installed('hypopg'),
      why: installed('hypopg')
        ? 'hypopg installed (EXPLAIN also needs SELECT on the tables for the monitoring role)'
        : 'CREATE EXTENSION hypopg to prove suggestions; without it they are reported unproven',
    },
    {
      feature: 'Vector search (pgvector indexes, probes)',
      ...(installed('vector')
        ? v.of('vector')
        : { works: false, why: 'pgvector is not installed in this database (CREATE EXTENSION vector)' }),
    },
    ...(t.neon || v.ran.has('neon')
      ? [
          {
            feature: 'Neon (LFC hit ratio, compute state)',
            ...(v.ran.has('neon') ? v.of('neon') : { works: false, why: 'neon collector did not run' }),
          },
        ]
      : []),
  ];
}

/** one real sampling cycle into a throw-away store: exactly what `serve` would do */
async function checkSampling(d: Diagnosis, caps: TargetCapabilities | undefined): Promise<void> {
  const t = d.target;
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-doctor-'));
  try {
    const sc = await startSidecar({
      config: oneTargetConfig(t, dir),
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
        d.add('sampling', 'warn', `sampling paused: ${s.status.paused}`);
      }
      const own = s?.status.ownRole;
      if (own) {
        d.add(
          'own statements',
          own.shared ? 'warn' : 'ok',
          sharedRoleNote(own) ??
            `role ${own.name} is dedicated to pgpulse: its pg_stat_statements entries (userid ${own.oid}) are left out of statement metrics`
        );
      }
      const verdicts = collectorVerdicts(sc, t);
      for (const id of [...new Set([...verdicts.ran, ...Object.keys(s?.status.unavailable ?? {})])].sort()) {
        const st = verdicts.of(id);
        // a collector that ran and failed is broken (✖); one that cannot run here is a warning
        d.add(`collector ${id}`, st.works ? 'ok' : st.failed ? 'fail' : 'warn', st.why);
      }
      d.features.push(...featureVerdicts(t, caps, verdicts));
    } finally {
      await sc.stop();
    }
  } catch (e) {
    d.add('sampling', 'fail', (e as Error).message);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ACTIONS_FEATURE = 'Actions (cancel, ANALYZE, VACUUM, REINDEX, CREATE INDEX)';

/** actions: off unless enabled, and then only with their own credential */
async function checkActions(d: Diagnosis): Promise<void> {
  const t = d.target;
  try {
    const a = parseActionsConfig(t);
    if (!a.enabled) {
      d.add('actions', 'skip', 'disabled (the default): pgpulse changes nothing; dry-runs still show the SQL');
      d.features.push({
        feature: ACTIONS_FEATURE,
        works: false,
        why: 'disabled in the config (targets[].actions.enabled)',
      });
      return;
    }
    const ac = await connect(a.url as string, t, 'pgpulse-doctor');
    try {
      const check = actionsCredentialCheck(await inReadOnlyTx(ac, txTimeout(t), () => probeCapabilities(ac)));
      d.checks.push(check);
      d.features.push({
        feature: ACTIONS_FEATURE,
        works: true,
        why: `enabled: ${a.allow.join(', ')}${a.policies.length ? `; policies: ${a.policies.map((p) => `${p.name}${p.dryRun ? ' (dry-run)' : ''}`).join(', ')}` : ''}`,
      });
    } finally {
      await ac.end().catch(() => undefined);
    }
  } catch (e) {
    d.add(
      'actions',
      'fail',
      e instanceof Error && e.name === 'ActionsConfigError'
        ? e.message
        : `actions credential: ${describeDbError(e, t.name)}`
    );
    d.features.push({ feature: 'Actions', works: false, why: 'see the actions check' });
  }
}

async function diagnoseTarget(t: TargetConfig, progress: Progress): Promise<TargetDiagnosis> {
  const d = new Diagnosis(t);
  progress.step(`${t.name}: connecting`);
  const neon = await neonVerdict(t);
  if (neon && !neon.allowed) {
    d.add('neon', 'skip', `not connecting: ${neon.reason}`);
    return d.stop(`not checked: ${neon.reason}`);
  }
  if (neon) {
    d.add('neon', 'ok', 'the Neon API says the compute is active: connecting does not wake it');
  }
  let c: Client;
  const started = Date.now();
  try {
    c = await connect(t.url, t, 'pgpulse-doctor');
  } catch (e) {
    d.add('connect', 'fail', describeDbError(e, t.name));
    return d.stop('the target is not reachable');
  }
  d.add('connect', 'ok', `connected in ${Date.now() - started} ms`);
  let caps: TargetCapabilities | undefined;
  try {
    progress.step(`${t.name}: reading server, role and extensions`);
    const found = await inspect(c, t);
    caps = found.caps;
    d.server = `PostgreSQL ${caps.serverVersion}`;
    d.checks.push(...capabilityChecks(t, found));
  } catch (e) {
    d.add('inspect', 'fail', describeDbError(e, t.name));
  } finally {
    await c.end().catch(() => undefined);
  }
  progress.step(`${t.name}: one sampling cycle`);
  await checkSampling(d, caps);
  progress.step(`${t.name}: actions`);
  await checkActions(d);
  return d.result(true);
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
