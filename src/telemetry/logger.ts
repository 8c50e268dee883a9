import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino blanks out wherever they appear. Secrets (API keys, terminal tokens, admin token) must never
 * reach a log line, whatever object a module happens to log.
 */
export const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'request.headers.authorization',
  'apiKey',
  '*.apiKey',
  'upstream.apiKey',
  'adminToken',
  '*.adminToken',
  'token',
  '*.token',
  'terminalToken',
  '*.terminalToken',
  'password',
  '*.password',
  'mqtt.password',
];

/**
 * The root logger: JSON lines to stdout (journald collects them), no worker-thread transports
 * (they cannot be resolved from the single-binary bundle). Modules take `log.child({ mod })`.
 */
export function createLogger(level: string, stream?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'storegate' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream ?? pino.destination({ dest: 1, sync: false }),
  );
}
