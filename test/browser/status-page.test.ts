/**
 * The technicians' status page in headless Chromium (Debian's `chromium`, driven by playwright-core), on a
 * phone's viewport, against a real gateway in offline mode (with a Talon.One emulator and a mosquitto): it
 * loads, shows the mode and the journal depth, updates itself after a sale without reloading, fits a 360 px
 * screen, unlocks with the admin token (kept in sessionStorage only), runs Flush now and Retry dead letters,
 * says so when the gateway stops answering, and nothing it receives holds a secret. The screenshot is saved to
 * test/artifacts/status-page.png (a CI artifact). Skipped, with the reason, where Chromium is not installed.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from '../helpers/gateway.js';
import { startStatusWorld, type StatusWorld } from '../helpers/status-world.js';

const CHROMIUM = process.env.STOREGATE_CHROMIUM ?? '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);
if (missing) console.warn(`status page browser test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`);

const ARTIFACTS = path.resolve(import.meta.dirname, '..', 'artifacts');
/** The page polls every 5 s: a change shows within one poll (plus the summary's 1 s freshness). */
const UPDATE_MS = 12_000;

let w: StatusWorld;
let ctx: BrowserContext;
let page: Page;
let profile: string;
/** Every answer the page received (HTML, script, style, JSON), for the no-secret check. */
const received: { url: string; body: string }[] = [];

const text = async (id: string) => (await page.textContent(`#${id}`))?.trim() ?? '';
/**
 * Polls a condition in the page until it holds. (page.waitForFunction would compile the string inside the page,
 * which the page's Content-Security-Policy rightly forbids; page.evaluate goes through the DevTools protocol.)
 */
async function until(js: string): Promise<void> {
  const end = Date.now() + UPDATE_MS;
  while (!(await page.evaluate(js))) {
    if (Date.now() > end) throw new Error(`not within ${UPDATE_MS} ms: ${js}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const tileValue = (id: string) => `(document.getElementById('${id}') || {}).textContent`;

describe.skipIf(missing)('the status page in headless Chromium', { timeout: 60_000 }, () => {
  beforeAll(async () => {
    w = await startStatusWorld({ serial: [{ id: 'checkout-lane-12-handheld-scanner-left-side', path: '/dev/serial/by-id/usb-Missing_SN0042-if00', role: 'terminal', terminalId: 'T1' }] });
    profile = mkdtempSync(path.join(tmpdir(), 'sg-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 390, height: 844 },
      // Without the background-networking flags Chromium reaches for Google's services, which a closed network refuses.
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('response', async (r) => {
      try {
        received.push({ url: r.url(), body: await r.text() });
      } catch {
        // a response without a body (a redirect, an aborted poll)
      }
    });
    page.on('dialog', (d) => void d.accept());
  }, 60_000);

  afterAll(async () => {
    await ctx?.close();
    await w?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('loads on a phone and shows the verdict, the mode and the journal depth', async () => {
    const res = await page.goto(`${w.gw.url}/`);
    expect(res?.status()).toBe(200);
    await until(`${tileValue('mode')} === 'offline'`);
    expect(await text('mode')).toBe('offline');
    expect(await text('journal-depth')).toBe('0');
    expect(await page.getAttribute('#verdict', 'data-level')).toBe('amber'); // the scanner is not plugged in
    expect(await text('verdict')).toContain('Scanner checkout-lane-12-handheld-scanner-left-side is not connected.');
    expect(await page.locator('#plots-body svg').count()).toBe(3);
  });

  it('updates itself after a sale, without a reload', async () => {
    await page.evaluate('window.__notReloaded = true');
    expect((await w.sale('phone-1')).status).toBe(200);
    await until(`${tileValue('journal-depth')} === '1'`);
    expect(await page.evaluate('window.__notReloaded')).toBe(true);
    expect(await text('terminals')).toBe('1 of 2');
  });

  it('fits a phone: no horizontal scrolling at 390 or 360 px, text at a readable size', async () => {
    for (const width of [390, 360]) {
      await page.setViewportSize({ width, height: 844 });
      expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    }
    const px = Number(await page.evaluate("parseFloat(getComputedStyle(document.querySelector('.tile .s')).fontSize)"));
    expect(px).toBeGreaterThanOrEqual(12);
    await page.setViewportSize({ width: 390, height: 844 });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'status-page.png') });
  });

  it('unlocks with the admin token, kept in this tab only, and shows the details', async () => {
    await page.fill('#token', 'not-the-admin-token-000');
    await page.click('#unlock button');
    await until("document.getElementById('unlock-msg').textContent.includes('refused')");
    expect(await page.isHidden('#admin')).toBe(true);
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#unlock button');
    await page.waitForSelector('#admin', { state: 'visible', timeout: UPDATE_MS });
    expect(await page.inputValue('#token')).toBe('');
    expect(await page.evaluate("sessionStorage.getItem('storegate.adminToken')")).toBe(ADMIN_TOKEN);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect(await ctx.cookies()).toEqual([]);
    expect(page.url()).toBe(`${w.gw.url}/`);
    const details = await text('admin-details');
    expect(details).toMatch(/T1last seen .* ago · 1 requests/);
    expect(details).toContain('/dev/serial/by-id/usb-Missing_SN0042-if00'); // the path, behind the token
    expect(details).toMatch(/Campaigns not offline-capable.*\(\d+\)/);
  });

  it('runs Flush now once Talon.One is back: the journal empties', async () => {
    await w.emu.setFaults({});
    await page.click('#flush');
    await until("/^Flushed: \\d+ delivered/.test(document.getElementById('action-msg').textContent)");
    await until(`${tileValue('journal-depth')} === '0'`);
  });

  it('shows a dead letter in red, and Retry dead letters sends it again', async () => {
    await w.emu.setFaults({ failNext: 1, errorStatus: 400, paths: ['/v2/customer_sessions'] });
    expect((await w.sale('phone-dead')).status).toBe(200);
    await until(`${tileValue('dead-letters')} === '1'`);
    expect(await page.getAttribute('#verdict', 'data-level')).toBe('red');
    expect(await text('verdict')).toContain('Talon.One refused 1 sale (dead letters)');
    expect(await text('admin-details')).toMatch(/Dead letters \(refused by Talon\.One\)#\d+ updateSession/);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'status-page-unlocked.png'), fullPage: true });
    await page.click('#retry'); // confirms in a dialog (accepted)
    await until("/^Retried 1/.test(document.getElementById('action-msg').textContent)");
    await until(`${tileValue('dead-letters')} === '0'`);
  });

  it('locks again: the token leaves sessionStorage', async () => {
    await page.click('#lock');
    expect(await page.isHidden('#admin')).toBe(true);
    expect(await page.evaluate("sessionStorage.getItem('storegate.adminToken')")).toBeNull();
    expect(await text('admin-details')).toBe('');
  });

  it('received no secret: not in the HTML, the script, the style, the JSON or the page as shown', async () => {
    const dom = await page.content();
    const publicAnswers = received.filter((r) => !/\/status$|\/admin\//.test(new URL(r.url).pathname));
    expect(publicAnswers.map((r) => new URL(r.url).pathname)).toEqual(expect.arrayContaining(['/', '/ui/status.js', '/ui/status.css', '/ui/status.json']));
    for (const secret of w.secrets) {
      for (const r of received) expect(r.body, `${r.url} holds ${secret}`).not.toContain(secret);
      expect(dom).not.toContain(secret);
    }
    // Before unlocking, nothing but the public part was asked for; the public part never names the device path.
    for (const r of publicAnswers) expect(r.body).not.toContain('usb-Missing_SN0042');
  });

  it('says so when the gateway stops answering, instead of showing old figures as current', async () => {
    await w.gw.stop();
    await until("document.getElementById('verdict').getAttribute('data-level') === 'stale'");
    expect(await text('verdict')).toContain('No contact with storegate');
  });
});
