/**
 * Logging in the shape Grafana reads from a plugin's stderr: one JSON object per line in
 * hashicorp/go-hclog form, `{"@level":"info","@message":"…","@module":"…", …fields}`.
 * `@timestamp` is left out on purpose: go-hclog parses it with exactly six fractional digits and
 * drops the whole line when it does not match; Grafana stamps the line itself.
 */
import { redact } from '../auth';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

/** The logger the gRPC transport uses; any logger with these four methods fits. */
export interface GrpcLogger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const order: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };

/** One hclog JSON line (no trailing newline). Field values are redacted strings/numbers/booleans. */
export function hclogLine(level: LogLevel, message: string, fields: LogFields = {}, module = 'pgpulse'): string {
  const line: Record<string, unknown> = { '@level': level, '@message': redact(message), '@module': module };
  for (const [k, v] of Object.entries(fields)) {
    if (k.startsWith('@') || v === undefined) {
      continue; // never let a field overwrite hclog's own keys
    }
    line[k] =
      typeof v === 'string'
        ? redact(v)
        : typeof v === 'number' || typeof v === 'boolean' || v === null
          ? v
          : redact(safeJson(v));
  }
  return JSON.stringify(line);
}

function safeJson(v: unknown): string {
  if (v instanceof Error) {
    return v.message;
  }
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

export function createHclogLogger(
  opts: { level?: LogLevel; module?: string; write?: (line: string) => void } = {}
): GrpcLogger {
  const min = order[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const at = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (order[level] >= min) {
      write(hclogLine(level, message, fields, opts.module));
    }
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A logger that drops everything (the default when a caller passes none). */
export const silentLogger: GrpcLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * pino options that make pino itself print hclog lines, for the sidecar's own logger in local
 * mode (pass to `pino(hclogPinoOptions(), pino.destination(2))`).
 */
export function hclogPinoOptions(level: LogLevel = 'info'): Record<string, unknown> {
  return {
    level,
    messageKey: '@message',
    timestamp: false,
    base: { '@module': 'pgpulse' },
    formatters: {
      level: (label: string) => ({ '@level': label === 'fatal' ? 'error' : label }),
    },
    // the same key-based redaction as the sidecar's own logger (src/sidecar/logger.ts)
    redact: {
      paths: ['url', 'token', 'password', '*.url', '*.token', '*.password', 'config.targets[*].url'],
      censor: '***',
    },
  };
}

/** Minimal shape of a pino logger (obj first, message second). */
export interface PinoLike {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Adapt a pino logger to the gRPC transport's (message, fields) calls. */
export function grpcLoggerFromPino(p: PinoLike): GrpcLogger {
  return {
    debug: (m, f) => p.debug(f ?? {}, m),
    info: (m, f) => p.info(f ?? {}, m),
    warn: (m, f) => p.warn(f ?? {}, m),
    error: (m, f) => p.error(f ?? {}, m),
  };
}
