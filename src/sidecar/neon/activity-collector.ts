/**
 * Collector `neon_activity` (Neon targets only): is anyone but pgpulse using the compute?
 *
 * It reads the same signals Neon's own activity monitor (compute_ctl) uses to decide when a
 * compute may suspend: client backends that are not idle, the latest state change of idle ones,
 * and the number of sessions opened in non-system databases. pgpulse's own connections
 * (application_name pgpulse…) and Neon's internal role cloud_admin are left out. The Neon gate
 * reads the stored sample after each cycle to decide when to back off (see gate.ts).
 */
import type { Collector, CollectorResult } from '../collectors/types';

export const NEON_ACTIVITY = 'neon_activity';

/** databases compute_ctl leaves out of its session count (monitoring tools connect to postgres) */
export const SYSTEM_DATABASES = ['postgres', 'template0', 'template1'];

const SQL = `
  WITH others AS (
    SELECT state, state_change
    FROM pg_stat_activity
    WHERE backend_type = 'client backend'
      AND pid <> pg_backend_pid()
      AND coalesce(application_name, '') NOT LIKE 'pgpulse%'
      AND coalesce(usename::text, '') <> 'cloud_admin'
  )
  SELECT (SELECT count(*) FROM others WHERE state IS DISTINCT FROM 'idle') AS others_active,
         (SELECT count(*) FROM others) AS others_connected,
         (SELECT (extract(epoch from max(state_change)) * 1000)::float8 FROM others WHERE state = 'idle') AS others_last_idle_change_ms,
         (SELECT coalesce(sum(sessions), 0)::float8 FROM pg_stat_database
           WHERE datname IS NOT NULL AND datname <> ALL ($1::text[])) AS sessions_user_dbs,
         (current_database() <> ALL ($1::text[]))::int AS own_db_counted,
         (extract(epoch from clock_timestamp()) * 1000)::float8 AS server_now_ms`;

export const activityFields = ['others_active', 'others_connected', 'others_last_idle_change_ms', 'sessions_user_dbs', 'own_db_counted', 'server_now_ms'] as const;

export function neonActivityCollector(): Collector {
  return {
    id: NEON_ACTIVITY,
    intervalFactor: 1,
    timeoutMs: 3000,
    unavailable(ctx) {
      return ctx.target.neon ? null : 'not applicable: only for Neon targets (set neon: projectId/endpointId in the target config)';
    },
    async collect(db): Promise<CollectorResult> {
      const r = await db.query(SQL, [SYSTEM_DATABASES]);
      const row = r.rows[0] as Record<string, unknown>;
      const values: Record<string, number | null> = {};
      for (const f of activityFields) {
        const v = row[f];
        values[f] = v === null || v === undefined ? null : Number(v);
      }
      return { rows: [{ key: {}, values }] };
    },
  };
}
