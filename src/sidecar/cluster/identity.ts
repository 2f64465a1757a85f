/**
 * Which server a target's connection reaches (see ServerIdentity): read once, and again after a
 * restart, because nothing in it changes while the postmaster runs.
 */
import type { PoolClient } from 'pg';
import { inReadOnlyTx } from '../targets/connection';
import type { ServerIdentity } from './shared-reads';

// pg_control_system() is executable by PUBLIC (PostgreSQL 9.6+); inet_server_port() is NULL over a Unix socket
const IDENTITY_SQL = `SELECT (SELECT s.system_identifier::text FROM pg_catalog.pg_control_system() s) AS system_identifier,
       pg_catalog.inet_server_port() AS port, pg_catalog.pg_postmaster_start_time()::text AS postmaster_start,
       current_user::text AS role, pg_catalog.current_database()::text AS database`;

export interface TargetServer {
  identity: ServerIdentity;
  database: string;
}

/** undefined when the server does not say (a managed service that hides pg_control_system): the target reads alone */
export async function readServerIdentity(client: PoolClient, timeoutMs: number): Promise<TargetServer | undefined> {
  try {
    const r = await inReadOnlyTx(client, timeoutMs, () =>
      client.query<{
        system_identifier: string | null;
        port: number | null;
        postmaster_start: string;
        role: string;
        database: string;
      }>(IDENTITY_SQL)
    );
    const row = r.rows[0];
    if (!row?.system_identifier) {
      return undefined;
    }
    return {
      identity: {
        systemIdentifier: row.system_identifier,
        port: row.port,
        postmasterStart: row.postmaster_start,
        role: row.role,
      },
      database: row.database,
    };
  } catch {
    return undefined;
  }
}
