/**
 * The single binary end to end (issue 12): the x64 binary as built by `npm run build:binary`, copied alone into
 * an empty folder, run as systemd would run it (a notification socket, a watchdog, the unit's malloc setting)
 * with a real Talon.One emulator, a real mosquitto and a price-check scanner on a real pty — nothing from the sources.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import { APP_DIR } from '../../src/config/load.js';
import { sha256Hex } from '../../src/http/auth.js';
import { ensureBinary } from '../helpers/binary.js';
import { NODE_VERSION } from '../../scripts/runtime-flags.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { FakeNotifySocket } from '../helpers/notify-socket.js';
import { freePort } from '../helpers/procs.js';
import { PtyPair } from '../helpers/pty.js';
import { httpsRequest } from '../helpers/tls.js';

const execFileP = promisify(execFile);
const KEY = 'talon-key-e2e-binary-0123456789';
const TOKEN = 'terminal-token-e2e-binary-0123456789';
const ADMIN = 'admin-token-e2e-binary-0123456789';
const work = mkdtempSync(path.join(tmpdir(), 'sg-e2e-'));
const bin = path.join(work, 'alone', 'storegate');

let emu: Awaited<ReturnType<typeof startEmulator>>;
const broker = new Mosquitto();
const notify = new FakeNotifySocket();
/** A price-check scanner on a pty pair (socat): the binary opens it with its embedded serial addon. */
const scanner = new PtyPair(work, 'scanner');
let daemon: ChildProcess;
let port = 0;
const lines: string[] = [];
let exited: Promise<number | null>;

/** The sample rules plus one campaign whose condition is a regular expression (V8's linear engine, in the binary). */
function rulesWithRegex(): string {
  const rules = JSON.parse(readFileSync(path.join(APP_DIR, 'config', 'sample-rules.json'), 'utf8')) as {
    campaigns: unknown[];
    evaluationTree: { set: { elements: unknown[] } };
  };
  rules.campaigns.push({
    campaign: { id: 901, name: 'Berlin shipping', state: 'enabled', startTime: '2026-01-01T00:00:00Z', endTime: '2030-01-01T00:00:00Z', linkedStoreIds: [], features: [] },
    ruleset: {
      id: 9901,
      campaignId: 901,
      strikethroughRules: [],
      promotionRules: [
        {
          id: 'r-901',
          title: 'cities like B…n',
          blocks: [
            { id: 'b1', type: 'checkAttribute', attribute: '$Session.Attributes.ShippingCity', operator: 'matchesRegexp', value: '^B[a-z]+n$' },
            { id: 'b2', type: 'awardDiscount', name: 'regex-city-discount', value: 3, partial: false, target: { type: 'cart' } },
          ],
        },
      ],
    },
  });
  rules.evaluationTree.set.elements.push({ type: 'CAMPAIGN', campaignId: 901 });
  const file = path.join(work, 'rules.json');
  writeFileSync(file, JSON.stringify(rules));
  return file;
}

function session(id: string, attributes: Record<string, unknown> = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/v2/customer_sessions/${id}`, {
    method: 'PUT',
    headers: { authorization: `ApiKey-v1 ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ customerSession: { profileId: 'cust-e2e', attributes, cartItems: [{ sku: 'SKU-1', name: 'Pan', quantity: 2, price: 30, category: 'Kitchen' }] }, responseContent: ['customerSession'] }),
  });
}

beforeAll(async () => {
  const built = await ensureBinary();
  // Alone in an empty folder: the binary needs nothing beside it.
  mkdirSync(path.dirname(bin), { recursive: true });
  copyFileSync(built, bin);
  chmodSync(bin, 0o755);
  emu = await startEmulator({ apiKey: KEY, port: 0 });
  await broker.start();
  await notify.start();
  await scanner.plug();
  port = await freePort();
  const keyFile = path.join(work, 'api-key');
  writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });
  const config = path.join(work, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      store: { integrationId: 'store-042' },
      mode: 'connected',
      dataDir: path.join(work, 'var'),
      http: { host: '127.0.0.1', port },
      adminToken: ADMIN,
      terminals: [{ id: 'T1', tokenSha256: sha256Hex(TOKEN) }],
      upstream: { baseUrl: emu.url, apiKeyFile: 'api-key', timeoutMs: 1000, retry: { attempts: 1 } },
      mqtt: { url: broker.url, reconnect: { minMs: 100, spreadMs: 100 } },
      dataFiles: { rules: rulesWithRegex(), coupons: path.join(APP_DIR, 'config', 'sample-coupons.json') },
      serial: [{ id: 'pc1', path: scanner.device, role: 'priceCheck' }],
    }),
  );
  const cwd = mkdtempSync(path.join(tmpdir(), 'sg-e2e-cwd-'));
  daemon = spawn(bin, ['run', '--config', config], {
    cwd,
    env: { PATH: process.env.PATH ?? '', NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '400000', MALLOC_MMAP_THRESHOLD_: '65536' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const s of [daemon.stdout, daemon.stderr]) s?.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  exited = new Promise((resolve) => daemon.once('exit', (code) => resolve(code)));
  await notify.waitFor('READY=1', 30_000);
}, 300_000);

afterAll(async () => {
  if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
  notify.stop();
  await scanner.unplug();
  await broker.stop();
  await emu?.close();
});

describe('the single binary', () => {
  it('is ready when systemd hears READY=1, and pings the watchdog from its event loop', async () => {
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    await notify.waitFor('WATCHDOG=1', 10_000, 3);
  });

  it('prints its version, commit and runtime; carries its serial addon, regexp engine and V8 flags', async () => {
    const pkg = JSON.parse(readFileSync(path.join(APP_DIR, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
    const { stdout } = await execFileP(bin, ['version'], { env: { PATH: process.env.PATH ?? '' } });
    expect(stdout).toMatch(new RegExp(`^storegate ${pkg.version.replace(/\./g, '\\.')} \\(commit [0-9a-f]{12}\\) on Node\\.js v${NODE_VERSION.replace(/\./g, '\\.')}\\n$`));
    const home = mkdtempSync(path.join(tmpdir(), 'sg-e2e-home-'));
    const verbose = await execFileP(bin, ['version', '--verbose'], { env: { PATH: process.env.PATH ?? '', HOME: home } });
    expect(verbose.stdout).toMatch(/^ok {3}runtime: single binary \(Node\.js SEA\)/m);
    expect(verbose.stdout).toMatch(/^ok {3}node flags: --max-semi-space-size=4; set by run: --heap-growing-percent=15$/m);
    expect(verbose.stdout).toMatch(/^ok {3}linear-time regexp engine: available/m);
    expect(verbose.stdout).toMatch(/^ok {3}serial addon: loaded/m);
    expect(verbose.stdout).not.toMatch(/^FAIL/m);
  });

  it('opens a serial scanner with its embedded addon (written to <dataDir>/native/<sha256>/, 0700/0500) and answers a scan', async () => {
    const end = Date.now() + 10_000;
    for (;;) {
      const status = (await (await fetch(`http://127.0.0.1:${port}/status`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { serial: { id: string; open: boolean }[] };
      if (status.serial.find((p) => p.id === 'pc1')?.open) break;
      if (Date.now() > end) throw new Error(`scanner not open: ${JSON.stringify(status.serial)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const native = path.join(work, 'var', 'native');
    const [folder] = readdirSync(native);
    expect(folder).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(path.join(native, folder as string)).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(native, folder as string, 'serialport.node')).mode & 0o777).toBe(0o500);
    await scanner.write('4006381333931\r\n');
    const until = Date.now() + 5000;
    while (!scanner.received.includes('no price')) {
      if (Date.now() > until) throw new Error(`no answer on the scanner's display: ${JSON.stringify(scanner.received)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(scanner.received).toContain('4006381333931');
  });

  it('forwards a session update to Talon.One (the emulator)', async () => {
    const res = await session('e2e-up-1');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-storegate-source')).toBe('upstream');
    expect(emu.getSession('e2e-up-1')).toBeTruthy();
  });

  it('answers locally when Talon.One is unreachable, with the regexp campaign evaluated offline', async () => {
    await emu.setFaults({ refuse: true });
    try {
      const res = await session('e2e-local-1', { ShippingCity: 'Berlin' });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-storegate-source')).toBe('local');
      expect(Number(res.headers.get('x-storegate-journal-seq'))).toBeGreaterThan(0);
      const body = (await res.json()) as { effects: { campaignId: number; props: { name?: string } }[] };
      expect(body.effects.some((e) => e.campaignId === 901 && e.props.name === 'regex-city-discount')).toBe(true);
      const miss = (await (await session('e2e-local-2', { ShippingCity: 'Paris' })).json()) as { effects: { campaignId: number }[] };
      expect(miss.effects.some((e) => e.campaignId === 901)).toBe(false);
      const status = (await (await fetch(`http://127.0.0.1:${port}/status`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
        cache: { campaigns: { id: number; offlineCapable: boolean }[] };
      };
      expect(status.cache.campaigns.find((c) => c.id === 901)?.offlineCapable).toBe(true);
    } finally {
      await emu.setFaults({ refuse: false });
    }
  });

  it('doctor --json: every check ok', async () => {
    const { stdout } = await execFileP(bin, ['doctor', '--json', '--config', path.join(work, 'config.json')]);
    const checks = JSON.parse(stdout) as { checks?: { status: string }[] } | { status: string }[];
    const list = Array.isArray(checks) ? checks : (checks.checks ?? []);
    expect(list.length).toBeGreaterThan(0);
    expect(list.filter((c) => c.status !== 'ok')).toEqual([]);
  });

  it('on SIGTERM: STOPPING=1, a clean offline status on MQTT, JSON log lines only, exit 0', async () => {
    const head = await TestClient.connect(broker.url);
    try {
      await head.subscribe('storegate/store-042/status');
      await head.next('storegate/store-042/status', (r) => r.json<{ online: boolean }>().online === true);
      daemon.kill('SIGTERM');
      await notify.waitFor('STOPPING=1');
      expect(await exited).toBe(0);
      const offline = await head.next('storegate/store-042/status', (r) => r.json<{ online: boolean }>().online === false);
      expect(offline.json()).toEqual({ online: false });
    } finally {
      await head.close();
    }
    for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
    expect(lines.some((l) => l.includes('"msg":"storegate stopped"'))).toBe(true);
  });

  it.skipIf(existsSync('/etc/storegate/config.json'))('with no config at all it runs on its embedded defaults and writes only into $STATE_DIRECTORY', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'sg-e2e-noconf-'));
    const state = mkdtempSync(path.join(tmpdir(), 'sg-e2e-state-'));
    const p = await freePort();
    const child = spawn(bin, ['run'], { cwd, env: { PATH: process.env.PATH ?? '', STATE_DIRECTORY: state, STOREGATE_HTTP_PORT: String(p) }, stdio: 'ignore' });
    const end = Date.now() + 20_000;
    while (!(await fetch(`http://127.0.0.1:${p}/readyz`).then((r) => r.status === 200, () => false))) {
      if (child.exitCode !== null || Date.now() > end) throw new Error(`binary without config did not start (exit ${child.exitCode})`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    expect(child.exitCode).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
    expect(readdirSync(path.dirname(bin))).toEqual(['storegate']);
    expect(readdirSync(state)).toEqual(expect.arrayContaining(['journal', 'state']));
  });

  it('makes HTTPS files with keys tls (its certificate library inside) and serves a terminal over HTTPS with them', async () => {
    const tls = path.join(work, 'tls');
    await execFileP(bin, ['keys', 'tls', '--names', 'storegate.local,127.0.0.1', '--out', tls]);
    const [p, health] = [await freePort(), await freePort()];
    const config = path.join(work, 'https.json');
    writeFileSync(
      config,
      JSON.stringify({
        mode: 'offline',
        dataDir: path.join(work, 'var-https'),
        adminToken: ADMIN,
        http: { host: '127.0.0.1', port: p, plainPort: health, tls: { certFile: path.join(tls, 'server.pem'), keyFile: path.join(tls, 'server.key') } },
        terminals: [{ id: 'T1', tokenSha256: sha256Hex(TOKEN) }],
      }),
    );
    const child = spawn(bin, ['run', '--config', config], { cwd: work, env: { PATH: process.env.PATH ?? '' }, stdio: 'ignore' });
    try {
      const end = Date.now() + 20_000;
      while (!(await fetch(`http://127.0.0.1:${health}/readyz`).then((r) => r.status === 200, () => false))) {
        if (child.exitCode !== null || Date.now() > end) throw new Error(`binary with HTTPS did not start (exit ${child.exitCode})`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const r = await httpsRequest(`https://127.0.0.1:${p}/v2/customer_sessions/e2e-https`, {
        method: 'PUT',
        ca: readFileSync(path.join(tls, 'store-ca.pem'), 'utf8'),
        headers: { authorization: `ApiKey-v1 ${TOKEN}` },
        body: { customerSession: { cartItems: [{ sku: 'SKU-1', name: 'Pan', quantity: 1, price: 30 }] } },
      });
      expect(r.status).toBe(200);
      const { stdout } = await execFileP(bin, ['status', '--json', '--config', config]);
      expect(JSON.parse(stdout).tls).toMatchObject({ enabled: true });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    expect(child.exitCode).toBe(0);
  });
});
