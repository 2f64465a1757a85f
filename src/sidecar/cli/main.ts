/**
 * The `pgpulse` command: demo, serve, top, doctor, advise, report, act.
 * Exit codes: 0 ok, 1 findings or failure, 2 usage or configuration error.
 */
import { ConfigError } from '../config';
import { HELP, USAGE } from './help';

type Command = (argv: string[]) => Promise<number | void>;

const commands: Record<string, Command> = {
  serve: async (argv) => (await import('./serve')).runServe(argv),
  demo: async (argv) => {
    if (argv.length > 0) {
      process.stderr.write(`pgpulse demo: unexpected argument "${argv[0]}"\n\n${HELP.demo}\n`);
      return 2;
    }
    return (await import('./demo')).runDemo();
  },
  top: async (argv) => (await import('../top/cli')).runTop(argv),
  doctor: async (argv) => (await import('./commands')).runDoctor(argv),
  advise: async (argv) => (await import('./commands')).runAdvise(argv),
  report: async (argv) => (await import('./commands')).runReport(argv),
  act: async (argv) => (await import('./commands')).runAct(argv),
};

const wantsHelp = (argv: string[]) => argv.some((a) => a === '--help' || a === '-h');

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    const topic = cmd === 'help' ? rest[0] : undefined;
    if (topic && !HELP[topic]) {
      process.stderr.write(`pgpulse: no help for "${topic}"\n\n${USAGE}\n`);
      return 2;
    }
    (cmd ? process.stdout : process.stderr).write((topic ? HELP[topic] : USAGE) + '\n');
    return cmd ? 0 : 2;
  }
  const run = commands[cmd];
  if (!run) {
    process.stderr.write(`pgpulse: unknown command "${cmd}"\n\n${USAGE}\n`);
    return 2;
  }
  if (wantsHelp(rest)) {
    process.stdout.write(HELP[cmd] + '\n');
    return 0;
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
      process.stderr.write(
        `pgpulse: address already in use (${err.message}): set PGPULSE_HTTP_ADDR / PGPULSE_GRPC_ADDR to free ports\n`
      );
      return 1;
    }
    process.stderr.write(`pgpulse ${cmd} failed: ${err.message}\n`);
    return 1;
  }
}
