/**
 * Head office against Talon.One's rate limit: a pull killed midway (SIGKILL of the real process) resumes where
 * it stopped when the service starts again — no ruleset or coupon page is read twice beyond the one in flight —
 * and a Talon.One that answers 429 with Retry-After is waited for, never hammered.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../scripts/talon-emulator/server.js';
import { APP_DIR } from '../../src/config/load.js';
import type { FleetDoc } from '../../src/headoffice/service.js';
import { HO_ADMIN_TOKEN, MANAGEMENT_KEY, startHeadOffice, writeHeadOfficeConfig } from '../helpers/headoffice.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/procs.js';
import { keyPair } from '../helpers/signing.js';
import { until } from '../helpers/until.js';

const keys = keyPair();
const RULESET = 'GET /v2/applications/{applicationId}/campaigns/{campaignId}/rulesets/{rulesetId}';
const COUPONS = 'GET /v1/applications/{applicationId}/campaigns/{campaignId}/coupons/no_total';

let broker: Mosquitto;
let emu: Emulator;
const children: ChildProcess[] = [];

function spawnHeadOffice(file: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'headoffice', '--config', file], { cwd: APP_DIR, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  return child;
}

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: APP_DIR, encoding: 'utf8', timeout: 20_000 });
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function fleet(url: string): Promise<FleetDoc | null> {
  try {
    const r = await fetch(`${url}/fleet?format=json`, { headers: { authorization: `Bearer ${HO_ADMIN_TOKEN}` }, signal: AbortSignal.timeout(1000) });
    return r.ok ? ((await r.json()) as FleetDoc) : null;
  } catch {
    return null;
  }
}

beforeAll(async () => {
  broker = await new Mosquitto().start();
});

afterAll(async () => {
  for (const c of children) await kill9(c);
  await emu?.close();
  await broker?.stop();
});

describe('head office pulls within the rate limit', () => {
  it('resumes a pull killed midway without pulling everything again', async () => {
    emu = await startEmulator({ apiKey: 'k', managementKey: MANAGEMENT_KEY });
    const made = emu.management.generate({ stores: 5, campaigns: 30, coupons: 3000, balances: 200, couponCampaigns: 3, storeSpecificEvery: 5 });
    const port = await freePort();
    const files = writeHeadOfficeConfig({ talonUrl: emu.url, mqttUrl: broker.url, signingPem: keys.privatePem, extra: { talon: { pageSize: 100 } } });
    // The child listens on a known port (the helper's config says 0).
    const cfg = { ...files.config, http: { ...(files.config['http'] as object), port } };
    writeFileSync(files.file, JSON.stringify(cfg));
    const url = `http://127.0.0.1:${port}`;

    const first = spawnHeadOffice(files.file);
    await until(() => (emu.management.rateLimit()[RULESET]?.requests ?? 0) >= 10 && (emu.management.rateLimit()[COUPONS]?.requests ?? 0) >= 8, 30_000);
    await kill9(first);
    const before = emu.management.rateLimit();
    expect(before[RULESET]?.requests).toBeLessThan(made.campaigns);

    const second = spawnHeadOffice(files.file);
    await until(async () => {
      const d = await fleet(url);
      return d !== null && d.pull.initialDone && d.pull.lastCouponsAt !== null && d.pull.lastLoyaltyAt !== null;
    }, 40_000);
    const after = emu.management.rateLimit();
    // Every ruleset and every coupon page once, plus at most the one in flight when the process died.
    expect(after[RULESET]?.requests).toBeGreaterThanOrEqual(made.campaigns);
    expect(after[RULESET]?.requests).toBeLessThanOrEqual(made.campaigns + 1);
    const pages = 3 * (1000 / 100);
    expect(after[COUPONS]?.requests).toBeGreaterThanOrEqual(pages);
    expect(after[COUPONS]?.requests).toBeLessThanOrEqual(pages + 1);
    for (const [endpoint, c] of Object.entries(after)) {
      expect(c.maxPerSecond, endpoint).toBeLessThanOrEqual(3);
      expect(c.rejected, endpoint).toBe(0);
    }
    await until(async () => {
      const d = await fleet(url);
      return d?.pushed.find((p) => p.kind === 'rules')?.streams === 5 && d.pushed.find((p) => p.kind === 'coupons')?.streams === 1;
    }, 10_000);
    const doc = (await fleet(url)) as FleetDoc;
    expect(doc.pushed.find((p) => p.kind === 'coupons')).toMatchObject({ fleetWide: true });
    // `storegate headoffice status` prints the fleet (no shop runs here: every store unknown, none refusing: exit 0).
    const st = cli(['headoffice', 'status', '--config', files.file]);
    expect(st.status).toBe(0);
    expect(st.stdout).toMatch(/^fleet: 5 shops — 5 unknown/m);
    expect(st.stdout).toMatch(/Talon.One: first sync done/);
    const js = JSON.parse(cli(['headoffice', 'status', '--json', '--config', files.file]).stdout) as FleetDoc;
    expect(js.shops.map((x) => x.store)).toEqual(['store-0001', 'store-0002', 'store-0003', 'store-0004', 'store-0005']);
    // SIGTERM stops it cleanly (exit 0).
    const code = await new Promise<number | null>((resolve) => {
      second.once('exit', (c) => resolve(c));
      second.kill('SIGTERM');
    });
    expect(code).toBe(0);
    expect(cli(['headoffice', 'status', '--config', files.file]).stderr).toMatch(/connection refused at http:\/\/127.0.0.1:\d+ — is storegate headoffice running\?/);
    await emu.close();
  }, 90_000);

  it('refuses a bad config with every problem and its path (exit 2), and a bad command (exit 2)', () => {
    const files = writeHeadOfficeConfig({ talonUrl: 'ftp://nope', mqttUrl: 'mqtt://127.0.0.1:1', signingPem: keys.privatePem, extra: { talon: { ratePerSec: 10 } } });
    const r = cli(['headoffice', '--config', files.file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/\/talon\/baseUrl/);
    expect(r.stderr).toMatch(/\/talon\/ratePerSec: must be a number .*3/);
    expect(r.stderr).not.toContain(MANAGEMENT_KEY);
    expect(cli(['headoffice', 'bogus', '--config', files.file]).status).toBe(2);
  });

  it('waits out a 429 with Retry-After instead of sending more', async () => {
    // Talon.One allowing fewer requests than head office is configured for: every 429 must be honoured.
    emu = await startEmulator({ apiKey: 'k', managementKey: MANAGEMENT_KEY, managementRatePerSec: 1 });
    emu.management.generate({ stores: 2, campaigns: 8, coupons: 100, balances: 10, couponCampaigns: 1, storeSpecificEvery: 0 });
    const files = writeHeadOfficeConfig({ talonUrl: emu.url, mqttUrl: broker.url, signingPem: keys.privatePem });
    const { office } = await startHeadOffice(files.file);
    try {
      await office.synced(40_000);
    } finally {
      await office.stop();
    }
    const c = emu.management.rateLimit()[RULESET];
    expect(c?.rejected).toBeGreaterThan(0);
    expect(c?.retryAfterIgnored).toBe(0);
    expect(c?.accepted).toBe(8);
    await emu.close();
  }, 60_000);
});
