/**
 * A shop for the status page tests: a real gateway in offline mode with every kind of secret configured — the
 * admin token, terminal tokens (and their hashes), the Integration API key in a key file, broker credentials —
 * a real Talon.One emulator (refusing at first: sales stay in the journal) and a real mosquitto. `secrets`
 * lists what must never reach a page, its script or the JSON it reads.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APP_DIR } from '../../src/config/load.js';
import { sha256Hex } from '../../src/http/auth.js';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { ADMIN_TOKEN, TERMINAL_TOKENS, startGateway, terminalHeaders, type TestGateway } from './gateway.js';
import { Mosquitto } from './mosquitto.js';

export const API_KEY = 'status-page-api-key-d41d8cd98f00b204';
export const BROKER_PASSWORD = 'status-page-broker-password-77aa';
const sample = (f: string) => path.join(APP_DIR, 'config', f);

export interface StatusWorld {
  gw: TestGateway;
  emu: Emulator;
  broker: Mosquitto;
  keyFile: string;
  /** Strings no public answer may contain. */
  secrets: string[];
  /** One local session update from terminal T1 (journaled while Talon.One refuses). */
  sale(id: string): Promise<Response>;
  stop(): Promise<void>;
}

export async function startStatusWorld(opts: { serial?: Record<string, unknown>[] } = {}): Promise<StatusWorld> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-status-'));
  const keyFile = path.join(dir, 'talon-api-key');
  writeFileSync(keyFile, `${API_KEY}\n`, { mode: 0o600 });
  const emu = await startEmulator({ apiKey: API_KEY, port: 0 });
  await emu.setFaults({ refuse: true });
  const broker = await new Mosquitto().start();
  const gw = await startGateway(
    {
      mode: 'offline',
      upstream: { baseUrl: emu.url, apiKeyFile: 'talon-api-key', timeoutMs: 500 },
      mqtt: { url: broker.url, username: 'shop-042', password: BROKER_PASSWORD, reconnect: { minMs: 100, spreadMs: 200, maxMs: 500 } },
      dataFiles: { rules: sample('sample-rules.json'), prices: sample('sample-prices.json'), coupons: sample('sample-coupons.json'), loyalty: sample('sample-loyalty.json') },
      journal: { reserveBytes: 0 },
      serial: opts.serial ?? [],
    },
    { dir, probeIntervalMs: 100 },
  );
  const secrets = [ADMIN_TOKEN, ...Object.values(TERMINAL_TOKENS), ...Object.values(TERMINAL_TOKENS).map(sha256Hex), API_KEY, keyFile, 'talon-api-key', BROKER_PASSWORD, dir];
  return {
    gw,
    emu,
    broker,
    keyFile,
    secrets,
    sale: (id) =>
      fetch(`${gw.url}/v2/customer_sessions/${id}`, {
        method: 'PUT',
        headers: terminalHeaders('T1'),
        body: JSON.stringify({ customerSession: { profileId: 'cust-001', state: 'closed', cartItems: [{ sku: 'SKU-1', name: 'Pan', quantity: 1, price: 20, category: 'Kitchen' }] } }),
      }),
    stop: async () => {
      await gw.stop().catch(() => undefined);
      await broker.stop();
      await emu.close();
    },
  };
}
