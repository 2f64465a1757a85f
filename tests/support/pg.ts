/**
 * Starts a real, throw-away PostgreSQL cluster for tests: Debian's postgresql-15 binaries (with
 * pg_stat_statements preloaded and hypopg available), run as the `postgres` OS user because the
 * server refuses to run as root.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, existsSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../../src/sidecar/net';

export { freePort };

export interface TestPostgres {
  /** superuser connection string */
  url: string;
  port: number;
  dataDir: string;
  urlFor(database: string, user?: string, password?: string): string;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
  /** fast shutdown (SIGINT): a clean restart keeps the statistics */
  stop(): Promise<void>;
  /** immediate shutdown (SIGQUIT, like `pg_ctl stop -m immediate`): the next start is crash recovery */
  crash(): Promise<void>;
  start(): Promise<void>;
  /** stop and remove everything */
  destroy(): Promise<void>;
}

export interface StartOptions {
  version?: number;
  settings?: Record<string, string>;
  /** bin/ of another PostgreSQL build: scripts/fetch-postgres.sh (majors 14–18) or the PG18 + pgvector tree of tests/support/pgvector-server.ts */
  binDir?: string;
  /**
   * Fill the (empty, postgres-owned) data directory instead of running initdb: a base backup of
   * another server (tests/support/standby.ts). The server is then not asked to create extensions.
   */
  fillDataDir?: (dataDir: string) => Promise<void>;
}

function pgBin(version: number, name: string, binDir?: string): string {
  const p = binDir ? join(binDir, name) : `/usr/lib/postgresql/${version}/bin/${name}`;
  if (!existsSync(p)) {
    throw new Error(
      binDir
        ? `${p} not found: fetch it with scripts/fetch-postgres.sh ${version}`
        : `${p} not found: install postgresql-${version} (apt-get install postgresql-${version} postgresql-${version}-hypopg)`
    );
  }
  return p;
}

export function postgresUser(): { uid: number; gid: number } {
  return {
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  };
}

export function asPostgres(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { ...postgresUser(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function startPostgres(opts: StartOptions = {}): Promise<TestPostgres> {
  const version = opts.version ?? 15;
  const base = mkdtempSync(join(tmpdir(), 'pgpulse-pg-'));
  chmodSync(base, 0o755);
  const dataDir = join(base, 'data');
  const sockDir = join(base, 'sock');
  for (const d of [dataDir, sockDir]) {
    execFileSync('mkdir', ['-p', d]);
  }
  const user = postgresUser();
  for (const d of [base, dataDir, sockDir]) {
    chownSync(d, user.uid, user.gid);
  }
  if (opts.fillDataDir) {
    await opts.fillDataDir(dataDir);
  } else {
    asPostgres(pgBin(version, 'initdb', opts.binDir), [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--locale=C',
    ]);
  }
  const port = await freePort();
  const settings: Record<string, string> = {
    port: String(port),
    listen_addresses: '127.0.0.1',
    unix_socket_directories: sockDir,
    shared_preload_libraries: 'pg_stat_statements',
    'pg_stat_statements.track': 'top',
    track_io_timing: 'on',
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: '50',
    shared_buffers: '32MB',
    log_min_messages: 'warning',
    ...opts.settings,
  };
  const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  let child: ChildProcess | null = null;
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;

  const start = async () => {
    child = spawn(pgBin(version, 'postgres', opts.binDir), args, { ...user, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const c = new Client({ connectionString: url });
      try {
        await c.connect();
        await c.end();
        return;
      } catch {
        await c.end().catch(() => undefined);
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`PostgreSQL did not start: ${stderr}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  // SIGINT = fast shutdown: active sessions are disconnected, like a compute going away;
  // SIGQUIT = immediate shutdown: no checkpoint, statistics are discarded at the next start.
  const stopWith = async (signal: 'SIGINT' | 'SIGQUIT') => {
    const c = child;
    if (!c || c.exitCode !== null) {
      return;
    }
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
    });
    child = null;
  };
  const stop = () => stopWith('SIGINT');
  await start();
  // A test that crashes must not leave a server behind for the next run.
  process.once('exit', () => {
    const c = child as ChildProcess | null;
    c?.kill('SIGKILL');
  });
  const urlFor = (database: string, user = 'postgres', password?: string) =>
    `postgres://${encodeURIComponent(user)}${password ? ':' + encodeURIComponent(password) : ''}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  const query = async <T>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<T[]> => {
    const c = new Client({ connectionString: urlFor(database) });
    // a restart while the query runs rejects it; without a listener it would also be an uncaught error event
    c.on('error', () => undefined);
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as T[];
    } finally {
      await c.end();
    }
  };
  if (!opts.fillDataDir) {
    await query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  }
  return {
    url,
    port,
    dataDir,
    urlFor,
    query,
    stop,
    crash: () => stopWith('SIGQUIT'),
    start,
    destroy: async () => {
      await stop();
      rmSync(base, { recursive: true, force: true });
    },
  };
}
