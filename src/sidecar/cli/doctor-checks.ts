/**
 * The checks of `pgpulse doctor` that read only the target capabilities probe
 * (targets/capabilities): one function per check, each returning what it found and the fix.
 */
import type { TargetConfig } from '../config';
import { preloaded, type TargetCapabilities } from '../targets/capabilities';
import { pooledByPid } from '../targets/pooler';
import { versionProblem } from '../targets/versions';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
}

/** What one read of the target found: the capabilities probe and whether pg_stat_statements answers. */
export interface Inspection {
  caps: TargetCapabilities;
  /** the process id the client was told at startup: another than the backend's behind a pooler */
  startupPid: number | undefined;
  /** null: readable; else the error reading pg_stat_statements (only tried when installed and preloaded) */
  pgssError: string | null;
}

export function poolerCheck(caps: TargetCapabilities, startupPid: number | undefined): Check {
  return {
    name: 'pooler',
    status: 'ok',
    detail: pooledByPid(startupPid, caps.backendPid)
      ? 'through a transaction pooler (PgBouncer: the startup process id is not the server backend): pgpulse uses only transaction-local settings; VACUUM, REINDEX and CREATE INDEX CONCURRENTLY actions need actions.url pointing at the server directly; give pgpulse its own role so it does not share a pool with the application'
      : 'direct connection to the server (no pooler in between)',
  };
}

export function serverCheck(caps: TargetCapabilities): Check {
  const versionNote = versionProblem(caps.serverVersionNum, caps.serverVersion);
  return {
    name: 'server',
    status: !versionNote ? 'ok' : caps.serverVersionNum < 140000 ? 'fail' : 'warn',
    detail: `PostgreSQL ${caps.serverVersion}${caps.inRecovery ? ' (standby)' : ''}, database ${caps.database}${versionNote ? ': ' + versionNote : ''}`,
  };
}

export function roleCheck(caps: TargetCapabilities): Check {
  const { name, superuser, pgMonitor } = caps.role;
  return {
    name: 'role',
    status: superuser ? 'warn' : pgMonitor ? 'ok' : 'fail',
    detail: superuser
      ? `${name} is a superuser: it works, but a monitoring role needs only pg_monitor (CREATE ROLE pgpulse LOGIN PASSWORD '…'; GRANT pg_monitor TO pgpulse;)`
      : pgMonitor
        ? `${name} is a member of pg_monitor`
        : `${name} is not a member of pg_monitor: other sessions' queries and statistics are hidden — GRANT pg_monitor TO ${name};`,
  };
}

export function trackCountsCheck(caps: TargetCapabilities): Check {
  const on = caps.settings.trackCounts;
  return {
    name: 'track_counts',
    status: on ? 'ok' : 'fail',
    detail: on
      ? 'table and index statistics are collected'
      : 'track_counts is off: table/index statistics and autovacuum do not work — set track_counts = on',
  };
}

export function trackIoTimingCheck(caps: TargetCapabilities): Check {
  const on = caps.settings.trackIoTiming;
  return {
    name: 'track_io_timing',
    status: on ? 'ok' : 'warn',
    detail: on
      ? 'I/O timing is collected'
      : 'track_io_timing is off: statement I/O time stays 0 (ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();)',
  };
}

export function pgStatStatementsCheck(caps: TargetCapabilities, pgssError: string | null): Check {
  const name = 'pg_stat_statements';
  const isPreloaded = preloaded(caps, 'pg_stat_statements');
  const pgss = caps.extensions.get('pg_stat_statements');
  if (isPreloaded === false) {
    return {
      name,
      status: 'fail',
      detail:
        "not in shared_preload_libraries: add it (ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'), restart, then CREATE EXTENSION pg_stat_statements",
    };
  }
  if (!pgss) {
    return {
      name,
      status: 'fail',
      detail: isPreloaded
        ? 'preloaded but not created in this database: CREATE EXTENSION pg_stat_statements;'
        : `not created in this database: CREATE EXTENSION pg_stat_statements; (${caps.role.name} may not read shared_preload_libraries: make sure it lists pg_stat_statements)`,
    };
  }
  if (pgssError !== null) {
    return { name, status: 'fail', detail: `installed but not readable: ${pgssError}` };
  }
  const track = caps.settings.pgssTrack;
  return { name, status: 'ok', detail: `version ${pgss.version}, readable${track ? ` (track = ${track})` : ''}` };
}

/** an extension pgpulse can do without: installed, installable, or not on this server */
export function optionalExtensionCheck(caps: TargetCapabilities, ext: string, why: string): Check {
  const v = caps.extensions.get(ext)?.version;
  const available = caps.available.has(ext);
  return {
    name: ext,
    status: v ? 'ok' : available ? 'warn' : 'skip',
    detail: v
      ? `version ${v}`
      : available
        ? `available, not installed: CREATE EXTENSION ${ext}; (${why})`
        : `not available on this server (${why})`,
  };
}

/** every check that reads only the probe, in the order doctor prints them */
export function capabilityChecks(t: TargetConfig, i: Inspection): Check[] {
  const { caps } = i;
  return [
    poolerCheck(caps, i.startupPid),
    serverCheck(caps),
    roleCheck(caps),
    trackCountsCheck(caps),
    trackIoTimingCheck(caps),
    pgStatStatementsCheck(caps, i.pgssError),
    optionalExtensionCheck(caps, 'hypopg', 'lets the advisor prove index suggestions with hypothetical indexes'),
    optionalExtensionCheck(caps, 'vector', 'pgvector: only needed for vector search metrics'),
    optionalExtensionCheck(caps, 'pg_trgm', "needed for the trigram indexes the advisor proposes for LIKE '%…'"),
    ...(t.neon || caps.available.has('neon') || caps.neon.detected
      ? [optionalExtensionCheck(caps, 'neon', 'Neon local file cache metrics')]
      : []),
  ];
}

/** the actions credential, probed like the monitoring one: may it cancel/terminate? */
export function actionsCredentialCheck(caps: TargetCapabilities): Check {
  const { name, superuser, pgSignalBackend, pgReadAllStats } = caps.role;
  const canSignal = superuser || (pgSignalBackend && pgReadAllStats);
  const missing = [!pgSignalBackend && 'pg_signal_backend', !pgReadAllStats && 'pg_read_all_stats'].filter(Boolean);
  return {
    name: 'actions credential',
    status: canSignal ? 'ok' : 'warn',
    detail: `connects as ${name}${superuser ? ' (superuser)' : ''}; ${
      canSignal ? 'can cancel/terminate' : `cancel/terminate will fail: GRANT ${missing.join(', ')} TO ${name};`
    } ANALYZE/VACUUM/REINDEX need table ownership (or MAINTAIN on PG17)`,
  };
}
