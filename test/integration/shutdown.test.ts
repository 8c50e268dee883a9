/**
 * How the daemon (the shipped bundle, a real process) starts and stops under systemd: READY=1 only once it
 * answers, watchdog pings at half of WatchdogSec, STOPPING=1 on SIGTERM; in-flight requests drained within
 * `http.drainTimeoutMs` and cut past it, with JSON log lines only and exit 0 (README "Shutdown"). The
 * notification socket is a real AF_UNIX datagram socket, written to by the real systemd-notify.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import { sha256Hex } from '../../src/http/auth.js';
import { buildBundle, freePort } from '../helpers/procs.js';
import { FakeNotifySocket } from '../helpers/notify-socket.js';

const KEY = 'emulator-key-shutdown';
const TOKEN = 'terminal-token-shutdown-0123456789';
const dir = mkdtempSync(path.join(tmpdir(), 'sg-shutdown-'));
let bundle = '';
let emu: Awaited<ReturnType<typeof startEmulator>>;

beforeAll(async () => {
  bundle = buildBundle(path.join(dir, 'storegate.mjs'));
  emu = await startEmulator({ apiKey: KEY, port: 0 });
}, 60_000);
afterAll(async () => {
  await emu?.close();
});

interface Daemon {
  child: ChildProcess;
  port: number;
  lines: string[];
  exit: Promise<number | null>;
}

async function startDaemon(name: string, config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  const port = await freePort();
  const file = path.join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      store: { integrationId: 'store-042' },
      dataDir: path.join(dir, `${name}-var`),
      terminals: [{ id: 'T1', tokenSha256: sha256Hex(TOKEN) }],
      ...config,
      http: { host: '127.0.0.1', port, ...(config.http as object | undefined) },
    }),
  );
  const child = spawn(process.execPath, [bundle, 'run', '--config', file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  for (const s of [child.stdout, child.stderr]) s?.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, port, lines, exit };
}

async function readyz(port: number): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(500) })).status;
  } catch {
    return 0;
  }
}

async function untilReady(d: Daemon): Promise<void> {
  const end = Date.now() + 20_000;
  while ((await readyz(d.port)) !== 200) {
    if (d.child.exitCode !== null || Date.now() > end) throw new Error(`not ready: ${d.lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function sessionUpdate(port: number, id: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/v2/customer_sessions/${id}`, {
    method: 'PUT',
    headers: { authorization: `ApiKey-v1 ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ customerSession: { profileId: 'p1', cartItems: [{ sku: 'A', name: 'A', quantity: 1, price: 10 }] } }),
  });
}

/** Every line the daemon wrote, stdout and stderr, is one JSON object (journald gets nothing else). */
function expectJsonOnly(lines: string[]): void {
  for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
}

const hasNotify = spawnSync('systemd-notify', ['--help']).status === 0;

describe('systemd notifications (Type=notify)', () => {
  // systemd-notify comes with the systemd package (CI installs it); without it the notifier cannot be tried.
  it.skipIf(!hasNotify)('READY=1 once /readyz answers 200, WATCHDOG=1 every WATCHDOG_USEC/2, STOPPING=1 on SIGTERM, exit 0', async () => {
    const sock = await new FakeNotifySocket().start();
    try {
      const d = await startDaemon('notify', { mode: 'offline' }, { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '300000' });
      const ready = await sock.waitFor('READY=1');
      // The moment systemd hears READY=1, the gateway answers.
      expect(await readyz(d.port)).toBe(200);
      expect(ready.fields.find((f) => f.startsWith('STATUS='))).toMatch(/^STATUS=ready: http:\/\/127\.0\.0\.1:\d+, mode offline$/);
      await sock.waitFor('WATCHDOG=1', 10_000, 6);
      const pings = sock.with('WATCHDOG=1').map((m) => m.at);
      expect(pings[0]).toBeGreaterThan(ready.at);
      const gaps = pings.slice(1).map((t, i) => t - (pings[i] as number)).sort((a, b) => a - b);
      // 150 ms apart (half of 300 ms), give or take a busy 2-core machine.
      expect(gaps[Math.floor(gaps.length / 2)]).toBeGreaterThan(100);
      expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(250);

      d.child.kill('SIGTERM');
      const stopping = await sock.waitFor('STOPPING=1');
      expect(await d.exit).toBe(0);
      await new Promise((r) => setTimeout(r, 400));
      // No ping after STOPPING=1 (systemd stops watching a stopping unit).
      expect(sock.with('WATCHDOG=1').filter((m) => m.at > stopping.at + 50)).toEqual([]);
      expect(sock.with('READY=1')).toHaveLength(1);
      expectJsonOnly(d.lines);
    } finally {
      sock.stop();
    }
  }, 60_000);

  it('without NOTIFY_SOCKET nothing is sent and nothing is spawned', async () => {
    const d = await startDaemon('no-notify', { mode: 'offline' }, { NOTIFY_SOCKET: '', WATCHDOG_USEC: '300000' });
    await untilReady(d);
    d.child.kill('SIGTERM');
    expect(await d.exit).toBe(0);
    expect(d.lines.join('\n')).not.toMatch(/systemd|watchdog/i);
  }, 30_000);
});

describe('graceful shutdown with a bounded drain', () => {
  it('a request in flight at SIGTERM is answered before the daemon exits 0', async () => {
    await emu.setFaults({ latencyMs: 500 });
    try {
      const d = await startDaemon('drain-ok', { mode: 'connected', upstream: { baseUrl: emu.url, apiKey: KEY, timeoutMs: 5000 }, http: { drainTimeoutMs: 5000 } });
      await untilReady(d);
      const answer = sessionUpdate(d.port, 'drain-ok-1');
      await new Promise((r) => setTimeout(r, 150));
      d.child.kill('SIGTERM');
      const res = await answer;
      expect(res.status).toBe(200);
      expect(res.headers.get('x-storegate-source')).toBe('upstream');
      expect(await d.exit).toBe(0);
      expectJsonOnly(d.lines);
      expect(d.lines.join('\n')).not.toMatch(/drain limit/);
    } finally {
      await emu.setFaults({});
    }
  }, 30_000);

  it('past http.drainTimeoutMs the request is cut (connection closed unanswered), logged as JSON, exit 0', async () => {
    await emu.setFaults({ stallMs: 3000 });
    try {
      const d = await startDaemon('drain-cut', { mode: 'connected', upstream: { baseUrl: emu.url, apiKey: KEY, timeoutMs: 1500 }, http: { drainTimeoutMs: 300 } });
      await untilReady(d);
      const answer = sessionUpdate(d.port, 'drain-cut-1').then(
        (r) => `answered ${r.status}`,
        (err: Error) => `failed: ${(err.cause as Error | undefined)?.message ?? err.message}`,
      );
      await new Promise((r) => setTimeout(r, 200));
      const t0 = performance.now();
      d.child.kill('SIGTERM');
      expect(await answer).toMatch(/^failed: /);
      const cutAfter = performance.now() - t0;
      expect(cutAfter).toBeGreaterThan(250);
      expect(cutAfter).toBeLessThan(1500);
      expect(await d.exit).toBe(0);
      expectJsonOnly(d.lines);
      const cut = d.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => String(l.msg).startsWith('drain limit reached'));
      expect(cut).toMatchObject({ level: 'warn', cut: 1, drainTimeoutMs: 300 });
      expect(d.lines.join('\n')).not.toMatch(/killed by timeout/);
    } finally {
      await emu.setFaults({});
    }
  }, 30_000);

  it('a second SIGTERM during the drain exits 1 at once, with a JSON line saying so', async () => {
    await emu.setFaults({ stallMs: 3000 });
    try {
      const d = await startDaemon('drain-twice', { mode: 'connected', upstream: { baseUrl: emu.url, apiKey: KEY, timeoutMs: 2500 }, http: { drainTimeoutMs: 5000 } });
      await untilReady(d);
      const answer = sessionUpdate(d.port, 'drain-twice-1').catch(() => null);
      await new Promise((r) => setTimeout(r, 200));
      d.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      d.child.kill('SIGTERM');
      expect(await d.exit).toBe(1);
      await answer;
      expectJsonOnly(d.lines);
      expect(d.lines.some((l) => /second signal during shutdown/.test(l))).toBe(true);
    } finally {
      await emu.setFaults({});
    }
  }, 30_000);
});
