/**
 * Is this connection going through a transaction pooler (PgBouncer, Neon's -pooler endpoints)?
 *
 * The host name tells only for Neon's naming; a PgBouncer of one's own has no such mark. What
 * every pooler shows is that the BackendKeyData the client got at startup is the pooler's own
 * (PgBouncer makes up a key per client), so its process id is not the server backend's
 * pg_backend_pid(). A direct connection always has the two equal.
 */
import type { PoolClient } from 'pg';

export function clientProcessId(client: PoolClient): number | undefined {
  return (client as unknown as { processID?: number }).processID;
}

/** true when the pid the server runs our statements in is not the one we were told at startup */
export function pooledByPid(startupPid: number | undefined, serverPid: number | null | undefined): boolean {
  return startupPid !== undefined && serverPid != null && startupPid !== serverPid;
}

export async function detectPooler(client: PoolClient): Promise<boolean> {
  const r = await client.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid');
  return pooledByPid(clientProcessId(client), r.rows[0]?.pid);
}
