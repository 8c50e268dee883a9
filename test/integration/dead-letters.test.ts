/**
 * Dead letters out of the log (issue 9, defect 7): the flusher writes a record Talon.One refused for good to the
 * dead-letter store, then marks it delivered in the journal, so its segment can go. Also: the order guarantee
 * of a retry (README "Dead letters"), a retry delivered from the store under its own id, a crash between the
 * store write and the journal mark, an older cursor's dead letters taken over, and an audited discard (log
 * line, durable record, `P/alerts`) through the admin route and the CLI.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator, RecordedRequest } from '../../scripts/talon-emulator/types.js';
import { APP_DIR } from '../../src/config/load.js';
import { DeadLetterStore } from '../../src/delivery/dead-letter-store.js';
import { DeadLetters } from '../../src/delivery/dead-letters.js';
import { reconcileDeadLetters } from '../../src/delivery/dead-letter-recovery.js';
import { Journal } from '../../src/journal/index.js';
import { systemClock } from '../../src/platform/clock.js';
import { API_KEY, append, openRig, returnItems, silentLog, tempDir, updateSession, type Rig } from '../helpers/flush-fixtures.js';
import { ADMIN_TOKEN, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';

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

const forSession = (id: string) => (q: RecordedRequest) => q.path === `/v2/customer_sessions/${id}` || q.path.startsWith(`/v2/customer_sessions/${id}/`);

function service(r: Rig, log = silentLog) {
  return new DeadLetters({ store: r.deadLetters, redeliver: (l) => r.flusher.redeliver(l), beforeRemove: async () => undefined, alert: (a) => r.alerts.push(a), clock: systemClock, log });
}

describe('dead letters leave the journal', () => {
  it('a few scattered dead letters no longer fill the journal: their segments are freed', async () => {
    // 96 KiB of journal in 8 KiB segments; every round strands one dead letter in a new segment.
    const r = await rig({ maxBytes: 96 * 1024, segmentBytes: 8 * 1024 });
    await emu.setFaults({ failNext: 1_000_000, errorStatus: 400, paths: ['/v2/customer_sessions/BAD-'] });
    let appended = 0;
    for (let round = 0; round < 40; round++) {
      await append(r.journal, updateSession(`BAD-${round}`, 'closed', { items: 6 }));
      for (let i = 0; i < 5; i++) await append(r.journal, updateSession(`OK-${round}-${i}`, 'closed', { items: 6 }));
      appended += 6;
      const report = await r.flusher.flushNow({ timeoutMs: 10_000 });
      expect(report).toMatchObject({ deadLettered: 1, remaining: 0, timedOut: false });
    }
    expect(appended * 1000).toBeGreaterThan(2 * 96 * 1024); // far more than maxBytes went through
    expect(r.deadLetters.list().map((d) => d.key)).toEqual(Array.from({ length: 40 }, (_, i) => `session:BAD-${i}`).sort((a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1])));
    await until(() => r.journal.stats().segments <= 2, 5000);
    expect(r.journal.stats().bytes).toBeLessThan(16 * 1024);
    // Each dead letter keeps the whole record and Talon.One's answer.
    const d0 = r.deadLetters.get(r.deadLetters.list()[0]!.seq)!;
    expect(d0).toMatchObject({ key: 'session:BAD-0', kind: 'updateSession', status: 400 });
    expect((d0.payload as { sessionId: string }).sessionId).toBe('BAD-0');
    expect(r.alerts.filter((a) => a.kind === 'deadLetter')).toHaveLength(40);
  });

  it('a dead letter written to the store but not yet marked in the journal (a crash) is kept once', async () => {
    const r = await rig();
    const e = await append(r.journal, updateSession('CRASH-1', 'closed'));
    // The flusher's first step, then the process dies before the journal mark.
    await r.deadLetters.add([{ entry: e, status: 400, body: 'no', failedAt: 1 }]);
    await r.close();
    const journal = await Journal.open({ dir: join(r.dir, 'journal'), maxBytes: 1 << 24, clock: systemClock });
    const store = await DeadLetterStore.open(join(r.dir, 'state', 'dead-letters.log'));
    expect(journal.undelivered().map((x) => x.seq)).toEqual([e.seq]); // in both
    expect(await reconcileDeadLetters(journal, store, silentLog)).toEqual({ duplicates: 1, takenOver: 0 });
    expect(journal.undelivered()).toEqual([]);
    expect(store.list().map((d) => [d.seq, d.id])).toEqual([[e.seq, e.id]]);
    await journal.close();
    const again = await Journal.open({ dir: join(r.dir, 'journal'), maxBytes: 1 << 24, clock: systemClock });
    expect(again.undelivered()).toEqual([]);
    await again.close();
  });

  it('takes over the dead letters of an older cursor at the first start; their retry then needs force', async () => {
    const dir = await tempDir();
    const jdir = join(dir, 'journal');
    let journal = await Journal.open({ dir: jdir, maxBytes: 1 << 24, segmentBytes: 4096, clock: systemClock });
    const es = [];
    for (let i = 0; i < 5; i++) es.push(await append(journal, updateSession(`OLD-${i}`, 'closed', { items: 8 })));
    await journal.markDelivered([es[0]!.seq, es[2]!.seq, es[3]!.seq, es[4]!.seq]);
    await journal.close();
    // The cursor as an older storegate wrote it, with es[1] a dead letter kept in the journal.
    const cur = JSON.parse(await readFile(join(jdir, 'cursor.json'), 'utf8')) as { hw: number };
    await writeFile(join(jdir, 'cursor.json'), JSON.stringify({ v: 1, lw: es[0]!.seq, hw: cur.hw, delivered: [[es[2]!.seq, es[4]!.seq]], dead: [{ seq: es[1]!.seq, status: 422, body: '{"message":"bad"}', at: 1234 }] }));
    journal = await Journal.open({ dir: jdir, maxBytes: 1 << 24, segmentBytes: 4096, clock: systemClock });
    const segments = journal.stats().segments;
    let store = await DeadLetterStore.open(join(dir, 'state', 'dead-letters.log'));
    expect(await reconcileDeadLetters(journal, store, silentLog)).toEqual({ duplicates: 0, takenOver: 1 });
    expect(store.list().map((d) => ({ seq: d.seq, id: d.id, key: d.key, status: d.status, body: d.body, failedAt: d.failedAt, laterSent: d.laterSent }))).toEqual([
      { seq: es[1]!.seq, id: es[1]!.id, key: 'session:OLD-1', status: 422, body: '{"message":"bad"}', failedAt: 1234, laterSent: 0 },
    ]);
    expect((store.get(es[1]!.seq)!.payload as { sessionId: string }).sessionId).toBe('OLD-1');
    expect(journal.legacyDeadLetters()).toEqual([]);
    expect(journal.undelivered()).toEqual([]);
    expect(journal.stats().segments).toBeLessThan(segments); // the segment it pinned is gone
    await journal.close();
    journal = await Journal.open({ dir: jdir, maxBytes: 1 << 24, segmentBytes: 4096, clock: systemClock });
    store = await DeadLetterStore.open(join(dir, 'state', 'dead-letters.log'));
    expect(await reconcileDeadLetters(journal, store, silentLog)).toEqual({ duplicates: 0, takenOver: 0 });
    expect(store.size).toBe(1);
    const ops = new DeadLetters({ store, redeliver: () => undefined, beforeRemove: async () => undefined, alert: () => undefined, clock: systemClock, log: silentLog });
    await expect(ops.retry([es[1]!.seq])).rejects.toMatchObject({ code: 'SG_ERR_DEAD_LETTER_SUPERSEDED', statusCode: 409 });
    expect((await ops.retry([es[1]!.seq], { force: true })).retried).toEqual([es[1]!.seq]);
    await journal.close();
  });
});

describe('retry order guarantee', () => {
  it('refuses to retry a dead letter after a later record of its session was sent; force sends it anyway', async () => {
    const r = await rig();
    const ops = service(r);
    await emu.setFaults({ failNext: 1, errorStatus: 422, paths: ['/v2/customer_sessions/ORD-1'] });
    const d = await append(r.journal, updateSession('ORD-1', 'cancelled'));
    expect(await r.flusher.flushNow({ timeoutMs: 5000 })).toMatchObject({ deadLettered: 1 });
    const later = await append(r.journal, updateSession('ORD-1', 'closed', { items: 3 }));
    expect(await r.flusher.flushNow({ timeoutMs: 5000 })).toMatchObject({ delivered: 1 });
    expect(r.deadLetters.get(d.seq)?.laterSent).toBe(later.seq);

    emu.clearRequests();
    await expect(ops.retry([d.seq])).rejects.toMatchObject({ code: 'SG_ERR_DEAD_LETTER_SUPERSEDED', statusCode: 409, details: [expect.objectContaining({ message: expect.stringContaining(`seq ${later.seq}`) })] });
    // "All" skips it with the reason; nothing is sent.
    const all = await ops.retry(undefined);
    expect(all).toMatchObject({ retried: [], skipped: [{ seq: d.seq, reason: expect.stringContaining('later record') }] });
    await r.flusher.flushNow({ timeoutMs: 2000 });
    expect(emu.requests.filter(forSession('ORD-1'))).toEqual([]);
    // The mark is durable: a restart still refuses it.
    await r.close();
    const r2 = await rig({ dir: r.dir });
    await expect(service(r2).retry([d.seq])).rejects.toMatchObject({ code: 'SG_ERR_DEAD_LETTER_SUPERSEDED' });
    expect((await service(r2).retry([d.seq], { force: true })).retried).toEqual([d.seq]);
    await r2.flusher.flushNow({ timeoutMs: 5000 });
    expect(emu.requests.filter(forSession('ORD-1')).map((q) => q.headers['idempotency-key'])).toEqual([d.id]);
  });

  it('a retry goes ahead of its session\'s later records still waiting, under its own id, and leaves the store once delivered', async () => {
    const r = await rig();
    await emu.setFaults({ failNext: 1, errorStatus: 422, paths: ['/v2/customer_sessions/ORD-2'] });
    const close = await append(r.journal, updateSession('ORD-2', 'closed', { items: 2 }));
    expect(await r.flusher.flushNow({ timeoutMs: 5000 })).toMatchObject({ deadLettered: 1 });
    // A later record of the session, not sent yet (the flusher is not running between operator flushes).
    const ret = await append(r.journal, returnItems('ORD-2', [{ position: 0, quantity: 1 }]));
    expect(r.deadLetters.get(close.seq)?.laterSent).toBeNull();
    expect((await service(r).retry([close.seq])).retried).toEqual([close.seq]);
    expect(r.deadLetters.retryingKey('session:ORD-2')).toBe(true);
    expect(await r.flusher.flushNow({ timeoutMs: 5000 })).toMatchObject({ delivered: 2, deadLettered: 0 });
    const sends = emu.requests.filter(forSession('ORD-2')).map((q) => [q.method, q.status, q.headers['idempotency-key']]);
    expect(sends).toEqual([
      ['PUT', 422, close.id],
      ['PUT', 200, close.id],
      ['POST', 200, ret.id],
    ]);
    expect((emu.getSession('ORD-2')?.customerSession as { state: string }).state).toBe('partially_returned');
    expect(r.deadLetters.size).toBe(0);
    expect(r.journal.stats().depth).toBe(0);
    await r.close();
    expect((await DeadLetterStore.open(join(r.dir, 'state', 'dead-letters.log'))).size).toBe(0);
  });

  it('a retry asked for before a restart is delivered after it; one refused again is a dead letter again', async () => {
    const r = await rig();
    await emu.setFaults({ failNext: 1, errorStatus: 422, paths: ['/v2/customer_sessions/ORD-3'] });
    const e = await append(r.journal, updateSession('ORD-3', 'closed'));
    await r.flusher.flushNow({ timeoutMs: 5000 });
    await service(r).retry([e.seq]); // the process stops before the flusher sends it
    await r.close();
    await emu.setFaults({ failNext: 1, errorStatus: 400, paths: ['/v2/customer_sessions/ORD-3'] });
    const r2 = await rig({ dir: r.dir });
    expect(await r2.flusher.flushNow({ timeoutMs: 5000 })).toMatchObject({ deadLettered: 1, delivered: 0 });
    expect(r2.deadLetters.get(e.seq)).toMatchObject({ status: 400, retrying: false });
    await service(r2).retry([e.seq]);
    expect(await r2.flusher.flushNow({ timeoutMs: 5000 })).toMatchObject({ delivered: 1 });
    expect(r2.deadLetters.size).toBe(0);
    expect(emu.requests.filter((q) => forSession('ORD-3')(q) && q.method === 'PUT').map((q) => [q.status, q.headers['idempotency-key']])).toEqual([[422, e.id], [400, e.id], [200, e.id]]);
  });
});

describe('discarding a dead letter', () => {
  it('is audited: a log line, a durable record, an alert; a reason is required', async () => {
    const r = await rig();
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (c: Buffer, _e, cb) => { lines.push(JSON.parse(c.toString()) as Record<string, unknown>); cb(); } }));
    const removed: number[][] = [];
    const ops = new DeadLetters({ store: r.deadLetters, redeliver: (l) => r.flusher.redeliver(l), beforeRemove: async (s) => void removed.push(s), alert: (a) => r.alerts.push(a), clock: systemClock, log });
    await emu.setFaults({ failNext: 1, errorStatus: 400, paths: ['/v2/customer_sessions/DIS-1'] });
    const e = await append(r.journal, updateSession('DIS-1', 'closed'));
    await r.flusher.flushNow({ timeoutMs: 5000 });
    await expect(ops.discard(e.seq, { reason: '  ' })).rejects.toMatchObject({ code: 'SG_ERR_BAD_REQUEST', statusCode: 400 });
    await expect(ops.discard(999_999, { reason: 'x' })).rejects.toMatchObject({ code: 'SG_ERR_NOT_FOUND', statusCode: 404 });
    const rec = await ops.discard(e.seq, { reason: 'duplicate basket, re-rung at till 2', by: 'anna' });
    expect(rec).toMatchObject({ seq: e.seq, id: e.id, key: 'session:DIS-1', kind: 'updateSession', status: 400, reason: 'duplicate basket, re-rung at till 2', by: 'anna' });
    expect(removed).toEqual([[e.seq]]);
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'dead letter discarded', seq: e.seq, id: e.id, key: 'session:DIS-1', reason: 'duplicate basket, re-rung at till 2', by: 'anna', at: expect.any(String) }));
    expect(r.alerts).toContainEqual(expect.objectContaining({ kind: 'deadLetterDiscarded', seq: e.seq, key: 'session:DIS-1', reason: 'duplicate basket, re-rung at till 2', by: 'anna' }));
    expect(r.deadLetters.size).toBe(0);
    await r.close();
    const store = await DeadLetterStore.open(join(r.dir, 'state', 'dead-letters.log'));
    expect(store.size).toBe(0);
    expect(store.discarded()).toEqual([expect.objectContaining({ seq: e.seq, reason: 'duplicate basket, re-rung at till 2', by: 'anna' })]);
  });

  it('a dead letter being retried cannot be discarded', async () => {
    const r = await rig();
    await emu.setFaults({ failNext: 1, errorStatus: 400, paths: ['/v2/customer_sessions/DIS-2'] });
    const e = await append(r.journal, updateSession('DIS-2', 'closed'));
    await r.flusher.flushNow({ timeoutMs: 5000 });
    const ops = service(r);
    await ops.retry([e.seq]); // queued: the flusher is not running between operator flushes
    await expect(ops.discard(e.seq, { reason: 'x' })).rejects.toMatchObject({ code: 'SG_ERR_DEAD_LETTER_RETRYING', statusCode: 409 });
  });
});

describe('dead letters through the gateway: admin routes, CLI, P/alerts', () => {
  let gw: TestGateway;
  const run = promisify(execFile);
  afterAll(async () => {
    await gw?.stop();
  });

  it('lists, refuses an out-of-order retry with 409, and discards one from the CLI, with the alert', async () => {
    gw = await startGateway({ mode: 'offline', upstream: { baseUrl: emu.url, apiKey: API_KEY, timeoutMs: 2000 }, log: { level: 'info' } });
    const alerts: Record<string, unknown>[] = [];
    gw.gateway.alerts?.subscribe((a) => alerts.push(a));
    const admin = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(gw.url + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> & { errors?: { title: string }[] } };
    };
    const put = (id: string, state: string) =>
      fetch(`${gw.url}/v2/customer_sessions/${id}`, { method: 'PUT', headers: terminalHeaders(), body: JSON.stringify({ customerSession: { state, cartItems: [{ sku: 'A', name: 'A', quantity: 1, price: 4 }] } }) });
    await emu.setFaults({ failNext: 1, errorStatus: 422, paths: ['/v2/customer_sessions/GW-1'] });
    expect((await put('GW-1', 'closed')).status).toBe(200);
    await admin('POST', '/admin/journal/flush?wait=30');
    const dead = (await admin('GET', '/admin/journal/dead')).json as unknown as { seq: number; key: string; status: number; laterSent: number | null }[];
    expect(dead).toEqual([expect.objectContaining({ key: 'session:GW-1', status: 422, laterSent: null, retrying: false })]);
    expect(alerts).toContainEqual(expect.objectContaining({ kind: 'deadLetter', key: 'session:GW-1', status: 422 }));
    expect(((await admin('GET', '/admin/journal/stats')).json as { dead: number; depth: number })).toMatchObject({ dead: 1, depth: 0 });
    expect((gw.gateway.status().journal as { dead: number }).dead).toBe(1);
    const seq = dead[0]!.seq;
    const retry = await admin('POST', '/admin/journal/dead/retry?wait=30', { seqs: [seq] });
    expect(retry.status).toBe(200); // nothing later was sent: the retry may go
    expect(retry.json).toMatchObject({ retried: 1, seqs: [seq] });
    await until(async () => ((await admin('GET', '/admin/journal/stats')).json as { dead: number }).dead === 0, 10_000);

    // Another dead letter, overtaken by a later record, then discarded from the CLI.
    await emu.setFaults({ failNext: 1, errorStatus: 422, paths: ['/v2/customer_sessions/GW-2'] });
    expect((await put('GW-2', 'open')).status).toBe(200);
    await admin('POST', '/admin/journal/flush?wait=30');
    expect((await put('GW-2', 'closed')).status).toBe(200);
    await admin('POST', '/admin/journal/flush?wait=30');
    const [d2] = (await admin('GET', '/admin/journal/dead')).json as unknown as { seq: number; laterSent: number }[];
    expect(d2!.laterSent).toBeGreaterThan(d2!.seq);
    const refused = await admin('POST', '/admin/journal/dead/retry?wait=30', { seqs: [d2!.seq] });
    expect(refused.status).toBe(409);
    expect(refused.json.errors?.[0]?.title).toBe('SG_ERR_DEAD_LETTER_SUPERSEDED');
    expect((await admin('POST', `/admin/journal/dead/${d2!.seq}/discard`, {})).status).toBe(400); // no reason

    const cfg = JSON.parse(await readFile(join(gw.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const cliConfig = join(gw.dir, 'cli.json');
    await writeFile(cliConfig, JSON.stringify({ ...cfg, http: { host: '127.0.0.1', port: Number(new URL(gw.url).port) } }));
    const { stdout } = await run(process.execPath, ['--import', 'tsx', join(APP_DIR, 'src', 'main.ts'), 'journal', 'discard', String(d2!.seq), '--reason', 'superseded by the close', '--by', 'tech-1', '--config', cliConfig], { cwd: APP_DIR, env: { ...process.env, STOREGATE_CONFIG: '' } });
    expect(stdout).toContain(`discarded #${d2!.seq}`);
    expect((await admin('GET', '/admin/journal/dead')).json).toEqual([]);
    expect((await admin('GET', '/admin/journal/dead/discarded')).json).toEqual([expect.objectContaining({ seq: d2!.seq, reason: 'superseded by the close', by: 'tech-1' })]);
    expect(alerts).toContainEqual(expect.objectContaining({ kind: 'deadLetterDiscarded', seq: d2!.seq, reason: 'superseded by the close', by: 'tech-1', store: 'store-042' }));
    expect(gw.logs.some((l) => l.includes('"msg":"dead letter discarded"') && l.includes('superseded by the close') && l.includes(`"seq":${d2!.seq}`))).toBe(true);
    expect(gw.logs.some((l) => l.includes(ADMIN_TOKEN) || l.includes(API_KEY))).toBe(false);
  });
});
