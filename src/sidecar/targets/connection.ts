/**
 * Connections to a monitored database. Small pools that close idle connections quickly: an idle
 * open connection counts as activity on Neon and would keep the compute awake.
 */
import { readFileSync } from 'node:fs';
import { Pool, type ClientBase } from 'pg';
import type { TargetConfig } from '../config';
import { redact } from '../auth';
import { markOwnQueries } from './own-statements';
import { PIN_SEARCH_PATH } from './safe-sql';

function sslOption(t: TargetConfig): boolean | { rejectUnauthorized: boolean; ca?: string } | undefined {
  const mode = t.ssl?.mode;
  if (!mode || mode === 'prefer') {
    return undefined; // whatever the URL's sslmode says
  }
  if (mode === 'disable') {
    return false;
  }
  const ca = t.ssl?.ca ? readFileSync(t.ssl.ca, 'utf8') : undefined;
  return { rejectUnauthorized: mode === 'verify-ca' || mode === 'verify-full', ...(ca ? { ca } : {}) };
}

export function createPool(t: TargetConfig, opts: { max?: number; applicationName?: string } = {}): Pool {
  const ssl = sslOption(t);
  const pool = new Pool({
    connectionString: t.url,
    application_name: opts.applicationName ?? 'pgpulse',
    max: opts.max ?? 2,
    idleTimeoutMillis: t.neon ? 1000 : 30_000,
    connectionTimeoutMillis: t.connectTimeoutMs,
    ...(ssl !== undefined ? { ssl } : {}),
  });
  // An idle client that errors (server restart, network) must not crash the process.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    // pg-pool listens for errors only while a client is idle: a server restart while a cycle holds
    // the client would otherwise be an uncaught 'error' event and take the sidecar down. The
    // query in flight still fails, and the cycle records the target as unreachable.
    client.on('error', () => undefined);
    markOwnQueries(client);
    const pid = (client as unknown as { processID?: number }).processID;
    if (pid) {
      ownPids.add(pid);
      client.once('end', () => ownPids.delete(pid));
    }
  });
  pool.on('remove', (client) => ownPids.delete((client as unknown as { processID?: number }).processID ?? 0));
  return pool;
}

/**
 * Backend pids of pgpulse's own open connections (from each connection's BackendKeyData): what
 * actions never signal. A name (application_name pgpulse…) proves nothing — anyone can choose it.
 * Behind a transaction pooler the pids are the pooler's, and pgpulse's server backends are shared.
 */
const ownPids = new Set<number>();
export function ownBackendPids(): ReadonlySet<number> {
  return ownPids;
}

/**
 * Run fn inside a read-only transaction with a local statement timeout and the search_path pinned
 * to pg_catalog (see safe-sql.ts). SET LOCAL (not SET) keeps this safe behind PgBouncer in
 * transaction mode (Neon's -pooler endpoints).
 */
export async function inReadOnlyTx<T>(client: ClientBase, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN READ ONLY');
  try {
    await client.query(PIN_SEARCH_PATH);
    await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    const out = await fn();
    await client.query('COMMIT');
    return out;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** The GRANT that fixes a "permission denied for <kind> <name>" error. */
function grantFor(msg: string): string {
  const m =
    /permission denied for (function|procedure|table|relation|view|materialized view|sequence|schema|database) ([^\s]+)/i.exec(
      msg
    );
  if (!m) {
    return 'grant the monitoring role pg_monitor: GRANT pg_monitor TO <role>';
  }
  const kind = m[1].toLowerCase();
  const name = m[2];
  if (kind === 'function' || kind === 'procedure') {
    return `GRANT EXECUTE ON FUNCTION ${name} TO <role> (or GRANT pg_monitor TO <role> when the function is granted to it)`;
  }
  if (kind === 'schema') {
    return `GRANT USAGE ON SCHEMA ${name} TO <role>`;
  }
  if (kind === 'database') {
    return `GRANT CONNECT ON DATABASE ${name} TO <role>`;
  }
  return `GRANT SELECT ON ${name} TO <role> (or GRANT pg_monitor TO <role> for statistics views)`;
}

/** A database error as one line a person can act on, with credentials removed. */
export function describeDbError(e: unknown, target: string): string {
  const err = e as { code?: string; message?: string };
  const msg = redact(err.message ?? String(e));
  switch (err.code) {
    case 'ECONNREFUSED':
      return `target ${target}: connection refused — is PostgreSQL running and is the host/port in the URL right?`;
    case 'ENOTFOUND':
      return `target ${target}: host not found — check the host name in the URL`;
    case '28P01':
    case '28000':
      return `target ${target}: authentication failed — check the user and password of the target URL`;
    case '3D000':
      return `target ${target}: ${msg} — check the database name in the URL`;
    case '42501':
      return `target ${target}: ${msg} — ${grantFor(msg)}`;
    case '53300':
      return `target ${target}: no connection slot left (${msg}) — close idle sessions, raise max_connections, or put a pooler in front; pgpulse needs 1–2 connections per target`;
    case '57014':
      return `target ${target}: statement timeout — the collector query took longer than its timeout; raise the collector timeout or check server load`;
    case '42P01':
    case '42883':
      return `target ${target}: ${msg}`;
    default:
      return `target ${target}: ${msg}`;
  }
}
