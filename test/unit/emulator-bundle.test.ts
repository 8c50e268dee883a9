/**
 * The Talon.One emulator's cheap paths: cart lines echoed without copies, idempotent answers stored as
 * strings with the 50,000-key cap and 24 h expiry, the per-millisecond ISO cache, and the esbuild bundle
 * (build/talon-emulator.mjs) answering exactly as the source does.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEmulatorBundle } from '../../scripts/talon-emulator/bundle.js';
import { DEFAULT_CAMPAIGNS_FILE, startEmulator } from '../../scripts/talon-emulator/server.js';
import { loadConfigFile } from '../../scripts/talon-emulator/campaigns.js';
import { State } from '../../scripts/talon-emulator/state.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';

const KEY = 'emu-bundle-key';
let clock = Date.parse('2026-11-25T10:00:00Z');
let emu: Emulator;

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(base: string, method: string, p: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(base + p, { method, headers: { authorization: `ApiKey-v1 ${KEY}`, 'content-type': 'application/json', ...headers }, ...(body !== undefined ? { body } : {}) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0, now: () => clock });
});
afterAll(async () => {
  await emu.close();
});

describe('cart lines', () => {
  it('echoes items as sent, in key order, with the server\'s position and quantities, and follows returns', async () => {
    const body = '{"customerSession":{"profileId":"customer-1","state":"closed","cartItems":['
      + '{"sku":"COLA","quantity":4,"price":2,"category":"Drinks","attributes":{"b":1,"a":[1,{"x":null}]},"2":"two","1":"one"},'
      + '{"position":7,"sku":"B","returnedQuantity":9,"quantity":1,"remainingQuantity":5,"price":1.5,"note":"é\\u2028"},'
      + '{"__proto__":{"polluted":true},"sku":"C","quantity":2}]}}';
    const r = await call(emu.url, 'PUT', '/v2/customer_sessions/E1', body);
    expect(r.status).toBe(200);
    const items = (JSON.parse(r.text) as J)['customerSession']['cartItems'] as J[];
    expect(JSON.stringify(items)).toBe('[{"1":"one","2":"two","sku":"COLA","quantity":4,"price":2,"category":"Drinks","attributes":{"b":1,"a":[1,{"x":null}]},"position":0,"returnedQuantity":0,"remainingQuantity":4},'
      + '{"sku":"B","quantity":1,"price":1.5,"note":"é\u2028","position":1,"returnedQuantity":0,"remainingQuantity":1},'
      + '{"sku":"C","quantity":2,"position":2,"returnedQuantity":0,"remainingQuantity":2}]');

    const before = emu.getSession('E1')!;
    const snapshot = JSON.stringify(before);
    ((before['customerSession'] as J)['cartItems'] as J[])[0]!['sku'] = 'MUTATED';
    const ret = await call(emu.url, 'POST', '/v2/customer_sessions/E1/returns', JSON.stringify({ return: { returnedCartItems: [{ position: 0, quantity: 3 }] } }));
    expect(ret.status).toBe(200);
    const g = JSON.parse((await call(emu.url, 'GET', '/v2/customer_sessions/E1')).text) as J;
    expect(g['customerSession']['cartItems'][0]).toMatchObject({ sku: 'COLA', position: 0, returnedQuantity: 3, remainingQuantity: 1 });
    // The admin copy is a snapshot: neither the return nor mutating it touched the other side.
    expect(JSON.stringify(before).replace('MUTATED', 'COLA')).toBe(snapshot);
    expect(emu.getSession('E1')!['customerSession']).toMatchObject({ state: 'partially_returned' });
  });
});

describe('idempotent answers', () => {
  it('replays the stored bytes (status, body, length) and moves timestamps with the clock', async () => {
    const body = JSON.stringify({ customerSession: { profileId: 'p-i', cartItems: [{ sku: 'A', quantity: 1, price: 60 }] }, responseContent: ['customerProfile'] });
    const a = await call(emu.url, 'PUT', '/v2/customer_sessions/I1', body, { 'idempotency-key': 'k-bytes' });
    clock += 1;
    const b = await call(emu.url, 'PUT', '/v2/customer_sessions/I1', '{}', { 'idempotency-key': 'k-bytes' });
    expect([b.status, b.text, b.headers.get('content-length')]).toEqual([a.status, a.text, a.headers.get('content-length')]);
    expect(b.headers.get('x-emulator-idempotent-replay')).toBe('true');
    const c = JSON.parse((await call(emu.url, 'PUT', '/v2/customer_sessions/I1', body)).text) as J;
    expect(c['customerSession']['updated']).toBe(new Date(clock).toISOString());
    clock -= 5;
    const d = JSON.parse((await call(emu.url, 'PUT', '/v2/customer_sessions/I1', body)).text) as J;
    expect(d['customerProfile']['lastActivity']).toBe(new Date(clock).toISOString());
  });

  it('keeps at most 50,000 keys: past the cap, the oldest tenth goes (expired ones counted in it)', () => {
    let now = 0;
    const st = new State(loadConfigFile(DEFAULT_CAMPAIGNS_FILE), () => now);
    st.remember('old', 200, 'x');
    now = 24 * 3600 * 1000;
    for (let i = 0; i < 50_000; i++) st.remember(`k${i}`, 200, `{"n":${i}}`);
    expect(st.idempotency.size).toBe(50_001 - 5_000);
    expect(st.replay('old')).toBeUndefined();
    expect(st.replay('k4998')).toBeUndefined();
    expect(st.replay('k4999')).toEqual({ status: 200, body: '{"n":4999}', at: now });
    st.remember('empty', 204, undefined);
    expect(st.replay('empty')).toEqual({ status: 204, body: undefined, at: now });
    now += 24 * 3600 * 1000;
    expect(st.replay('k4999')).toBeUndefined();
  });
});

describe('bundle', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'emu-bundle-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds one file that serves the default campaigns exactly as the source does', async () => {
    const file = buildEmulatorBundle(path.join(dir, 'talon-emulator.mjs'));
    expect(file).toBe(path.join(dir, 'talon-emulator.mjs'));
    const child = spawn(process.execPath, [file, '--port', '0', '--api-key', KEY, '--no-record'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`bundle exited with ${code}`)));
      });
      const url = (JSON.parse(line) as { url: string }).url;
      const inProcess = await startEmulator({ apiKey: KEY, port: 0 });
      try {
        const body = JSON.stringify({
          customerSession: { profileId: 'customer-1', couponCodes: ['SAVE5', 'NOPE'], cartItems: [{ sku: 'SKU-COFFEE', quantity: 2, price: 30.5 }, { sku: 'X', quantity: 1, price: 9.99, category: 'Drinks' }] },
          responseContent: ['customerSession', 'customerProfile', 'loyalty', 'coupons', 'triggeredCampaigns'],
        });
        const times = (s: string): string => s.replace(/"\d{4}-\d\d-\d\dT[\d:.]+Z"/g, '"T"');
        for (const [method, p, b] of [['PUT', '/v2/customer_sessions/B1', body], ['GET', '/v2/customer_sessions/B1', undefined], ['PUT', '/v2/customer_sessions/B1', '{"customerSession":']] as const) {
          const [x, y] = await Promise.all([call(url, method, p, b), call(inProcess.url, method, p, b)]);
          expect([x.status, times(x.text)]).toEqual([y.status, times(y.text)]);
        }
      } finally {
        await inProcess.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
  });
});
