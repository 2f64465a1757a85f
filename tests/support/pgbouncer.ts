/**
 * A real PgBouncer (Debian's `pgbouncer` package) on loopback in front of a test PostgreSQL, in
 * transaction pooling mode like Neon's -pooler endpoints. PgBouncer refuses to run as root, so it
 * runs as the `postgres` OS user, like the test servers. pool_size 1 by default: every client of
 * one (database, user) pair then shares one server connection, so a setting left behind by one
 * client is what the next one sees.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/sidecar/net';

export const PGBOUNCER_BIN = '/usr/sbin/pgbouncer';

export interface TestPgBouncer {
  host: string;
  port: number;
  /** postgres://user@127.0.0.1:port/database through the pooler */
  urlFor(database: string, user?: string): string;
  log(): string;
  stop(): Promise<void>;
}

/**
 * listenAddr/port: e.g. 127.0.0.2 and the server's own port, so pooler and server differ only by
 * address, as Neon's ep-…-pooler and ep-… hosts do (both on 5432).
 */
export async function startPgBouncer(opts: {
  serverPort: number;
  users: string[];
  poolSize?: number;
  listenAddr?: string;
  port?: number;
}): Promise<TestPgBouncer> {
  if (!existsSync(PGBOUNCER_BIN)) {
    throw new Error(`${PGBOUNCER_BIN} not found: apt-get install pgbouncer`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-pgbouncer-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  const host = opts.listenAddr ?? '127.0.0.1';
  const port = opts.port ?? (await freePort());
  const logFile = join(dir, 'pgbouncer.log');
  // auth_type trust still needs every user in auth_file; the server itself trusts loopback
  writeFileSync(join(dir, 'userlist.txt'), opts.users.map((u) => `"${u}" ""`).join('\n') + '\n');
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=127.0.0.1 port=${opts.serverPort}`,
      '[pgbouncer]',
      `listen_addr = ${host}`,
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${opts.poolSize ?? 1}`,
      'max_client_conn = 200',
      `logfile = ${logFile}`,
      'log_connections = 0',
      'log_disconnections = 0',
    ].join('\n') + '\n'
  );
  for (const f of [dir, join(dir, 'userlist.txt'), join(dir, 'pgbouncer.ini')]) {
    chownSync(f, uid, gid);
  }
  const child: ChildProcess = spawn(PGBOUNCER_BIN, [join(dir, 'pgbouncer.ini')], {
    uid,
    gid,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  process.once('exit', () => child.kill('SIGKILL'));
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') + stderr;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, host);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) {
      break;
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`pgbouncer did not start: ${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host,
    port,
    urlFor: (database, user = 'postgres') =>
      `postgres://${encodeURIComponent(user)}@${host}:${port}/${encodeURIComponent(database)}`,
    log,
    stop: async () => {
      if (child.exitCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGINT');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
