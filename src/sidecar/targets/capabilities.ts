/**
 * What a target is and what pgpulse may do on it — server version, extensions and their schemas,
 * the role's privileges, the settings collectors depend on, Neon — read by ONE statement. The
 * sampler, health, `pgpulse doctor` and the collectors all look at the same answer, so they cannot
 * disagree about whether, say, pg_stat_statements is installed.
 *
 * The statement reads pg_catalog only and qualifies every function, operator and type, so it
 * means the same whatever search_path the session has (a database owner's ALTER DATABASE … SET
 * search_path, a public.= operator): see safe-sql.ts.
 *
 * Cached per target (CapabilityCache): pg_available_extensions reads every extension's control
 * file, too much for each cycle. The sampler reads a cheap signal every cycle instead and probes
 * again when it moves (see EXTENSIONS_SIGNAL_SQL and CapabilityCache).
 */
import type { QueryResultRow } from 'pg';

/** the extensions pgpulse uses or suggests: the probe says which of them the server could install */
export const KNOWN_EXTENSIONS = ['pg_stat_statements', 'hypopg', 'vector', 'neon', 'pg_trgm', 'pgstattuple'] as const;

export interface ExtensionInfo {
  version: string;
  /** the schema its objects live in: statements qualify them with it (@extschema:name@) */
  schema: string;
}

export interface TargetCapabilities {
  /** server_version as the server spells it ("17.2", "19beta1") */
  serverVersion: string;
  serverVersionNum: number;
  postmasterStartMs: number;
  database: string;
  /**
   * Which server this is, for targets that are databases of one server (cluster/): null when
   * pg_control_system() is not executable (a managed service that revokes it) or, for the port,
   * over a Unix socket.
   */
  server: { systemIdentifier: string | null; port: number | null };
  inRecovery: boolean;
  /** the backend this probe ran in: differs from the startup pid behind a transaction pooler */
  backendPid: number;
  role: {
    name: string;
    superuser: boolean;
    /** member (directly or through another role) of pg_monitor */
    pgMonitor: boolean;
    pgReadAllStats: boolean;
    pgSignalBackend: boolean;
  };
  extensions: ReadonlyMap<string, ExtensionInfo>;
  /** which of KNOWN_EXTENSIONS the server has the files of (installed or not) */
  available: ReadonlySet<string>;
  /**
   * null: the role may not read it (a superuser-only setting: pg_read_all_settings, which
   * pg_monitor includes, or a superuser); the probe never fails because of it
   */
  sharedPreloadLibraries: readonly string[] | null;
  settings: {
    trackCounts: boolean;
    trackIoTiming: boolean;
    /** pg_stat_statements.track, null when the library is not loaded */
    pgssTrack: string | null;
  };
  neon: {
    /** neon.endpoint_id as the compute reports it; null on anything that is not a Neon compute */
    endpointId: string | null;
    /** a Neon compute: the neon extension is installed or the compute names its endpoint */
    detected: boolean;
  };
}

const EQ = 'OPERATOR(pg_catalog.=)';

/** The one probe. $1: the extension names (KNOWN_EXTENSIONS) whose availability it reports. */
export const CAPABILITIES_SQL = `SELECT pg_catalog.current_setting('server_version') AS server_version,
       pg_catalog.current_setting('server_version_num')::pg_catalog.int4 AS server_version_num,
       (extract(epoch from pg_catalog.pg_postmaster_start_time()) OPERATOR(pg_catalog.*) 1000)::pg_catalog.float8 AS postmaster_start_ms,
       pg_catalog.current_database()::pg_catalog.text AS database,
       CASE WHEN pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
            THEN (SELECT s.system_identifier::pg_catalog.text FROM pg_catalog.pg_control_system() s) END AS system_identifier,
       pg_catalog.inet_server_port() AS port,
       pg_catalog.pg_is_in_recovery() AS in_recovery,
       pg_catalog.pg_backend_pid() AS backend_pid,
       r.rolname::pg_catalog.text AS role_name,
       r.rolsuper AS superuser,
       pg_catalog.pg_has_role(r.oid, 'pg_monitor'::pg_catalog.name, 'MEMBER') AS pg_monitor,
       pg_catalog.pg_has_role(r.oid, 'pg_read_all_stats'::pg_catalog.name, 'MEMBER') AS pg_read_all_stats,
       pg_catalog.pg_has_role(r.oid, 'pg_signal_backend'::pg_catalog.name, 'MEMBER') AS pg_signal_backend,
       (SELECT g.setting FROM pg_catalog.pg_settings g WHERE g.name ${EQ} 'shared_preload_libraries') AS shared_preload_libraries,
       pg_catalog.current_setting('track_counts') AS track_counts,
       pg_catalog.current_setting('track_io_timing') AS track_io_timing,
       pg_catalog.current_setting('pg_stat_statements.track', true) AS pgss_track,
       pg_catalog.current_setting('neon.endpoint_id', true) AS neon_endpoint_id,
       (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(e.extname, e.extversion, n.nspname) ORDER BY e.extname)
          FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid ${EQ} e.extnamespace) AS extensions,
       (SELECT pg_catalog.json_agg(a.name ORDER BY a.name)
          FROM pg_catalog.pg_available_extensions a WHERE a.name ${EQ} ANY ($1::pg_catalog.name[])) AS available
  FROM pg_catalog.pg_roles r WHERE r.rolname ${EQ} CURRENT_USER`;

export interface CapabilitiesRow {
  server_version: string;
  server_version_num: number;
  postmaster_start_ms: number;
  database: string;
  system_identifier: string | null;
  port: number | null;
  in_recovery: boolean;
  backend_pid: number;
  role_name: string;
  superuser: boolean;
  pg_monitor: boolean;
  pg_read_all_stats: boolean;
  pg_signal_backend: boolean;
  /** pg_settings hides it from a role that may not read it */
  shared_preload_libraries: string | null;
  track_counts: string;
  track_io_timing: string;
  pgss_track: string | null;
  neon_endpoint_id: string | null;
  extensions: Array<[string, string, string]> | null;
  available: string[] | null;
}

/** shared_preload_libraries as the list the server loads ('a, "b"' → a, b) */
export function preloadList(setting: string): string[] {
  return setting
    .split(',')
    .map((s) => s.trim().replace(/^"(.*)"$/, '$1'))
    .filter((s) => s !== '');
}

export function capabilitiesFromRow(row: CapabilitiesRow): TargetCapabilities {
  const extensions = new Map<string, ExtensionInfo>(
    (row.extensions ?? []).map(([name, version, schema]) => [name, { version, schema }])
  );
  const endpointId = row.neon_endpoint_id || null;
  return {
    serverVersion: row.server_version,
    serverVersionNum: Number(row.server_version_num),
    postmasterStartMs: Number(row.postmaster_start_ms),
    database: row.database,
    server: { systemIdentifier: row.system_identifier, port: row.port === null ? null : Number(row.port) },
    inRecovery: row.in_recovery,
    backendPid: Number(row.backend_pid),
    role: {
      name: row.role_name,
      superuser: row.superuser,
      pgMonitor: row.pg_monitor,
      pgReadAllStats: row.pg_read_all_stats,
      pgSignalBackend: row.pg_signal_backend,
    },
    extensions,
    available: new Set(row.available ?? []),
    sharedPreloadLibraries: row.shared_preload_libraries === null ? null : preloadList(row.shared_preload_libraries),
    settings: {
      trackCounts: row.track_counts === 'on',
      trackIoTiming: row.track_io_timing === 'on',
      pgssTrack: row.pgss_track || null,
    },
    neon: { endpointId, detected: endpointId !== null || extensions.has('neon') },
  };
}

interface Queryable {
  query<R extends QueryResultRow>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

/**
 * Probe a target on a connection the caller holds inside a transaction with the search_path
 * pinned (inReadOnlyTx): the statement is safe without it, the transaction bounds its time.
 */
export async function probeCapabilities(db: Queryable): Promise<TargetCapabilities> {
  const r = await db.query<CapabilitiesRow>(CAPABILITIES_SQL, [[...KNOWN_EXTENSIONS]]);
  if (!r.rows[0]) {
    // only a role dropped while connected has no pg_roles row for CURRENT_USER
    throw new Error('the role pgpulse connects as is not in pg_roles (dropped while connected?)');
  }
  return capabilitiesFromRow(r.rows[0]);
}

/**
 * The fix for an extension that is not installed in the database pgpulse connects to. Only
 * pg_stat_statements needs its library preloaded (a restart) before CREATE EXTENSION works; the
 * probe says whether it already is.
 */
export function installHint(ext: string, caps: TargetCapabilities | undefined): string {
  if (ext === 'pg_stat_statements' && preloaded(caps, ext) !== true) {
    return 'add pg_stat_statements to shared_preload_libraries, restart PostgreSQL, then CREATE EXTENSION pg_stat_statements';
  }
  return `CREATE EXTENSION ${ext}`;
}

/** whether the server preloads a library; null when pgpulse cannot tell (the role may not read the setting) */
export function preloaded(caps: TargetCapabilities | undefined, library: string): boolean | null {
  const libs = caps?.sharedPreloadLibraries;
  return libs ? libs.includes(library) : null;
}

/** name → version: the form TargetContext.extensions and TargetStatus.extensions have */
export function extensionVersions(c: TargetCapabilities): Map<string, string> {
  return new Map([...c.extensions].map(([name, e]) => [name, e.version]));
}

/** name → schema: what bindExtensionSchemas qualifies extension objects with */
export function extensionSchemas(c: TargetCapabilities): Map<string, string> {
  return new Map([...c.extensions].map(([name, e]) => [name, e.schema]));
}

/**
 * The cheap per-cycle signal (one column for the sampler's epoch statement): what changes when
 * an extension is created, dropped, updated or moved (each writes its pg_extension row, so its
 * xmin, or removes it). A restart shows in the postmaster start time the sampler reads anyway.
 */
export const EXTENSIONS_SIGNAL_SQL = `(SELECT pg_catalog.string_agg(e.oid::pg_catalog.text OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) e.xmin::pg_catalog.text, ',' ORDER BY e.oid) FROM pg_catalog.pg_extension e)`;

/** role memberships and settings change without a signal: re-probed at least this often */
export const CAPABILITIES_MAX_AGE_MS = 5 * 60_000;

export interface CapabilitySignal {
  postmasterStartMs: number;
  extensions: string | null;
}

/**
 * One target's capabilities, and when to probe again: on first use, after the target was
 * unreachable (a reconnect may reach another server behind the same address), when the
 * postmaster restarted (an upgrade changes the version), when pg_extension changed, and at the
 * latest CAPABILITIES_MAX_AGE_MS after the last probe (a GRANT pg_monitor, a reloaded setting).
 */
export class CapabilityCache {
  private value: TargetCapabilities | undefined;
  private signal: CapabilitySignal | undefined;
  private probedAt = 0;
  private lost = false;

  constructor(private readonly now: () => number = Date.now) {}

  current(): TargetCapabilities | undefined {
    return this.value;
  }

  /** the connection failed: whatever answers next may be another server */
  invalidate(): void {
    this.lost = true;
  }

  /** why the cached value must be probed again given this cycle's signal; null when still good */
  staleBecause(signal: CapabilitySignal): string | null {
    if (!this.value || !this.signal) {
      return 'first probe';
    }
    if (this.lost) {
      return 'reconnected';
    }
    if (signal.postmasterStartMs !== this.signal.postmasterStartMs) {
      return 'server restarted';
    }
    if (signal.extensions !== this.signal.extensions) {
      return 'extensions changed';
    }
    if (this.now() - this.probedAt >= CAPABILITIES_MAX_AGE_MS) {
      return 'max age';
    }
    return null;
  }

  /** keep a fresh probe; `signal` is the one read in the same transaction (undefined: health, no signal read) */
  store(value: TargetCapabilities, signal?: CapabilitySignal): TargetCapabilities {
    this.value = value;
    this.probedAt = this.now();
    this.lost = false;
    if (signal) {
      this.signal = signal;
    } else if (this.signal && this.signal.postmasterStartMs !== value.postmasterStartMs) {
      // a probe outside the sampler (health) saw a restart: the sampler's next signal must not look unchanged
      this.signal = undefined;
    }
    return value;
  }
}
