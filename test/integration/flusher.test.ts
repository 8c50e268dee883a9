/**
 * The flusher against the Talon.One emulator over loopback HTTP, with real journal files in temp dirs.
 * Checks CONTRACT §6: per-key order with one request in flight per session/profile (the emulator's
 * in-flight high-water marks), Idempotency-Key = record id (stable across retries and restarts),
 * retry on 409/429/5xx/hang/refused, dead letters for other 4xx, old records checked with GET first,
 * the 400-on-closed rule, coalescing, and reconciliation of coupons and loyalty points.
 */
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator, RecordedRequest } from '../../scripts/talon-emulator/types.js';
import type { JournalRecord } from '../../src/checkout/records.js';
import { ReconciliationLog } from '../../src/delivery/reconciliation.js';
import { ManualClock, systemClock } from '../../src/platform/clock.js';
import { DeadLetters } from '../../src/delivery/dead-letters.js';
import { FileSnapshotStore } from '../../src/state/snapshot-store.js';
import { UpstreamProbe } from '../../src/upstream/probe.js';
import {
  API_KEY, append, openRig, reopen, returnItems, silentLog, trackEvent, until, updateSession, type Rig,
} from '../helpers/flush-fixtures.js';

let emu: Emulator;
const rigs: Rig[] = [];

beforeAll(async () => {
  emu = await startEmulator({ apiKey: API_KEY, port: 0 });
});

afterAll(async () => {
  for (const r of rigs) await r.cleanup().catch(() => undefined);
  await emu?.close();
});

beforeEach(() => {
  emu.reset();
});

async function rig(o: Partial<Parameters<typeof openRig>[0]> = {}): Promise<Rig> {
  const r = await openRig({ url: emu.url, ...o });
  rigs.push(r);
  return r;
}

/** A direct upstream call (as another terminal or a pre-crash delivery would have made). */
async function direct(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(emu.url + path, {
    method,
    headers: { authorization: `ApiKey-v1 ${API_KEY}`, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const sessionOf = (id: string) => emu.getSession(id)?.customerSession as Record<string, unknown> | undefined;
const forSession = (id: string) => (r: RecordedRequest) => {
  const base = `/v2/customer_sessions/${id}`;
  return r.path === base || r.path.startsWith(`${base}/`) || r.path.startsWith(`${base}?`);
};
const ok = (r: RecordedRequest) => r.status >= 200 && r.status < 300;
/** The operator's side of the rig's dead letters (list, retry, discard), as the gateway builds it. */
const deadLettersOf = (r: Rig) =>
  new DeadLetters({ store: r.deadLetters, redeliver: (l) => r.flusher.redeliver(l), beforeRemove: async () => undefined, alert: (a) => r.alerts.push(a), clock: systemClock, log: silentLog });
function maxInFlight(): number {
  return Math.max(0, ...Object.values(emu.inFlightHighWater()));
}

/** Per session: open, close (coalesced into one send), reopen, close again, return one item. */
async function lifecycle(r: Rig, sid: string, coupon?: string) {
  const c = coupon ? { couponCodes: [coupon], local: { acceptedCoupons: [coupon] } } : {};
  const a = await append(r.journal, updateSession(sid, 'open', { items: 1 }));
  const b = await append(r.journal, updateSession(sid, 'closed', { items: 3, ...c }));
  const c2 = await append(r.journal, reopen(sid));
  const d = await append(r.journal, updateSession(sid, 'closed', { items: 3, ...c }));
  const e = await append(r.journal, returnItems(sid, [{ position: 0, quantity: 1 }]));
  return { all: [a, b, c2, d, e], sentIds: [b.id, c2.id, d.id, e.id] };
}

describe('flusher: order, one in flight per key, Idempotency-Key', () => {
  it('(instrument check) the emulator sees two concurrent requests on one session as two in flight', async () => {
    await emu.setFaults({ latencyMs: 50 });
    const body = { customerSession: { cartItems: [{ sku: 'A', quantity: 1, price: 1 }] } };
    await Promise.all([direct('PUT', '/v2/customer_sessions/I-1', body), direct('PUT', '/v2/customer_sessions/I-1', body)]);
    expect(emu.inFlightHighWater()['s:I-1']).toBe(2);
  });

  it('replays every session in order, one request at a time each, coalescing open+close, then everything is delivered', async () => {
    const r = await rig({ concurrency: 4 });
    const plans = new Map<string, string[]>();
    for (let i = 0; i < 12; i++) plans.set(`S-${i}`, (await lifecycle(r, `S-${i}`, 'MULTI10')).sentIds);
    for (let n = 0; n < 5; n++) for (const p of ['P-1', 'P-2']) await append(r.journal, trackEvent(p, n));

    const report = await r.flusher.flushNow({ timeoutMs: 15_000 });
    expect(report).toMatchObject({ delivered: 12 * 5 + 10, deadLettered: 0, remaining: 0, timedOut: false });
    expect(r.journal.stats().depth).toBe(0);
    for (const [sid, ids] of plans) {
      const seen = emu.requests.filter(forSession(sid));
      expect(seen.map((q) => q.headers['idempotency-key'])).toEqual(ids);
      expect(seen.every(ok)).toBe(true);
      expect(sessionOf(sid)?.state).toBe('partially_returned');
    }
    // Redeemed once per session (close, reopen releases, close again): exactly once in effect.
    expect(emu.getCoupon('MULTI10')?.usageCounter).toBe(12);
    for (const p of ['P-1', 'P-2']) {
      const evs = emu.requests.filter((q) => q.path.startsWith('/v2/events') && (q.body as { profileId?: string }).profileId === p);
      expect(evs.map((q) => (q.body as { attributes: { n: number } }).attributes.n)).toEqual([0, 1, 2, 3, 4]);
    }
    expect(maxInFlight()).toBe(1);
  });

  it('never exceeds the overall concurrency; live requests hold the flush back', async () => {
    let live = true;
    const r = await rig({ concurrency: 2, flusher: { liveBusy: () => live } });
    await emu.setFaults({ latencyMs: 30 });
    for (let i = 0; i < 10; i++) await append(r.journal, updateSession(`C-${i}`, 'closed'));
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, r.flusher.stats().inFlight)), 2);
    const p = r.flusher.flushNow({ timeoutMs: 10_000 });
    await new Promise((res) => setTimeout(res, 150));
    expect(emu.requests).toHaveLength(0); // held back while live traffic waits on the upstream
    live = false;
    const report = await p;
    clearInterval(sampler);
    expect(report.delivered).toBe(10);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(2);
  });
});

describe('flusher: faults', () => {
  it('rides out 5xx bursts, 409s and 429s: retried with the same Idempotency-Key, delivered exactly once in effect', async () => {
    const r = await rig({ concurrency: 8 });
    const plans = new Map<string, string[]>();
    for (let i = 0; i < 10; i++) plans.set(`F-${i}`, (await lifecycle(r, `F-${i}`, 'MULTI10')).sentIds);
    await emu.setFaults({ errorRate: 0.25, errorStatus: 503, status409Rate: 0.15, rate429: 0.15 });
    const report = await r.flusher.flushNow({ timeoutMs: 20_000 });
    expect(report).toMatchObject({ delivered: 50, deadLettered: 0, remaining: 0 });
    expect(report.retried).toBeGreaterThan(0);
    const codes = new Set(emu.requests.map((q) => q.status));
    expect([...codes].some((c) => c >= 500)).toBe(true);
    for (const [sid, ids] of plans) {
      const seen = emu.requests.filter(forSession(sid));
      // Failed attempts repeat the key; the accepted ones come in order.
      expect(seen.filter(ok).map((q) => q.headers['idempotency-key'])).toEqual(ids);
      expect(new Set(seen.map((q) => q.headers['idempotency-key']))).toEqual(new Set(ids));
      expect(sessionOf(sid)?.state).toBe('partially_returned');
    }
    expect(emu.getCoupon('MULTI10')?.usageCounter).toBe(10);
    expect(maxInFlight()).toBe(1);
  });

  it('survives hangs (short client timeout) and a slow upstream that applies after the client gave up', async () => {
    const r = await rig({ concurrency: 4, timeoutMs: 300 });
    for (let i = 0; i < 6; i++) await append(r.journal, updateSession(`H-${i}`, 'closed', { couponCodes: ['MULTI10'], local: { acceptedCoupons: ['MULTI10'] } }));
    await emu.setFaults({ hang: true });
    const p = r.flusher.flushNow({ timeoutMs: 15_000 });
    await until(() => emu.requests.filter((q) => q.status === 0).length >= 4, 5000, 'hung requests');
    // Then slow: the upstream applies each request after the client's 300 ms deadline; the retry with the
    // same key waits behind it and gets the stored answer.
    await emu.setFaults({ latencyMs: 450 });
    await new Promise((res) => setTimeout(res, 1200));
    await emu.setFaults({});
    const report = await p;
    expect(report).toMatchObject({ delivered: 6, remaining: 0, deadLettered: 0 });
    for (let i = 0; i < 6; i++) {
      expect(sessionOf(`H-${i}`)?.state).toBe('closed');
      expect(sessionOf(`H-${i}`)?.updateCount).toBe(1);
    }
    expect(emu.getCoupon('MULTI10')?.usageCounter).toBe(6);
    expect(maxInFlight()).toBe(1);
  });

  it('pauses while the upstream is down (refused), resumes when the probe sees it back', async () => {
    const r = await rig({ concurrency: 4, timeoutMs: 300 });
    const probe = new UpstreamProbe(r.client, silentLog, 50);
    r.flusher.start();
    await emu.setFaults({ refuse: true });
    for (let i = 0; i < 8; i++) await append(r.journal, updateSession(`R-${i}`, 'closed'));
    await until(() => r.client.health.state === 'down', 5000, 'health down');
    expect(r.flusher.stats().paused).toBe(true);
    expect(r.journal.stats().depth).toBe(8);
    await emu.setFaults({});
    probe.start();
    try {
      await until(() => r.flusher.stats().delivered === 8, 10_000, 'journal drained');
    } finally {
      probe.stop();
    }
    for (let i = 0; i < 8; i++) expect(sessionOf(`R-${i}`)?.state).toBe('closed');
    expect(r.journal.stats().depth).toBe(0);
    expect(r.flusher.stats()).toMatchObject({ delivered: 8, deadLettered: 0, paused: false, queued: 0 });
  });
});

describe('flusher: dead letters', () => {
  it('moves other 4xx to dead letters with the upstream body, goes on with the key, and retries them on request', async () => {
    const r = await rig();
    await append(r.journal, updateSession('D-bad', 'cancelled')); // a new session cannot be created cancelled
    await append(r.journal, updateSession('D-inv', 'closed', { session: { cartItems: [{ sku: '', quantity: 1, price: 1 }] } }));
    await append(r.journal, updateSession('D-inv', 'open', { items: 2 })); // the key goes on after its dead letter
    const x1 = await append(r.journal, updateSession('D-flaky', 'open', { items: 1 }));
    const x2 = await append(r.journal, updateSession('D-flaky', 'closed', { items: 2 }));
    await emu.setFaults({ failNext: 1, errorStatus: 422, paths: ['/v2/customer_sessions/D-flaky'] });

    const report = await r.flusher.flushNow({ timeoutMs: 10_000 });
    expect(report).toMatchObject({ delivered: 1, deadLettered: 4, remaining: 0 });
    const dead = r.deadLetters.list();
    expect(dead.map((d) => d.key)).toEqual(['session:D-bad', 'session:D-inv', 'session:D-flaky', 'session:D-flaky']);
    expect(dead[0]!.status).toBe(400);
    expect(String(dead[0]!.body)).toContain('can only be created as');
    expect(String(dead[1]!.body)).toContain('/customerSession/cartItems/0/sku');
    expect(dead[2]!).toMatchObject({ status: 422 });
    expect(JSON.parse(String(dead[2]!.body))).toMatchObject({ StatusCode: 422 });
    // Out of the journal: nothing of them is undelivered there.
    await until(() => r.journal.stats().depth === 0, 5000, 'dead letters marked in the journal');
    expect(sessionOf('D-inv')?.state).toBe('open');
    expect(r.alerts.filter((a) => a.kind === 'deadLetter')).toHaveLength(4);
    expect(r.flusher.stats().deadLettered).toBe(4);

    // The coalesced pair comes back in order and goes as one send with the last record's key.
    expect((await deadLettersOf(r).retry([x1.seq, x2.seq])).retried).toEqual([x1.seq, x2.seq]);
    const again = await r.flusher.flushNow({ timeoutMs: 10_000 });
    expect(again).toMatchObject({ delivered: 2, deadLettered: 0 });
    expect(sessionOf('D-flaky')?.state).toBe('closed');
    const sends = emu.requests.filter(forSession('D-flaky'));
    expect(sends.map((q) => [q.status, q.headers['idempotency-key']])).toEqual([[422, x2.id], [200, x2.id]]);
    expect(r.deadLetters.list().map((d) => d.key)).toEqual(['session:D-bad', 'session:D-inv']);
  });
});

describe('flusher: restarts, old records, closed sessions', () => {
  it('keeps the Idempotency-Key across a journal close/reopen; a delivery whose answer was lost is replayed, not re-applied', async () => {
    const first = await rig({ timeoutMs: 300 });
    const e1 = await append(first.journal, updateSession('K-1', 'closed', { couponCodes: ['MULTI10'], local: { acceptedCoupons: ['MULTI10'] } }));
    const e2 = await append(first.journal, updateSession('K-2', 'closed'));
    // The upstream applies K-1 but answers only after the client's 300 ms deadline; then the process stops.
    await emu.setFaults({ latencyMs: 500, paths: ['/v2/customer_sessions/K-1'] });
    await first.flusher.flushNow({ timeoutMs: 250 });
    await first.close(); // waits for the attempt in flight (times out); its retry is never dispatched
    await until(() => sessionOf('K-1')?.state === 'closed', 3000, 'K-1 applied upstream');
    await emu.setFaults({});

    const second = await rig({ dir: first.dir });
    expect(second.journal.undelivered().map((e) => e.id)).toEqual([e1.id]);
    const report = await second.flusher.flushNow({ timeoutMs: 5000 });
    expect(report).toMatchObject({ delivered: 1, remaining: 0 });
    const k1 = emu.requests.filter(forSession('K-1'));
    expect(new Set(k1.map((q) => q.headers['idempotency-key']))).toEqual(new Set([e1.id]));
    expect(emu.requests.filter(forSession('K-2')).every((q) => q.headers['idempotency-key'] === e2.id)).toBe(true);
    expect(sessionOf('K-1')?.updateCount).toBe(1);
    expect(emu.getCoupon('MULTI10')?.usageCounter).toBe(1);
  });

  it('checks records older than 23 h with GET first: already closed upstream counts as delivered, unknown is sent', async () => {
    const past = new ManualClock(Date.now() - 25 * 3600_000);
    const r = await rig({ journalClock: past });
    expect((await direct('PUT', '/v2/customer_sessions/O-1', { customerSession: { cartItems: [{ sku: 'A', quantity: 1, price: 5 }], state: 'closed' } })).status).toBe(200);
    await append(r.journal, updateSession('O-1', 'open'));
    await append(r.journal, updateSession('O-1', 'closed'));
    await append(r.journal, updateSession('O-2', 'closed'));
    past.advance(3 * 3600_000); // 22 h old: sent without a check
    await append(r.journal, updateSession('O-3', 'closed'));
    emu.clearRequests();

    const report = await r.flusher.flushNow({ timeoutMs: 5000 });
    expect(report).toMatchObject({ delivered: 4, deadLettered: 0, remaining: 0 });
    expect(emu.requests.filter(forSession('O-1')).map((q) => q.method)).toEqual(['GET']);
    expect(emu.requests.filter(forSession('O-2')).map((q) => [q.method, q.status])).toEqual([['GET', 404], ['PUT', 200]]);
    expect(emu.requests.filter(forSession('O-3')).map((q) => q.method)).toEqual(['PUT']);
    expect(sessionOf('O-2')?.state).toBe('closed');
  });

  it('a 400 to a close of a session already closed upstream counts as delivered, not a dead letter', async () => {
    const r = await rig();
    // Delivered before a crash lost the acknowledgement, under another key (e.g. more than 24 h ago).
    await direct('PUT', '/v2/customer_sessions/Z-1', { customerSession: { cartItems: [{ sku: 'A', quantity: 1, price: 5 }], state: 'closed' } }, 'pre-crash');
    emu.clearRequests();
    await append(r.journal, updateSession('Z-1', 'closed', { items: 1 }));
    await append(r.journal, updateSession('Z-2', 'closed', { session: { cartItems: [{ sku: 'A', quantity: 0, price: 5 }] } }));
    const report = await r.flusher.flushNow({ timeoutMs: 5000 });
    expect(report).toMatchObject({ delivered: 1, deadLettered: 1 });
    expect(emu.requests.filter(forSession('Z-1')).map((q) => [q.method, q.status])).toEqual([['PUT', 400], ['GET', 200]]);
    expect(r.deadLetters.list().map((d) => d.key)).toEqual(['session:Z-2']);
  });
});

describe('flusher: coalescing and reconciliation', () => {
  it('coalesces successive open updates and the close into one send of the last body', async () => {
    const marked: { seqs: number[]; stillUndelivered: boolean }[] = [];
    const r: Rig = await rig({
      flusher: {
        beforeMarkDelivered: async (seqs) => {
          const open = new Set(r.journal.undelivered().map((e) => e.seq));
          marked.push({ seqs, stillUndelivered: seqs.every((q) => open.has(q)) });
        },
      },
    });
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push((await append(r.journal, updateSession('G-1', 'open', { items: i }))).id);
    ids.push((await append(r.journal, updateSession('G-1', 'closed', { items: 6 }))).id);
    const after = await append(r.journal, updateSession('G-1', 'cancelled'));
    const report = await r.flusher.flushNow({ timeoutMs: 5000 });
    expect(report).toMatchObject({ delivered: 7, remaining: 0 });
    const sends = emu.requests.filter(forSession('G-1'));
    expect(sends.map((q) => q.headers['idempotency-key'])).toEqual([ids[5], after.id]);
    expect(((sends[0]!.body as { customerSession: { cartItems: unknown[] } }).customerSession.cartItems)).toHaveLength(6);
    expect(sessionOf('G-1')?.state).toBe('cancelled');
    // The gateway's snapshot hook runs before the journal records the delivery.
    expect(marked.flatMap((m) => m.seqs)).toHaveLength(7);
    expect(marked.every((m) => m.stillUndelivered)).toBe(true);
  });

  it('a reopen or a return already applied upstream (400 on replay) counts as delivered', async () => {
    const r = await rig();
    const close = { customerSession: { cartItems: [{ sku: 'A', quantity: 2, price: 5 }], state: 'closed' } };
    await direct('PUT', '/v2/customer_sessions/W-1', close);
    await direct('PUT', '/v2/customer_sessions/W-1/reopen', undefined, 'pre-crash-reopen');
    await direct('PUT', '/v2/customer_sessions/W-2', close);
    await direct('POST', '/v2/customer_sessions/W-2/returns', { return: { returnedCartItems: [{ position: 0, quantity: 2 }] } });
    emu.clearRequests();
    await append(r.journal, reopen('W-1'));
    await append(r.journal, returnItems('W-2', [{ position: 0, quantity: 2 }]));
    await append(r.journal, returnItems('W-3', [{ position: 0, quantity: 1 }])); // unknown upstream: 404, dead
    const report = await r.flusher.flushNow({ timeoutMs: 5000 });
    expect(report).toMatchObject({ delivered: 2, deadLettered: 1 });
    expect(emu.requests.filter(forSession('W-1')).map((q) => [q.method, q.status])).toEqual([['PUT', 400], ['GET', 200]]);
    expect(emu.requests.filter(forSession('W-2')).map((q) => [q.method, q.status])).toEqual([['POST', 400], ['GET', 200]]);
    expect(r.deadLetters.list()[0]?.status).toBe(404);
  });

  it('records a coupon accepted locally but already used upstream, and a loyalty mismatch; persisted and alerted', async () => {
    const r = await rig();
    expect((await direct('PUT', '/v2/customer_sessions/U-0', { customerSession: { cartItems: [{ sku: 'A', quantity: 1, price: 20 }], couponCodes: ['SAVE5'], state: 'closed' } })).status).toBe(200);
    expect(emu.getCoupon('SAVE5')?.usageCounter).toBe(1);
    const rec = updateSession('U-1', 'closed', { terminalId: 'T7', couponCodes: ['SAVE5'], local: { acceptedCoupons: ['SAVE5'] } });
    const e1 = await append(r.journal, rec);
    // Named profile: upstream awards 1 point per unit (20 for a 2×10 cart); the shop said 15.
    const e2 = await append(r.journal, updateSession('U-2', 'closed', { profileId: 'customer-9', local: { loyaltyPoints: { '1': 15 } } }));
    const report = await r.flusher.flushNow({ timeoutMs: 5000 });
    expect(report).toMatchObject({ delivered: 2, deadLettered: 0 });

    const list = await r.reconciliation.list();
    expect(list).toHaveLength(2);
    const coupon = list.find((e) => e.kind === 'couponRejected')!;
    expect(coupon).toMatchObject({ sessionId: 'U-1', terminalId: 'T7', coupon: 'SAVE5', reason: 'CouponLimitReached', seq: e1.seq });
    expect(coupon.upstreamEffects).toEqual([expect.objectContaining({ effectType: 'rejectCoupon' })]);
    expect(Date.parse(coupon.at)).toBeGreaterThan(0);
    const points = list.find((e) => e.kind === 'loyaltyMismatch')!;
    expect(points).toMatchObject({ sessionId: 'U-2', seq: e2.seq, localPoints: { '1': 15 }, upstreamPoints: { '1': 20 } });
    expect(r.alerts.filter((a) => a.kind === 'reconciliation').map((a) => a.entryKind).sort()).toEqual(['couponRejected', 'loyaltyMismatch']);

    const reloaded = new ReconciliationLog({ file: join(r.dir, 'state', 'reconciliation.log') });
    await reloaded.start();
    expect(await reloaded.list()).toEqual(list);
  });
});

describe('reconciliation log', () => {
  const base = { at: new Date().toISOString(), kind: 'couponRejected' as const, sessionId: 's', terminalId: 't', localEffects: [], upstreamEffects: [] };

  it('keeps the newest N and ignores a repeated entry (same seq, kind, coupon)', async () => {
    const r = await rig();
    await rm(r.dir + '/state', { recursive: true, force: true });
    const file = join(r.dir, 'state', 'reconciliation.log');
    const log = new ReconciliationLog({ file, max: 3 });
    await log.start();
    await Promise.all([1, 2, 3, 4, 5].map((seq) => log.add({ ...base, seq, coupon: 'C' })));
    await log.add({ ...base, seq: 5, coupon: 'C' });
    expect((await log.list()).map((e) => e.seq)).toEqual([3, 4, 5]);
    const again = new ReconciliationLog({ file, max: 3 });
    await again.start();
    expect((await again.list()).map((e) => e.seq)).toEqual([3, 4, 5]);
  });

  it('an add appends its own line instead of rewriting the list; the file is compacted to N at 2N lines', async () => {
    const r = await rig();
    await rm(r.dir + '/state', { recursive: true, force: true });
    const file = join(r.dir, 'state', 'reconciliation.log');
    const log = new ReconciliationLog({ file, max: 100 });
    await log.start();
    const sizes: number[] = [];
    for (let seq = 1; seq <= 350; seq++) {
      await log.add({ ...base, seq, coupon: 'C' });
      sizes.push((await stat(file)).size);
    }
    // Each add grew the file by one line (≈ the size of one entry), except at the compactions.
    const line = sizes[0] as number;
    const growths = sizes.slice(1).map((s, i) => s - (sizes[i] as number));
    expect(growths.filter((g) => g > 0).every((g) => g <= line + 10)).toBe(true);
    expect(growths.filter((g) => g < 0)).toHaveLength(2); // at 200 lines, then at 200 again
    const lines = (await readFile(file, 'utf8')).trim().split('\n').length;
    expect(lines).toBeLessThan(200);
    const again = new ReconciliationLog({ file, max: 100 });
    await again.start();
    expect((await again.list()).map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => 251 + i));
  });

  it('entries of the former snapshot are carried over once', async () => {
    const r = await rig();
    await rm(r.dir + '/state', { recursive: true, force: true });
    const store = new FileSnapshotStore(r.dir);
    await store.save({ kind: 'reconciliation', version: 3, savedAt: Date.now(), data: { entries: [1, 2].map((seq) => ({ ...base, seq, coupon: 'OLD' })) } });
    const file = join(r.dir, 'state', 'reconciliation.log');
    const log = new ReconciliationLog({ file, legacy: store });
    await log.start();
    expect((await log.list()).map((e) => e.seq)).toEqual([1, 2]);
    await log.add({ ...base, seq: 3, coupon: 'NEW' });
    const again = new ReconciliationLog({ file, legacy: store });
    await again.start();
    expect((await again.list()).map((e) => [e.seq, e.coupon])).toEqual([[1, 'OLD'], [2, 'OLD'], [3, 'NEW']]);
  });
});

// Typed record builders are exercised above; this keeps the import of the union type meaningful.
export type { JournalRecord };

describe('flusher: each record queued once across a stop', () => {
  it('sends the records left queued at a stop and the ones appended while stopped exactly once each when it goes on', async () => {
    const r = await rig({ concurrency: 2 });
    for (let i = 0; i < 4; i++) await append(r.journal, updateSession(`Q-${i}`, 'closed', { items: 1 }));
    await emu.setFaults({ errorRate: 1, errorStatus: 503 });
    const stuck = await r.flusher.flushNow({ timeoutMs: 300 });
    expect(stuck).toMatchObject({ delivered: 0, remaining: 4, timedOut: true });
    await r.flusher.stop();
    // Appended while stopped: no one is told; the next flush finds them in the journal, after the queued ones.
    for (let i = 4; i < 7; i++) await append(r.journal, updateSession(`Q-${i}`, 'closed', { items: 1 }));
    await emu.setFaults({});
    const report = await r.flusher.flushNow({ timeoutMs: 10_000 });
    expect(report).toMatchObject({ delivered: 7, deadLettered: 0, remaining: 0, timedOut: false });
    expect(r.journal.stats().depth).toBe(0);
    for (let i = 0; i < 7; i++) expect(emu.requests.filter(forSession(`Q-${i}`)).filter(ok)).toHaveLength(1);
  });
});
