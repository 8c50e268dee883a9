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

let lastMs = -1;
let lastTime = '';
/** pino's ISO timestamp, formatted once per millisecond (several request lines share one at load). */
function isoTimeCached(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

/** Log lines are written in batches of this many bytes, or every FLUSH_MS, whichever comes first. */
const BATCH_BYTES = 8192;
const FLUSH_MS = 200;

/**
 * The root logger: JSON lines to stdout (journald collects them), no worker-thread transports
 * (they cannot be resolved from the single-binary bundle). Modules take `log.child({ mod })`.
 * Lines are batched (BATCH_BYTES or FLUSH_MS) rather than written one syscall each: at a few thousand
 * requests per second the per-line write was a tenth of the gateway's CPU. pino flushes the batch on exit
 * and the shutdown path calls `log.flush()`; a `kill -9` can lose the last FLUSH_MS of log lines, never
 * a journal record.
 */
export function createLogger(level: string, stream?: DestinationStream): Logger {
  let dest = stream;
  if (!dest) {
    const boom = pino.destination({ dest: 1, sync: false, minLength: BATCH_BYTES });
    setInterval(() => boom.flush(), FLUSH_MS).unref();
    dest = boom;
  }
  const children = new Set<WeakRef<Logger>>();
  const root = pino(
    {
      level,
      // Children are tracked so that a pushed `log.level` reaches every module's logger at once (pino copies
      // the level into a child when it is made, and never again).
      onChild: (child) => {
        children.add(new WeakRef(child));
      },
      base: { app: 'storegate' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: isoTimeCached,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
  LEVEL_SETTERS.set(root, (l) => {
    root.level = l;
    for (const ref of children) {
      const c = ref.deref();
      if (c) c.level = l;
      else children.delete(ref);
    }
  });
  return root;
}

const LEVEL_SETTERS = new WeakMap<Logger, (level: string) => void>();

/** Changes the level of a root logger made by {@link createLogger} and of all its children. */
export function setLogLevel(root: Logger, level: string): void {
  const set = LEVEL_SETTERS.get(root);
  if (set) set(level);
  else root.level = level;
}
