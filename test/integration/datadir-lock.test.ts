/**
 * One daemon per data dir: a second one refuses to start (exit 1, `SG_ERR_DATADIR_LOCKED`, the holder's pid)
 * before touching anything, the first keeps working, and a `kill -9` of the holder leaves no stale lock.
 * A start that fails midway releases what it opened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { sha256Hex } from '../../src/http/auth.js';
import { buildBundle, freePort, spawnGateway, waitReady } from '../helpers/procs.js';
import { startGateway, terminalHeaders } from '../helpers/gateway.js';

const TOKEN = 'lock-terminal-token-0123456789';
let dir: string;
let bundle: string;
const children: ChildProcess[] = [];

function config(port: number): string {
  const file = path.join(dir, `config-${port}.json`);
  writeFileSync(file, JSON.stringify({ mode: 'offline', dataDir: path.join(dir, 'var'), http: { host: '127.0.0.1', port }, terminals: [{ id: 'T1', tokenSha256: sha256Hex(TOKEN) }], log: { level: 'warn' } }));
  return file;
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

const journalBytes = () => readdirSync(path.join(dir, 'var', 'journal')).map((f) => `${f}:${statSync(path.join(dir, 'var', 'journal', f)).size}`).join(',');

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sg-lock-'));
  bundle = buildBundle(path.join(dir, 'storegate.mjs'));
});

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('data dir lock', () => {
  it('refuses a second daemon naming the holder, leaves the journal alone, and no stale lock survives kill -9', async () => {
    const p1 = await freePort();
    const first = spawnGateway(bundle, config(p1));
    children.push(first);
    await waitReady(first, p1);
    const put = (port: number, id: string) =>
      fetch(`http://127.0.0.1:${port}/v2/customer_sessions/${id}`, { method: 'PUT', headers: { ...terminalHeaders(), authorization: `ApiKey-v1 ${TOKEN}` }, body: '{"customerSession":{"cartItems":[{"sku":"A","quantity":1,"price":2}]}}' });
    expect((await put(p1, 'L-1')).status).toBe(200);
    const before = journalBytes();

    const p2 = await freePort();
    const second = spawnGateway(bundle, config(p2));
    children.push(second);
    const out = await exitOf(second);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(new RegExp(`^SG_ERR_DATADIR_LOCKED: .*pid ${first.pid}`, 'm'));
    expect(out.stderr).not.toMatch(/\n\s+at /); // one line, no stack trace
    expect(journalBytes()).toBe(before);
    expect((await put(p1, 'L-2')).status).toBe(200);

    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const third = spawnGateway(bundle, config(p2));
    children.push(third);
    await waitReady(third, p2);
    expect((await put(p2, 'L-3')).status).toBe(200);
    third.kill('SIGTERM');
    await new Promise((r) => third.once('exit', r));
  });

  it('a start that fails (port taken) releases the lock and everything it opened', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => taken.once('listening', r));
    const port = (taken.address() as { port: number }).port;
    const gwDir = mkdtempSync(path.join(tmpdir(), 'sg-lock-fail-'));
    await expect(startGateway({ http: { host: '127.0.0.1', port } }, { dir: gwDir })).rejects.toThrow(/already in use by another process/);
    taken.close();
    // Same data dir again: not locked, and the journal opens.
    const gw = await startGateway({}, { dir: gwDir });
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
    await gw.stop();
  });
});
