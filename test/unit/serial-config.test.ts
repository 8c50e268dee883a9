/** The `serial` config keys: defaults, and patterns refused at load (exit 2) with their JSON path, not at the first scan. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';

async function load(serial: unknown[]) {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-serial-cfg-'));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ terminals: [{ id: 'T1', tokenSha256: 'a'.repeat(64) }], serial }));
  return loadConfig({ configPath: file, env: {} });
}

describe('serial config', () => {
  it('fills the defaults of a minimal port', async () => {
    const { config } = await load([{ id: 'scanner-1', path: '/dev/serial/by-id/usb-Acme-if00', role: 'terminal', terminalId: 'T1' }]);
    expect(config.serial[0]).toMatchObject({
      baudRate: 9600,
      suffix: '\r\n',
      interByteTimeoutMs: 50,
      maxLineBytes: 512,
      aim: false,
      stripPrefixes: [],
      couponPattern: null,
      loyaltyCardPattern: null,
      autoApplyCoupons: false,
      priceTemplate: '{label}\n{finalPrice} {was}',
      displayColumns: 20,
      displayRows: 2,
      goneAlertSec: 60,
    });
  });

  it('refuses a pattern that is invalid or needs backtracking, naming its path', async () => {
    const err = await load([
      { id: 'a', path: '/dev/ttyUSB0', role: 'terminal', terminalId: 'T1', couponPattern: '^(A+' },
      { id: 'b', path: '/dev/ttyUSB1', role: 'priceCheck', loyaltyCardPattern: '^(\\d)\\1+$' },
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const details = (err as ConfigError).details.map((d) => d.path);
    expect(details).toEqual(expect.arrayContaining(['/serial/0/couponPattern', '/serial/1/loyaltyCardPattern']));
  });

  it('refuses wrong types and out-of-range values', async () => {
    const err = await load([{ id: 'a', path: '/dev/ttyUSB0', role: 'priceCheck', maxLineBytes: 1_000_000, autoApplyCoupons: 'yes' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
  });
});
