/**
 * Defect: sessions went back in time after a crash. Records delivered upstream are not replayed at start, and
 * the full sessions snapshot is written only every minute: a session closed (or built) offline and delivered
 * just before a `kill -9` must come back exactly as it was.
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
import { ADMIN_TOKEN, TERMINAL_TOKENS } from '../helpers/gateway.js';

const KEY = 'session-crash-upstream-key-0123';
let emu: Emulator;
const children: ChildProcess[] = [];

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0 });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await emu?.close();
});

describe('local sessions across kill -9', () => {
  it('a delivered close stays closed and a delivered cart stays in its session', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-sesscrash-'));
    const bundle = buildBundle(path.join(dir, 'storegate.mjs'));
    const port = await freePort();
    const file = path.join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        mode: 'offline',
        dataDir: path.join(dir, 'var'),
        http: { host: '127.0.0.1', port },
        adminToken: ADMIN_TOKEN,
        terminals: [{ id: 'T1', tokenSha256: sha256Hex(TERMINAL_TOKENS.T1) }],
        upstream: { baseUrl: emu.url, apiKey: KEY, timeoutMs: 2000 },
        log: { level: 'warn' },
      }),
    );
    const base = `http://127.0.0.1:${port}`;
    const put = (id: string, customerSession: unknown) =>
      fetch(`${base}/v2/customer_sessions/${id}`, {
        method: 'PUT',
        headers: { authorization: `ApiKey-v1 ${TERMINAL_TOKENS.T1}`, 'content-type': 'application/json' },
        body: JSON.stringify({ customerSession, responseContent: ['customerSession'] }),
      });
    let child = spawnGateway(bundle, file);
    children.push(child);
    await waitReady(child, port);
    expect((await put('SC-closed', { state: 'closed', cartItems: [{ sku: 'A', quantity: 1, price: 5 }] })).status).toBe(200);
    expect((await put('SC-open', { cartItems: [{ sku: 'B', quantity: 3, price: 2 }] })).status).toBe(200);
    const flush = await (await fetch(`${base}/admin/journal/flush?wait=30`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
    expect(flush).toMatchObject({ ok: true, remaining: 0 });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await emu.setFaults({ refuse: true }); // what follows is answered locally only
    child = spawnGateway(bundle, file);
    children.push(child);
    await waitReady(child, port);
    const again = await put('SC-closed', { cartItems: [{ sku: 'A', quantity: 2, price: 5 }] });
    expect(again.status).toBe(400); // a closed session cannot be modified, as upstream answers
    const more = await put('SC-open', { couponCodes: [] });
    expect(more.status).toBe(200);
    const s = ((await more.json()) as { customerSession: { cartItems: { sku: string; quantity: number }[] } }).customerSession;
    expect(s.cartItems).toEqual([expect.objectContaining({ sku: 'B', quantity: 3 })]);
    child.kill('SIGKILL');
    await emu.setFaults({});
  });
});
