/**
 * Collector `neon_activity` (Neon targets only): is anyone but pgpulse using the compute, and
 * what keeps it awake?
 *
 * It reads the signals Neon's own activity monitor (compute_ctl) uses to decide when a compute
 * may suspend: client backends that are not idle, the latest state change of idle ones, the
 * sessions and active_time summed over non-system databases, walsenders other than Neon's
 * walproposer, subscription workers with a pid, and autovacuum workers. pgpulse's own connections
 * (application_name pgpulse…) and Neon's internal role cloud_admin are left out. The Neon gate
 * reads the stored sample after each cycle to decide when to back off (see gate.ts); the
 * per-client rows (application, user, database) say who kept the compute awake.
 *
 * The same reading carries `neon.endpoint_id`, which the gate cross-checks against the config.
 */
import type { Collector, CollectorResult, TargetContext } from '../collectors/types';
import { gucEndpointMismatch } from './identity';
import { clientProcessId, pooledByPid } from '../targets/pooler';

export const NEON_ACTIVITY = 'neon_activity';
/** per-client breakdown of the same reading: who kept the compute awake */
export const NEON_CLIENTS = 'neon_clients';

/** databases compute_ctl leaves out of its session count (monitoring tools connect to postgres) */
export const SYSTEM_DATABASES = ['postgres', 'template0', 'template1'];

const OTHERS = `
    SELECT a.state, a.state_change, a.backend_type, a.application_name, a.usename, a.datname
    FROM pg_catalog.pg_stat_activity a
    WHERE a.pid <> pg_catalog.pg_backend_pid()
      AND coalesce(a.application_name, '') NOT LIKE 'pgpulse%'
      AND coalesce(a.usename::text, '') <> 'cloud_admin'`;

const SQL = `
  WITH others AS (${OTHERS} AND a.backend_type = 'client backend')
  SELECT (SELECT count(*) FROM others WHERE state IS DISTINCT FROM 'idle') AS others_active,
         (SELECT count(*) FROM others) AS others_connected,
         (SELECT (extract(epoch from max(state_change)) * 1000)::float8 FROM others WHERE state = 'idle') AS others_last_idle_change_ms,
         (SELECT coalesce(sum(sessions), 0)::float8 FROM pg_catalog.pg_stat_database
           WHERE datname IS NOT NULL AND datname <> ALL ($1::text[])) AS sessions_user_dbs,
         (SELECT coalesce(sum(active_time), 0)::float8 FROM pg_catalog.pg_stat_database
           WHERE datname IS NOT NULL AND datname <> ALL ($1::text[])) AS active_time_user_dbs_ms,
         (SELECT count(*) FROM pg_catalog.pg_stat_replication
           WHERE coalesce(application_name, '') <> 'walproposer') AS walsenders,
         (SELECT count(*) FROM pg_catalog.pg_stat_subscription WHERE pid IS NOT NULL) AS subscription_workers,
         (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'autovacuum worker') AS autovacuum_workers,
         (current_database() <> ALL ($1::text[]))::int AS own_db_counted,
         (SELECT (extract(epoch from backend_start) * 1000)::float8 FROM pg_catalog.pg_stat_activity WHERE pid = pg_catalog.pg_backend_pid()) AS own_backend_start_ms,
         pg_catalog.pg_backend_pid() AS own_backend_pid,
         (extract(epoch from clock_timestamp()) * 1000)::float8 AS server_now_ms,
         pg_catalog.current_setting('neon.endpoint_id', true) AS endpoint_id`;

/** who is connected, per application/user/database: non-idle sessions and the newest state change */
const CLIENTS_SQL = `
  WITH others AS (${OTHERS} AND a.backend_type = 'client backend')
  SELECT coalesce(application_name, '') AS application_name, coalesce(usename::text, '') AS usename, coalesce(datname::text, '') AS datname,
         count(*) FILTER (WHERE state IS DISTINCT FROM 'idle') AS active,
         count(*) AS connected,
         (extract(epoch from max(state_change)) * 1000)::float8 AS last_state_change_ms
  FROM others GROUP BY 1, 2, 3 ORDER BY 4 DESC, 5 DESC LIMIT 50`;

export const activityFields = [
  'others_active',
  'others_connected',
  'others_last_idle_change_ms',
  'sessions_user_dbs',
  'active_time_user_dbs_ms',
  'walsenders',
  'subscription_workers',
  'autovacuum_workers',
  'own_db_counted',
  'own_backend_start_ms',
  'server_now_ms',
  // 1 when the connection goes through a transaction pooler (see targets/pooler.ts)
  'pooled',
] as const;

/** told when the compute reports another endpoint id than the config names (the gate stops) */
export const endpointMismatchListeners = new WeakMap<object, (message: string) => void>();

export function neonActivityCollector(): Collector {
  return {
    id: NEON_ACTIVITY,
    intervalFactor: 1,
    timeoutMs: 3000,
    shape: { key: [], counters: [], gauges: [...activityFields] },
    unavailable(ctx) {
      return ctx.target.neon
        ? null
        : 'not applicable: only for Neon targets (set neon: projectId/endpointId in the target config)';
    },
    async collect(db, ctx: TargetContext): Promise<CollectorResult> {
      const r = await db.query(SQL, [SYSTEM_DATABASES]);
      const row = r.rows[0] as Record<string, unknown>;
      const mismatch = ctx.target.neon
        ? gucEndpointMismatch(row.endpoint_id as string | null, ctx.target.neon.endpointId)
        : null;
      if (mismatch) {
        endpointMismatchListeners.get(ctx.target)?.(mismatch);
        throw Object.assign(new Error(mismatch), { code: '22023' });
      }
      const values: Record<string, number | null> = {};
      for (const f of activityFields) {
        const v = row[f];
        values[f] = v === null || v === undefined ? null : Number(v);
      }
      values.pooled = pooledByPid(clientProcessId(db), row.own_backend_pid as number | null) ? 1 : 0;
      return { rows: [{ key: {}, values }] };
    },
  };
}

/** Collector `neon_clients`: the per-client rows of the same signals, for "what kept it awake". */
export function neonClientsCollector(): Collector {
  return {
    id: NEON_CLIENTS,
    intervalFactor: 1,
    shape: {
      key: ['application_name', 'usename', 'datname'],
      counters: [],
      gauges: ['active', 'connected', 'last_state_change_ms'],
    },
    timeoutMs: 3000,
    unavailable(ctx) {
      return ctx.target.neon ? null : 'not applicable: only for Neon targets';
    },
    async collect(db): Promise<CollectorResult> {
      const r = await db.query<{
        application_name: string;
        usename: string;
        datname: string;
        active: string;
        connected: string;
        last_state_change_ms: number | null;
      }>(CLIENTS_SQL);
      return {
        rows: r.rows.map((x) => ({
          key: { application_name: x.application_name, usename: x.usename, datname: x.datname },
          values: {
            active: Number(x.active),
            connected: Number(x.connected),
            last_state_change_ms: x.last_state_change_ms,
          },
        })),
      };
    },
  };
}
