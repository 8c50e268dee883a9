import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { sha256Hex } from '../../src/http/auth.js';
import type { Clock } from '../../src/platform/clock.js';

export const TERMINAL_TOKENS = { T1: 'terminal-token-one-0123456789', T2: 'terminal-token-two-0123456789' } as const;
export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
export const STORE_ID = 'store-042';

export interface TestGateway {
  gateway: Gateway;
  url: string;
  dir: string;
  /** Every log line the gateway wrote (JSON text), for "no secret in logs" assertions. */
  logs: string[];
  stop(): Promise<void>;
}

/** Starts a real gateway on a random loopback port, from a real config file in a temp dir. */
export async function startGateway(
  config: Record<string, unknown>,
  opts: { probeIntervalMs?: number; dir?: string; clock?: Clock } = {},
): Promise<TestGateway> {
  // Reusing `dir` restarts a gateway on the same data dir (journal, snapshots).
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'sg-gw-'));
  const full = {
    store: { integrationId: STORE_ID, attributes: { region: 'north' } },
    dataDir: 'var',
    http: { host: '127.0.0.1', port: 0 },
    adminToken: ADMIN_TOKEN,
    terminals: Object.entries(TERMINAL_TOKENS).map(([id, token]) => ({ id, tokenSha256: sha256Hex(token) })),
    log: { level: 'info' },
    ...config,
  };
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(full, null, 2));
  const loaded = await loadConfig({ configPath: file, env: {} });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(line);
      cb();
    },
  });
  const log = createLogger(loaded.config.log.level, sink);
  const gateway = new Gateway({
    loaded,
    log,
    defaultMetrics: false,
    ...(opts.probeIntervalMs ? { probeIntervalMs: opts.probeIntervalMs } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  const url = await gateway.start();
  return { gateway, url, dir, logs, stop: () => gateway.stop() };
}

export function terminalHeaders(id: keyof typeof TERMINAL_TOKENS = 'T1'): Record<string, string> {
  return { authorization: `ApiKey-v1 ${TERMINAL_TOKENS[id]}`, 'content-type': 'application/json' };
}
