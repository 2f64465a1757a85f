/**
 * A pino logger for commands a person runs in a terminal (demo, one-shot commands): one plain line
 * per record on stderr ("pgpulse warn: …"), never JSON in the middle of a report, and silent once
 * `mute()` is called (a shutdown in progress makes every connection fail on purpose).
 */
import pino, { type Logger } from 'pino';

const NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export function consoleLogger(
  level: string,
  stream: NodeJS.WritableStream = process.stderr
): { log: Logger; mute(): void } {
  let muted = false;
  const dest = {
    write(line: string): void {
      if (muted) {
        return;
      }
      try {
        const r = JSON.parse(line) as { level: number; msg?: string; err?: string };
        stream.write(`pgpulse ${NAMES[r.level] ?? r.level}: ${r.msg ?? ''}${r.err ? ` (${r.err})` : ''}\n`);
      } catch {
        stream.write(line);
      }
    },
  };
  const log = pino(
    {
      level,
      base: undefined,
      redact: { paths: ['url', 'token', 'password', '*.url', '*.token', '*.password'], censor: '***' },
    },
    dest
  );
  return { log, mute: () => (muted = true) };
}

/** One-shot commands (advise, report, doctor, act) log only errors unless PGPULSE_LOG_LEVEL says more. */
export function oneShotLogger(): Logger {
  return consoleLogger(process.env.PGPULSE_LOG_LEVEL || 'error').log;
}
