/**
 * The technicians' status page over real HTTP, against a real gateway, emulator and broker (the browser's view
 * is test/browser/status-page.test.ts): what the public endpoints show and never show, the terminals seen,
 * the verdict in `/status`, and — on a real full disk (a 12 MB tmpfs; skipped with the reason where it cannot
 * be mounted) — the red verdict and its way back.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, TERMINAL_TOKENS, startGateway, terminalHeaders } from '../helpers/gateway.js';
import { startStatusWorld, type StatusWorld } from '../helpers/status-world.js';
import { until } from '../helpers/until.js';

let w: StatusWorld;
const get = (p: string, headers: Record<string, string> = {}) => fetch(`${w.gw.url}${p}`, { headers });
const summary = async () => (await (await get('/ui/status.json')).json()) as Record<string, any>;
const adminStatus = async () => (await (await get('/status', { authorization: `Bearer ${ADMIN_TOKEN}` })).json()) as Record<string, any>;

beforeAll(async () => {
  w = await startStatusWorld({ serial: [{ id: 'aisle-3-price-check', path: '/dev/serial/by-id/usb-Missing_Scanner_SN0042-if00', role: 'priceCheck' }] });
  await until(async () => (await summary()).mqtt.connected === true);
});
afterAll(async () => {
  await w?.stop();
});

describe('the public status endpoints', () => {
  it('answer without a token, with the page, its script, its style and the summary', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'; script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('set-cookie')).toBeNull();
    expect(await page.text()).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect((await get('/ui/status.js')).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await get('/ui/status.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
    const s = await get('/ui/status.json');
    expect(s.headers.get('cache-control')).toBe('no-store');
    expect(await s.json()).toMatchObject({
      store: 'store-042',
      mode: 'offline',
      upstream: { configured: true },
      journal: { depth: 0, dead: 0, writable: true, maxBytes: 1073741824 },
      mqtt: { configured: true, connected: true },
      scanners: [{ id: 'aisle-3-price-check', role: 'priceCheck', open: false }],
      terminals: { configured: 2, seen: 0 },
      history: { intervalSec: 30 },
    });
  });

  it('hold no secret: no token, token hash, API key, key file, broker password, device path or address', async () => {
    expect((await w.sale('S-secret')).status).toBe(200);
    // The flusher's sends fail (Talon.One refuses): an upstream error text now exists.
    await until(async () => (await summary()).upstream.state === 'down');
    const status = await adminStatus();
    expect(status.upstream.lastError).toBeTruthy(); // what the public part must leave out does exist
    expect(status.serial[0].path).toContain('/dev/serial/by-id/');
    for (const p of ['/', '/ui/status.json', '/ui/status.js', '/ui/status.css']) {
      const body = await (await get(p)).text();
      for (const secret of [...w.secrets, status.upstream.lastError, status.serial[0].path, w.emu.url, `:${w.broker.port}`, 'Missing_Scanner']) {
        expect(body, `${p} holds ${secret}`).not.toContain(secret);
      }
    }
  });

  it('show the shop as an admin would judge it: the same verdict as /status', async () => {
    const s = await summary();
    const status = await adminStatus();
    const codes = (v: { level: string; reasons: { code: string; level: string }[] }) => [v.level, ...v.reasons.map((r) => `${r.level} ${r.code}`)];
    expect(codes(status.verdict)).toEqual(codes(s.verdict)); // the texts hold durations, a second apart at most
    expect(s.verdict.level).toBe('amber');
    expect(s.verdict.reasons.map((r: { code: string }) => r.code)).toEqual(['upstream.down', 'serial.gone', 'cache.notOfflineCapable']);
    // The technician's words name the scanner and what to do, never its path.
    expect(s.verdict.reasons[1].text).toBe('Scanner aisle-3-price-check is not connected.');
  });

  it('count terminals seen by their requests, and no request that failed authentication', async () => {
    const before = await adminStatus();
    const t1 = before.terminals.find((t: { id: string }) => t.id === 'T1');
    await fetch(`${w.gw.url}/v2/customer_sessions/S-x`, { method: 'PUT', headers: { ...terminalHeaders('T1'), authorization: 'ApiKey-v1 not-a-token' }, body: '{}' });
    expect((await fetch(`${w.gw.url}/v1/customer_profiles/cust-001/inventory`, { headers: terminalHeaders('T2') })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100)); // the public summary is made at most once a second
    const after = await adminStatus();
    expect(after.terminals).toEqual([
      { id: 'T1', lastSeenAt: t1.lastSeenAt, requests: t1.requests },
      { id: 'T2', lastSeenAt: expect.any(String), requests: 1 },
    ]);
    expect((await summary()).terminals).toMatchObject({ configured: 2, seen: 2, requests: t1.requests + 1 });
    const now = (await summary()).history.points.at(-1);
    expect(now.local).toBeGreaterThanOrEqual(2); // the sale and the inventory read, answered here
  });

  it('keep /status behind the admin token', async () => {
    expect((await get('/status')).status).toBe(401);
    expect((await get('/status', { authorization: `Bearer ${TERMINAL_TOKENS.T1}` })).status).toBe(401);
  });
});

const fsRoot = mkdtempSync(path.join(tmpdir(), 'sg-status-disk-'));
const mountPoint = path.join(fsRoot, 'var');
mkdirSync(mountPoint);
function mountSmallFs(): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return ((err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message).split('\n')[0] ?? 'mount failed';
  }
}
const refused = mountSmallFs();
if (refused) console.warn(`status page disk-full test skipped: cannot mount a tmpfs at ${mountPoint} (${refused}); it needs root`);

/** Writes until the filesystem refuses (ENOSPC). */
function fillDisk(file: string): void {
  const fd = openSync(file, 'a');
  try {
    for (const size of [256 * 1024, 4096, 512]) {
      const buf = Buffer.alloc(size, 7);
      for (;;) {
        try {
          writeSync(fd, buf);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(refused !== null)('a full disk on the status page (real tmpfs, size=12m)', () => {
  afterAll(() => {
    execFileSync('umount', [mountPoint], { stdio: 'pipe' });
    rmSync(fsRoot, { recursive: true, force: true });
  });

  it('turns the verdict red with what to do, and back once a sale is recorded again', async () => {
    const gw = await startGateway({ mode: 'offline', journal: { segmentBytes: 65536, reserveBytes: 0 }, log: { level: 'error' } }, { dir: fsRoot });
    try {
      const sale = (id: string) =>
        fetch(`${gw.url}/v2/customer_sessions/${id}`, { method: 'PUT', headers: terminalHeaders(), body: JSON.stringify({ customerSession: { cartItems: [{ sku: 'A', name: 'x'.repeat(200), quantity: 1, price: 1 }] } }) });
      const verdict = async () => ((await (await fetch(`${gw.url}/ui/status.json`)).json()) as { verdict: { level: string; reasons: { code: string; text: string; action: string }[] }; journal: { writable: boolean } });
      expect((await sale('ok-1')).status).toBe(200);
      const filler = path.join(mountPoint, 'filler');
      fillDisk(filler);
      let refusedSale = 0;
      for (let i = 0; i < 2000 && refusedSale === 0; i++) if ((await sale(`full-${i}`)).status === 503) refusedSale = i;
      expect(refusedSale).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 1100));
      const red = await verdict();
      expect(red.journal.writable).toBe(false);
      expect(red.verdict.level).toBe('red');
      expect(red.verdict.reasons[0]).toMatchObject({ code: 'journal.diskFull', text: expect.stringMatching(/disk is full/), action: expect.stringMatching(/Free space/) });
      unlinkSync(filler);
      expect((await sale('after')).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1100));
      const back = await verdict();
      expect(back.journal.writable).toBe(true);
      expect(back.verdict.reasons.map((r) => r.code)).not.toContain('journal.diskFull');
    } finally {
      await gw.stop();
    }
  });
});
