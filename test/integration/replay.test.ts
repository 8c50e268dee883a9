/**
 * A terminal's retry with the same `Idempotency-Key` while the shop answers locally: the first answer again
 * (same body, same `X-Storegate-Journal-Seq`), never a second journal record — across a clean restart, a
 * `kill -9`, and after the record was delivered upstream. Same key, other request: 409.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { sha256Hex } from '../../src/http/auth.js';
import { buildBundle, freePort, spawnGateway, waitReady } from '../helpers/procs.js';
import { TERMINAL_TOKENS, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';

const KEY = 'replay-upstream-key-0123456789';
let emu: Emulator;
let gw: TestGateway;

async function call(base: string, method: string, p: string, body: unknown, key?: string, headers = terminalHeaders()) {
  const res = await fetch(base + p, { method, headers: { ...headers, ...(key ? { 'idempotency-key': key } : {}) }, body: JSON.stringify(body) });
  return { status: res.status, seq: res.headers.get('x-storegate-journal-seq'), text: await res.text() };
}

const close = { customerSession: { state: 'closed', cartItems: [{ sku: 'A', name: 'Pan', quantity: 2, price: 10 }] } };

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0 });
  await emu.setFaults({ refuse: true }); // nothing is delivered until a test says so
  gw = await startGateway({ mode: 'offline', upstream: { baseUrl: emu.url, apiKey: KEY } });
});

afterAll(async () => {
  await gw?.stop();
  await emu?.close();
});

describe('local replay of Idempotency-Key', () => {
  it('answers a retried close with the first answer and journals it once', async () => {
    const seqBefore = gw.gateway.journal?.stats().lastSeq ?? 0;
    const a = await call(gw.url, 'PUT', '/v2/customer_sessions/RP-1', close, 'key-close-1');
    const b = await call(gw.url, 'PUT', '/v2/customer_sessions/RP-1', close, 'key-close-1');
    expect(a.status).toBe(200);
    expect(b).toEqual(a);
    expect(gw.gateway.journal?.stats().lastSeq).toBe(seqBefore + 1);
    // Without the key the same close is a second request, refused as upstream would (closed session).
    expect((await call(gw.url, 'PUT', '/v2/customer_sessions/RP-1', close)).status).toBe(400);
  });

  it('applies a retried return once, and concurrent retries share one answer', async () => {
    const ret = { return: { returnedCartItems: [{ position: 0, quantity: 1 }] } };
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => call(gw.url, 'POST', '/v2/customer_sessions/RP-1/returns', ret, 'key-return-1')));
    expect(a?.status).toBe(200);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    const returns = gw.gateway.journal?.undelivered().filter((e) => e.kind === 'returnItems' && e.key === 'session:RP-1') ?? [];
    expect(returns).toHaveLength(1);
  });

  it('refuses the same key with another request: 409 in Talon.One error shape', async () => {
    const other = { customerSession: { cartItems: [{ sku: 'B', quantity: 1, price: 1 }] } };
    await call(gw.url, 'PUT', '/v2/customer_sessions/RP-2', other, 'key-2');
    const r = await call(gw.url, 'PUT', '/v2/customer_sessions/RP-2', { customerSession: { cartItems: [] } }, 'key-2');
    expect(r.status).toBe(409);
    expect(JSON.parse(r.text)).toMatchObject({ errors: [{ title: 'SG_ERR_IDEMPOTENCY_CONFLICT' }] });
  });

  it('keeps answers across a restart, also for records already delivered upstream', async () => {
    const first = await call(gw.url, 'PUT', '/v2/customer_sessions/RP-3', close, 'key-delivered');
    await emu.setFaults({});
    const flushed = await gw.gateway.flushNow();
    expect(flushed).toMatchObject({ ok: true, remaining: 0 });
    const dir = gw.dir;
    await gw.stop();
    gw = await startGateway({ mode: 'offline', upstream: { baseUrl: emu.url, apiKey: KEY } }, { dir });
    const again = await call(gw.url, 'PUT', '/v2/customer_sessions/RP-3', close, 'key-delivered');
    expect(again).toEqual(first);
    const undelivered = await call(gw.url, 'PUT', '/v2/customer_sessions/RP-1', close, 'key-close-1');
    expect(undelivered.status).toBe(200);
  });
});

describe('local replay after kill -9', () => {
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

  it('answers a retry after a kill -9 with the first answer', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-replay-'));
    const bundle = buildBundle(path.join(dir, 'storegate.mjs'));
    const port = await freePort();
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ mode: 'offline', dataDir: path.join(dir, 'var'), http: { host: '127.0.0.1', port }, terminals: [{ id: 'T1', tokenSha256: sha256Hex(TERMINAL_TOKENS.T1) }], log: { level: 'warn' } }));
    const base = `http://127.0.0.1:${port}`;
    let child = spawnGateway(bundle, file);
    children.push(child);
    await waitReady(child, port);
    const first = await call(base, 'PUT', '/v2/customer_sessions/K9-1', close, 'key-k9');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    child = spawnGateway(bundle, file);
    children.push(child);
    await waitReady(child, port);
    expect(await call(base, 'PUT', '/v2/customer_sessions/K9-1', close, 'key-k9')).toEqual(first);
  });
});
