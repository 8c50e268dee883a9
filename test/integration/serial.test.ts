/**
 * Serial scanners end to end, on real pseudo-terminals from socat (the test is the scanner on the other end),
 * a real mosquitto and a real gateway: framing of split and joined writes (CRLF, CR, LF, no suffix), garbage
 * and over-long lines dropped and counted, scans on MQTT and on the terminal's event stream (its own token
 * only), a scanned coupon applied to the terminal's next session update, a price check answered on MQTT and
 * on the station's display, and hot-plug: socat killed and started again on the same link names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APP_DIR } from '../../src/config/load.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient, type Received } from '../helpers/mqtt-client.js';
import { ADMIN_TOKEN, STORE_ID, TERMINAL_TOKENS, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';
import { PtyPair } from '../helpers/pty.js';
import { until } from '../helpers/until.js';

const P = `storegate/${STORE_ID}`;
const dir = mkdtempSync(path.join(tmpdir(), 'sg-serial-'));
const t1 = new PtyPair(dir, 't1'); // terminal T1, CRLF, coupons auto-applied
const t2 = new PtyPair(dir, 't2'); // terminal T2, no suffix (inter-byte timeout), AIM ids stripped
const pc = new PtyPair(dir, 'pc'); // price-check station
let broker: Mosquitto;
let gw: TestGateway;
let head: TestClient;

const sample = (f: string) => path.join(APP_DIR, 'config', f);

beforeAll(async () => {
  broker = await new Mosquitto().start();
  await Promise.all([t1.plug(), t2.plug(), pc.plug()]);
  gw = await startGateway({
    mode: 'offline',
    mqtt: { url: broker.url, reconnect: { minMs: 20, spreadMs: 100, maxMs: 300 } },
    dataFiles: { rules: sample('sample-rules.json'), prices: sample('sample-prices.json'), coupons: sample('sample-coupons.json'), loyalty: sample('sample-loyalty.json') },
    serial: [
      { id: 'scan-t1', path: t1.device, role: 'terminal', terminalId: 'T1', autoApplyCoupons: true, maxLineBytes: 64, goneAlertSec: 1 },
      { id: 'scan-t2', path: t2.device, role: 'terminal', terminalId: 'T2', suffix: '', interByteTimeoutMs: 40, aim: true },
      { id: 'pc-1', path: pc.device, role: 'priceCheck' },
    ],
  });
  head = await TestClient.connect(broker.url, 'head-office');
  await head.subscribe(`${P}/terminals/+/scans`);
  await head.subscribe(`${P}/pricecheck/+`);
  await head.subscribe(`${P}/alerts`);
  await until(async () => (await serialStatus()).every((p) => p.open));
});

afterAll(async () => {
  await head?.close();
  await gw?.stop();
  await Promise.all([t1.unplug(), t2.unplug(), pc.unplug()]);
  await broker?.stop();
});

interface PortState {
  id: string;
  open: boolean;
  reopenCount: number;
  scans: number;
  lastScanAt: string | null;
  dropped: Record<string, number>;
  lastError: { code: string; message: string } | null;
}

async function serialStatus(): Promise<PortState[]> {
  const r = await fetch(`${gw.url}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return ((await r.json()) as { serial: PortState[] }).serial;
}

async function port(id: string): Promise<PortState> {
  return (await serialStatus()).find((p) => p.id === id) as PortState;
}

/** Scan events for a terminal received since `from` (an index into head's received list). */
function scansOf(terminalId: string, from = 0): Record<string, unknown>[] {
  return head.received.slice(from).filter((r) => r.topic === `${P}/terminals/${terminalId}/scans`).map((r) => r.json());
}

async function nextScans(terminalId: string, from: number, n: number): Promise<Record<string, unknown>[]> {
  await until(() => scansOf(terminalId, from).length >= n, 5000);
  return scansOf(terminalId, from);
}

/** A terminal's event stream, parsed as it arrives. */
async function openStream(terminalId: string, token: string | null, lastEventId?: string) {
  const ac = new AbortController();
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `ApiKey-v1 ${token}`;
  if (lastEventId) headers['last-event-id'] = lastEventId;
  const res = await fetch(`${gw.url}/v1/terminals/${terminalId}/scans`, { headers, signal: ac.signal });
  const events: { id: string; event: string; data: Record<string, unknown> }[] = [];
  if (res.status === 200 && res.body) {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buf += dec.decode(value, { stream: true });
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const f = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':') && l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
            if (f.data) events.push({ id: f.id ?? '', event: f.event ?? 'message', data: JSON.parse(f.data) });
          }
        }
      } catch {
        // aborted
      }
    })();
  }
  return { res, events, close: () => ac.abort() };
}

describe('framing and classification on a real pty', () => {
  it('a code split over writes, codes joined in one write, and CR, LF or CRLF endings all come out as scans', async () => {
    const from = head.received.length;
    await t1.write('400638');
    await new Promise((r) => setTimeout(r, 30));
    await t1.write('1333931\r');
    await t1.write('\nWELCOME10\r\n96385074\rCARD-0001\nPAN-24\r\nhello-world\r\n');
    const got = await nextScans('T1', from, 6);
    expect(got.map((e) => [e.code, e.kind])).toEqual([
      ['4006381333931', 'item'],
      ['WELCOME10', 'coupon'],
      ['96385074', 'item'],
      ['CARD-0001', 'loyaltyCard'],
      ['PAN-24', 'item'],
      ['hello-world', 'unknown'],
    ]);
    expect(got[0]).toMatchObject({ scannerId: 'scan-t1', terminalId: 'T1' });
    expect(Date.parse(got[0]?.at as string)).toBeGreaterThan(Date.now() - 60_000);
    const st = await port('scan-t1');
    expect(st.scans).toBeGreaterThanOrEqual(6);
    expect(st.lastScanAt).not.toBeNull();
  });

  it('a scanner without a suffix is framed by silence, and its AIM identifiers are stripped', async () => {
    const from = head.received.length;
    await t2.write(']E0');
    await t2.write('4006381333931');
    await new Promise((r) => setTimeout(r, 150));
    await t2.write(']E4963850');
    await t2.write('74');
    const got = await nextScans('T2', from, 2);
    expect(got.map((e) => [e.code, e.kind, e.symbology])).toEqual([
      ['4006381333931', 'item', ']E0'],
      ['96385074', 'item', ']E4'],
    ]);
  });

  it('garbage bytes, control characters and over-long lines are dropped, counted and never forwarded', async () => {
    const from = head.received.length;
    await t1.write(Buffer.from([0xff, 0xfe, 0x80, 0x34, 0x0d, 0x0a]));
    await t1.write('AB\x07CD\r\n');
    await t1.write(`${'9'.repeat(500)}\r\n`);
    await t1.write('73513537\r\n');
    const got = await nextScans('T1', from, 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(scansOf('T1', from).map((e) => e.code)).toEqual(['73513537']);
    expect(got).toHaveLength(1);
    const st = await port('scan-t1');
    expect(st.dropped).toMatchObject({ garbage: 1, control_chars: 1, too_long: 1 });
    const metrics = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(metrics).toMatch(/storegate_serial_dropped_lines_total\{scanner="scan-t1",reason="too_long"\} 1/);
    expect(metrics).toMatch(/storegate_serial_scans_total\{scanner="scan-t1",kind="item"\} \d+/);
    expect(gw.logs.some((l) => l.includes('serial line dropped'))).toBe(true);
  });
});

describe('scans to the terminal over HTTP (server-sent events)', () => {
  it("streams the terminal's own scans; another terminal's token gets 403, none 401", async () => {
    const s1 = await openStream('T1', TERMINAL_TOKENS.T1);
    expect(s1.res.status).toBe(200);
    expect(s1.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const other = await openStream('T1', TERMINAL_TOKENS.T2);
    expect(other.res.status).toBe(403);
    expect(await other.res.json()).toMatchObject({ message: expect.stringMatching(/Forbidden/), errors: [{ title: 'SG_ERR_FORBIDDEN' }], StatusCode: 403 });
    const none = await openStream('T1', null);
    expect(none.res.status).toBe(401);
    const wrong = await openStream('T1', 'not-a-token');
    expect(wrong.res.status).toBe(401);
    const s2 = await openStream('T2', TERMINAL_TOKENS.T2);

    await t1.write('5901234123457\r\n');
    await until(() => s1.events.length >= 1, 5000);
    expect(s1.events[0]).toMatchObject({ event: 'scan', data: { scannerId: 'scan-t1', terminalId: 'T1', code: '5901234123457', kind: 'item' } });
    await new Promise((r) => setTimeout(r, 100));
    expect(s2.events).toEqual([]); // T2's stream never sees T1's scans

    // A client reconnecting with Last-Event-ID gets what it missed.
    const lastId = s1.events[0]?.id as string;
    s1.close();
    await t1.write('4006381333931\r\n');
    await until(() => scansOf('T1').some((e) => e.code === '4006381333931' && Date.parse(e.at as string) > Date.parse(s1.events[0]?.data.at as string)), 5000);
    const again = await openStream('T1', TERMINAL_TOKENS.T1, lastId);
    await until(() => again.events.length >= 1, 5000);
    expect(again.events[0]?.data.code).toBe('4006381333931');
    again.close();
    s2.close();
  });
});

describe('auto-applied coupons', () => {
  const update = (id: string, terminal: 'T1' | 'T2' = 'T1', extra: Record<string, unknown> = {}) =>
    fetch(`${gw.url}/v2/customer_sessions/${id}`, {
      method: 'PUT',
      headers: terminalHeaders(terminal),
      body: JSON.stringify({
        customerSession: { profileId: 'cust-001', cartItems: [{ sku: 'SKU-1', name: 'Pan', quantity: 2, price: 30, category: 'Kitchen' }], ...extra },
        responseContent: ['customerSession'],
      }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { customerSession: { couponCodes?: string[] }; effects: { effectType: string; props: Record<string, unknown> }[] } }));

  it("a scanned coupon joins the terminal's next session update once, then is forgotten", async () => {
    const from = head.received.length;
    await t1.write('WELCOME10\r\n');
    await nextScans('T1', from, 1);
    // Another terminal's update does not get T1's coupon.
    const t2Answer = await update('AUTO-T2', 'T2');
    expect(t2Answer.body.customerSession.couponCodes ?? []).not.toContain('WELCOME10');

    const first = await update('AUTO-1');
    expect(first.status).toBe(200);
    expect(first.body.customerSession.couponCodes).toEqual(['WELCOME10']);
    expect(first.body.effects.some((e) => e.effectType === 'acceptCoupon' && e.props.value === 'WELCOME10')).toBe(true);

    const second = await update('AUTO-2');
    expect(second.body.customerSession.couponCodes ?? []).not.toContain('WELCOME10');
  });

  it('is merged with the codes the terminal sent itself', async () => {
    const from = head.received.length;
    await t1.write('STAFF-WELCOME\r\n');
    await nextScans('T1', from, 1);
    const r = await update('AUTO-3', 'T1', { couponCodes: ['WINTER2025'] });
    expect(r.body.customerSession.couponCodes).toEqual(['WINTER2025', 'STAFF-WELCOME']);
  });
});

describe('price checks', () => {
  it('answers on MQTT and writes the display line back to the station', async () => {
    pc.received = '';
    await pc.write('PAN-24\r\n');
    const msg: Received = await head.next(`${P}/pricecheck/pc-1`, (r) => r.json().sku === 'PAN-24', 5000);
    expect(msg.json()).toMatchObject({ sku: 'PAN-24', price: 39.99, finalPrice: 31.99, label: 'Cookware week -20%', validUntil: '2027-12-31T00:00:00.000Z', scannerId: 'pc-1' });
    await until(() => pc.received.endsWith('\r\n'), 5000);
    expect(pc.received).toBe('Cookware week -20%  31.99 (was 39.99)\r\n');

    pc.received = '';
    await pc.write('4006381333931\r\n');
    const none = await head.next(`${P}/pricecheck/pc-1`, (r) => r.json().sku === '4006381333931', 5000);
    expect(none.json()).toMatchObject({ price: null, finalPrice: null });
    await until(() => pc.received.endsWith('\r\n'), 5000);
    expect(pc.received).toBe('4006381333931       no price\r\n');
    // Price checks are not terminal scans.
    expect(scansOf('T1').some((e) => e.scannerId === 'pc-1')).toBe(false);
  });
});

describe('hot-plug', () => {
  it('an unplugged scanner does not stop the daemon, is marked closed, alerted, and serves again once replugged', async () => {
    await t1.unplug();
    await until(async () => !(await port('scan-t1')).open, 5000);
    // The daemon keeps serving terminals.
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const answer = await fetch(`${gw.url}/v2/customer_sessions/HOT-1`, {
      method: 'PUT',
      headers: terminalHeaders('T1'),
      body: JSON.stringify({ customerSession: { cartItems: [{ sku: 'MUG-01', name: 'Mug', quantity: 1, price: 8.5 }] } }),
    });
    expect(answer.status).toBe(200);
    const st = await port('scan-t1');
    expect(st.lastError?.code).toMatch(/DISCONNECTED|ENOENT/);
    // goneAlertSec is 1 here (60 s by default).
    const gone = await head.next(`${P}/alerts`, (r) => r.json().kind === 'scannerGone', 8000);
    expect(gone.json()).toMatchObject({ kind: 'scannerGone', scannerId: 'scan-t1', store: STORE_ID });
    // Other ports are untouched.
    expect((await port('pc-1')).open).toBe(true);

    await t1.plug();
    await until(async () => (await port('scan-t1')).open, 8000);
    expect((await port('scan-t1')).reopenCount).toBe(1);
    await head.next(`${P}/alerts`, (r) => r.json().kind === 'scannerBack', 5000);
    const from = head.received.length;
    await t1.write('96385074\r\n');
    const got = await nextScans('T1', from, 1);
    expect(got[0]).toMatchObject({ code: '96385074', kind: 'item' });
  });

  it('shows the ports on the status page', async () => {
    const html = await (await fetch(`${gw.url}/`)).text();
    expect(html).toContain('scan-t1');
    expect(html).toContain('pc-1');
    expect(html).not.toContain(TERMINAL_TOKENS.T1);
  });
});
