import pino, { type Logger } from 'pino';

/**
 * Logs go to stderr: stdout belongs to the go-plugin handshake in local mode. Connection strings
 * and tokens are redacted by key.
 */
export function createLogger(level = 'info'): Logger {
  return pino(
    {
      level,
      base: { app: 'pgpulse' },
      redact: {
        paths: ['url', 'token', 'password', '*.url', '*.token', '*.password', 'config.targets[*].url'],
        censor: '***',
      },
    },
    pino.destination(2)
  );
}
