/**
 * Local mode: Grafana runs this file as its plugin process (the locator execs node on it).
 *
 * go-plugin's contract: the first stdout line is the handshake `1|2|tcp|127.0.0.1:<port>|grpc`
 * (anything before it fails the launch), stderr lines are hclog JSON, SIGINT is ignored (Grafana
 * stops plugins with Shutdown, then SIGKILL), and the process exits after Shutdown.
 * Configuration comes from the ini section [plugin.pgpulse-postgres-datasource], which Grafana
 * passes as GF_PLUGIN_<KEY> variables; they are mapped onto the sidecar's own variables. Without
 * database_url and config the process runs no sidecar and only relays the datasources that name
 * their own sidecar (routing.ts).
 */
import type { PgpulseService } from '../service';
import { createHclogLogger, hclogPinoOptions, type GrpcLogger, type LogLevel } from './hclog';
import { startGrpcServer } from './server';

export interface LocalSidecar {
  /** null: no database configured, the process only relays (routing.ts) */
  service: PgpulseService | null;
  stop(): Promise<void>;
}

/** Starts the sidecar in-process (sampler, store, engine) and hands back its service. */
export type LocalSidecarStarter = (opts: { logger: GrpcLogger; env: NodeJS.ProcessEnv }) => Promise<LocalSidecar>;

/** ini key (GF_PLUGIN_<KEY>) → sidecar variable. Keys absent from the ini leave the variable alone. */
export const PLUGIN_ENV_MAP: Record<string, string> = {
  GF_PLUGIN_DATABASE_URL: 'DATABASE_URL',
  GF_PLUGIN_CONFIG: 'PGPULSE_CONFIG',
  GF_PLUGIN_TOKEN: 'PGPULSE_TOKEN',
  GF_PLUGIN_DATA_DIR: 'PGPULSE_DATA_DIR',
  GF_PLUGIN_INTERVAL: 'PGPULSE_INTERVAL',
  GF_PLUGIN_HTTP_ADDR: 'PGPULSE_HTTP_ADDR',
  GF_PLUGIN_LOG_LEVEL: 'PGPULSE_LOG_LEVEL',
};

export function sidecarEnvFromPluginEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [from, to] of Object.entries(PLUGIN_ENV_MAP)) {
    if (env[from] !== undefined && env[from] !== '') {
      out[to] = env[from];
    }
  }
  // In local mode Grafana talks to the gRPC server this entry starts on a free loopback port;
  // the sidecar must not also claim the remote-mode port.
  out.PGPULSE_GRPC_ADDR = '127.0.0.1:0';
  // Same for the HTTP API: off the well-known port unless http_addr asks for one.
  if (!env.GF_PLUGIN_HTTP_ADDR) {
    out.PGPULSE_HTTP_ADDR = '127.0.0.1:0';
  }
  return out;
}

export interface EntryIO {
  /** the real stdout: only the handshake goes there */
  handshake(line: string): void;
  exit(code: number): void;
  /** whose Shutdown is obeyed (default: the parent process, Grafana) */
  shutdownFromPid?: number;
}

/**
 * Route everything written to stdout to stderr: a stray console.log before the handshake would
 * make Grafana fail the launch with "Unrecognized remote plugin message".
 */
export function guardStdout(): EntryIO {
  const realWrite = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) =>
    (process.stderr.write as (...a: unknown[]) => boolean)(chunk, ...rest)) as typeof process.stdout.write;
  return {
    handshake: (line) => {
      realWrite(line + '\n');
    },
    exit: (code) => process.exit(code),
  };
}

export async function runPluginEntry(
  start: LocalSidecarStarter,
  io: EntryIO,
  env: NodeJS.ProcessEnv = process.env
): Promise<void> {
  const level = (env.GF_PLUGIN_LOG_LEVEL as LogLevel) || 'info';
  const logger = createHclogLogger({
    level: ['trace', 'debug', 'info', 'warn', 'error'].includes(level) ? level : 'info',
  });
  process.on('SIGINT', () => logger.debug('SIGINT ignored: Grafana stops plugins with Shutdown'));

  const sidecarEnv = sidecarEnvFromPluginEnv(env);
  const token = sidecarEnv.PGPULSE_TOKEN ?? '';
  let sidecar: LocalSidecar;
  try {
    sidecar = await start({ logger, env: sidecarEnv });
  } catch (e) {
    logger.error('pgpulse sidecar failed to start', { error: (e as Error)?.message ?? String(e) });
    io.exit(1);
    return;
  }

  if (!sidecar.service) {
    logger.info(
      'no database_url or config in [plugin.pgpulse-postgres-datasource]: this plugin process runs no sidecar and serves the datasources that name their own sidecar address'
    );
  } else if (!token) {
    logger.warn(
      'no sidecar token: set token in [plugin.pgpulse-postgres-datasource] (GF_PLUGIN_TOKEN) and the same value in the datasource secure settings; every call is refused until then'
    );
  }

  let grpcServer: Awaited<ReturnType<typeof startGrpcServer>> | undefined;
  let exiting = false;
  const exit = async (why: string) => {
    if (exiting) {
      return;
    }
    exiting = true;
    logger.info(`pgpulse plugin process exiting: ${why}`);
    const hardStop = setTimeout(() => io.exit(0), 1500);
    hardStop.unref();
    await Promise.allSettled([grpcServer?.stop(), sidecar.stop()]);
    clearTimeout(hardStop);
    io.exit(0);
  };

  try {
    grpcServer = await startGrpcServer(sidecar.service, {
      address: '127.0.0.1:0',
      token,
      mode: 'local',
      logger,
      onShutdown: () => void exit('Shutdown from Grafana'),
      shutdownFromPid: io.shutdownFromPid,
    });
  } catch (e) {
    logger.error('pgpulse gRPC server failed to start', { error: (e as Error)?.message ?? String(e) });
    await sidecar.stop().catch(() => undefined);
    io.exit(1);
    return;
  }
  io.handshake(`1|2|tcp|127.0.0.1:${grpcServer.port}|grpc`);
  process.on('SIGTERM', () => void exit('SIGTERM'));
}

/**
 * The real sidecar, started in-process through src/sidecar/app.ts. Loaded lazily so that this
 * entry (and its tests) do not depend on the app module's load-time side effects.
 */
export const startSidecarFromApp: LocalSidecarStarter = async ({ logger, env }) => {
  if (!env.DATABASE_URL && !env.PGPULSE_CONFIG) {
    // nothing to sample: only datasources that name their own sidecar (jsonData.sidecarAddress)
    // are served — one Grafana, a sidecar per region or team
    return { service: null, stop: () => Promise.resolve() };
  }

  const app = require('../app') as { startSidecar?: (opts: Record<string, unknown>) => Promise<unknown> };
  if (typeof app.startSidecar !== 'function') {
    throw new Error('src/sidecar/app.ts exports no startSidecar(); this build cannot run in local mode');
  }
  // The sidecar's own logs must reach Grafana as hclog lines too: hand it a pino logger in that
  // shape (and say so in the env for a logger factory that reads it).

  const pino = require('pino') as typeof import('pino');
  const level = (env.PGPULSE_LOG_LEVEL as LogLevel) || 'info';
  const pinoLogger = pino.default(hclogPinoOptions(level) as import('pino').LoggerOptions, pino.destination(2));
  const started = (await app.startSidecar({
    env: { ...env, PGPULSE_LOG_FORMAT: 'hclog' },
    logger: pinoLogger,
    grpc: false,
  })) as Partial<LocalSidecar>;
  logger.debug('sidecar started in-process');
  if (!started?.service) {
    throw new Error('startSidecar() returned no service');
  }
  return { service: started.service, stop: () => (started.stop ? started.stop() : Promise.resolve()) };
};

if (require.main === module) {
  const io = guardStdout();
  void runPluginEntry(startSidecarFromApp, io);
}
