/**
 * The `pgpulse` command: serve, demo, doctor, advise, report.
 */
import { startSidecar } from '../app';
import { ConfigError } from '../config';

const USAGE = `usage: pgpulse <command>

  serve              run the sidecar: sample targets, keep history, serve HTTP (:7700) and gRPC (:7701)
  demo               start a real PostgreSQL (embedded), a workload and the sidecar, for a first look
  doctor             check a target: connectivity, extensions, permissions, what will and won't work
  advise [--json]    tuning findings with the fix as SQL
  report [--format md|json] [--webhook URL]   daily health report
  act ACTION [--pid N|--table s.t|--index s.i|--finding ID] [--execute]
                     opt-in maintenance actions (dry-run unless --execute; see docs/advisors.md)

configuration: DATABASE_URL or PGPULSE_CONFIG (YAML), PGPULSE_TOKEN, PGPULSE_DATA_DIR,
PGPULSE_HTTP_ADDR, PGPULSE_GRPC_ADDR, PGPULSE_INTERVAL — see README.md`;

type Command = (argv: string[]) => Promise<number | void>;

function optional(module: string, fn: string): Command {
  return async (argv) => {
    let mod: Record<string, unknown>;
    try {
      mod = require(module) as Record<string, unknown>;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
        process.stderr.write(`pgpulse: this build has no ${fn.replace(/^run/, '').toLowerCase()} command\n`);
        return 2;
      }
      throw e;
    }
    return (mod[fn] as Command)(argv);
  };
}

const commands: Record<string, Command> = {
  serve: async () => {
    const sidecar = await startSidecar();
    const stop = () => {
      void sidecar.stop().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.stderr.write(`pgpulse serving: HTTP ${sidecar.config.httpAddress.replace(/:\d+$/, '')}:${sidecar.httpPort}, gRPC port ${sidecar.grpcPort}\n`);
    return new Promise<number>(() => undefined);
  },
  demo: async () => {
    const { runDemo } = await import('./demo');
    return runDemo();
  },
  doctor: optional('../advisors/cli', 'runDoctor'),
  advise: optional('../advisors/cli', 'runAdvise'),
  report: optional('../advisors/cli', 'runReport'),
  act: optional('../advisors/cli', 'runAct'),
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE + '\n');
    return cmd ? 0 : 2;
  }
  const run = commands[cmd];
  if (!run) {
    process.stderr.write(`pgpulse: unknown command "${cmd}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    return (await run(rest)) ?? 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    const err = (e instanceof Error ? e : new Error(String(e))) as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') {
      process.stderr.write(`pgpulse: address already in use (${err.message}): set PGPULSE_HTTP_ADDR / PGPULSE_GRPC_ADDR to free ports\n`);
      return 1;
    }
    process.stderr.write(`pgpulse ${cmd} failed: ${err.message}\n`);
    return 1;
  }
}
