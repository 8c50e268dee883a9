import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadHeadOfficeConfig } from '../../src/headoffice/config.js';
import { HeadOffice } from '../../src/headoffice/service.js';
import { createLogger } from '../../src/telemetry/logger.js';

export const MANAGEMENT_KEY = 'management-key-for-tests-0123456789';
export const NOTIFY_SECRET = 'notification-secret-0123456789abcdef';
export const HO_ADMIN_TOKEN = 'head-office-admin-token-0123456789';

export interface HeadOfficeFiles {
  dir: string;
  file: string;
  config: Record<string, unknown>;
}

/** A head office config in a temp dir, with its key, secret and signing key files (mode 0600). */
export function writeHeadOfficeConfig(o: { talonUrl: string; mqttUrl: string; signingPem: string; dir?: string; extra?: Record<string, unknown> }): HeadOfficeFiles {
  const dir = o.dir ?? mkdtempSync(path.join(tmpdir(), 'sg-ho-'));
  writeFileSync(path.join(dir, 'management-key'), `${MANAGEMENT_KEY}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, 'notify-secret'), `${NOTIFY_SECRET}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, 'signing.pem'), o.signingPem, { mode: 0o600 });
  const extra = o.extra ?? {};
  const config: Record<string, unknown> = {
    talon: { baseUrl: o.talonUrl, applicationId: 1, managementKeyFile: 'management-key', ...((extra['talon'] as object) ?? {}) },
    pull: { changesEverySec: 5, ...((extra['pull'] as object) ?? {}) },
    notifications: { secretFile: 'notify-secret' },
    http: { host: '127.0.0.1', port: 0, adminToken: HO_ADMIN_TOKEN },
    mqtt: { url: o.mqttUrl, reconnect: { minMs: 50, spreadMs: 200, maxMs: 1000 }, ...((extra['mqtt'] as object) ?? {}) },
    signing: { keyFile: 'signing.pem' },
    fleet: { staleAfterSec: 180, lagAfterSec: 120 },
    dataDir: 'data',
    log: { level: 'info' },
  };
  const file = path.join(dir, 'headoffice.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return { dir, file, config };
}

/** Starts the head office in this process; `logs` holds every log line (JSON text). */
export async function startHeadOffice(file: string): Promise<{ office: HeadOffice; url: string; logs: string[] }> {
  const loaded = await loadHeadOfficeConfig(file);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(line);
      cb();
    },
  });
  const office = new HeadOffice({ loaded, log: createLogger(loaded.config.log.level, sink) });
  const url = await office.start();
  return { office, url, logs };
}
