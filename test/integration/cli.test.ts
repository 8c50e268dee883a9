/** The CLI as a technician runs it: a real process against a real running gateway. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { APP_DIR } from '../../src/config/load.js';
import { startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';

const run = promisify(execFile);
let gw: TestGateway;
let configFile: string;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', path.join(APP_DIR, 'src', 'main.ts'), ...args], { cwd: APP_DIR, env: { ...process.env, STOREGATE_CONFIG: '' } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  gw = await startGateway({ mode: 'offline', dataFiles: { rules: path.join(APP_DIR, 'config', 'sample-rules.json') } });
  // The CLI finds the daemon and its admin token through the same config file.
  const port = Number(new URL(gw.url).port);
  configFile = path.join(gw.dir, 'cli.json');
  const cfg = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(path.join(gw.dir, 'config.json'), 'utf8'))) as Record<string, unknown>;
  writeFileSync(configFile, JSON.stringify({ ...cfg, http: { host: '127.0.0.1', port } }));
  await fetch(`${gw.url}/v2/customer_sessions/CLI-1`, { method: 'PUT', headers: terminalHeaders(), body: JSON.stringify({ customerSession: { cartItems: [{ sku: 'A', quantity: 1, price: 3 }] } }) });
});

afterAll(async () => {
  await gw?.stop();
});

describe('storegate CLI', () => {
  it('version prints version, commit and Node.js version', async () => {
    const r = await cli(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^storegate \d+\.\d+\.\d+ \(commit \w+\) on Node\.js v\d+/);
  });

  it('keys terminal prints a token and a config line; keys signing an Ed25519 pair', async () => {
    const t = await cli(['keys', 'terminal', 'T7']);
    expect(t.stdout).toMatch(/"id":"T7","tokenSha256":"[0-9a-f]{64}"/);
    const keyFile = path.join(gw.dir, 'head-office.pem');
    const s = await cli(['keys', 'signing', '--out', keyFile]);
    expect(s.code).toBe(0);
    expect(s.stdout).toContain('BEGIN PUBLIC KEY');
    expect(s.stdout).not.toContain('PRIVATE KEY-----');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8')).toContain('BEGIN PRIVATE KEY');
    const again = await cli(['keys', 'signing', '--out', keyFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
  });

  it('journal stats, list and flush ask the running daemon', async () => {
    const stats = await cli(['journal', 'stats', '--config', configFile]);
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(/depth 1 undelivered/);
    const list = await cli(['journal', 'list', '--config', configFile]);
    expect(list.stdout).toMatch(/updateSession session:CLI-1/);
    const dead = await cli(['journal', 'dead', '--config', configFile]);
    expect(dead.stdout).toMatch(/no dead letters/);
    const flush = await cli(['journal', 'flush', '--config', configFile, '--json']);
    expect(flush.code).toBe(1); // nothing could be delivered
    expect(JSON.parse(flush.stdout)).toMatchObject({ ok: false, reason: expect.stringContaining('no upstream') });
    const words = await cli(['journal', 'flush', '--config', configFile]);
    expect(words.code).toBe(1);
    expect(words.stdout).toMatch(/^nothing flushed: no upstream configured/);
    await fetch(`${gw.url}/v2/customer_sessions/CLI-2`, { method: 'PUT', headers: terminalHeaders(), body: JSON.stringify({ customerSession: { cartItems: [] } }) });
    const limited = await cli(['journal', 'list', '--limit', '1', '--config', configFile]);
    expect(limited.stdout.trim().split('\n')).toHaveLength(1);
    const json = await cli(['journal', 'list', '--limit', '5', '--json', '--config', configFile]);
    expect((JSON.parse(json.stdout) as unknown[]).length).toBe(2);
    expect((await cli(['journal', 'list', '--limit', 'x', '--config', configFile])).code).toBe(2);
  });

  it('says what is wrong when the daemon is not there, or runs with another config', async () => {
    const cfg = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    const stopped = path.join(gw.dir, 'stopped.json');
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolve(port));
      });
    });
    writeFileSync(stopped, JSON.stringify({ ...cfg, http: { host: '127.0.0.1', port: closed } }));
    const r = await cli(['status', '--config', stopped]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^connection refused at http://127\\.0\\.0\\.1:${closed} — is storegate running\\?`));
    const other = path.join(gw.dir, 'other.json');
    writeFileSync(other, JSON.stringify({ ...cfg, adminToken: 'another-admin-token-0123456789' }));
    const o = await cli(['journal', 'stats', '--config', other]);
    expect(o.code).toBe(1);
    expect(o.stderr).toContain(`refused the adminToken of ${other}`);
    expect(o.stderr).not.toContain('another-admin-token');
  });

  it('doctor: one line per check, JSON with --json, exit 1 on a failure', async () => {
    const d = await cli(['doctor', '--config', configFile]);
    expect(d.code, d.stdout + d.stderr).toBe(0);
    const lines = d.stdout.trim().split('\n');
    for (const l of lines) expect(l).toMatch(/^(ok|warn|fail) +[a-z. ]+: /);
    expect(lines.find((l) => l.includes('daemon:'))).toMatch(/^ok +daemon: running and ready/);
    expect(lines.find((l) => l.includes('journal:'))).toMatch(/^ok +journal: \d+ undelivered/);
    const j = await cli(['doctor', '--json', '--config', configFile]);
    const doc = JSON.parse(j.stdout) as { ok: boolean; checks: { name: string; status: string; reason: string }[] };
    expect(doc.ok).toBe(true);
    expect(doc.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['config', 'data dir', 'disk space', 'daemon', 'talon.one', 'mqtt']));
    // Connected to a Talon.One that is not there, and a scanner that is not plugged in: fail lines, exit 1.
    const cfg = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    const broken = path.join(gw.dir, 'broken.json');
    writeFileSync(
      broken,
      JSON.stringify({ ...cfg, mode: 'connected', upstream: { baseUrl: 'http://127.0.0.1:1', apiKey: 'k-0123456789' }, serial: [{ id: 'till', path: path.join(gw.dir, 'no-such-tty'), role: 'terminal', terminalId: 'T1' }] }),
    );
    const b = await cli(['doctor', '--config', broken]);
    expect(b.code).toBe(1);
    expect(b.stdout).toMatch(/^fail +talon\.one: 127\.0\.0\.1:1 not reachable/m);
    expect(b.stdout).toMatch(/^fail +serial till: /m);
    expect(b.stdout).not.toContain('k-0123456789');
    const invalid = path.join(gw.dir, 'invalid.json');
    writeFileSync(invalid, '{"mode": "sometimes"}');
    const i = await cli(['doctor', '--config', invalid]);
    expect(i.code).toBe(1);
    expect(i.stdout).toMatch(/^fail +config: /);
  });

  it('status prints the daemon status in words', async () => {
    const r = await cli(['status', '--config', configFile]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/mode: offline/);
  });

  it('exits 2 with every problem listed for an invalid config, and 2 for an unknown command', async () => {
    const bad = path.join(gw.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ mode: 'never', http: { port: -1 } }));
    const r = await cli(['run', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('/mode');
    expect(r.stderr).toContain('/http/port');
    expect((await cli(['frobnicate'])).code).toBe(2);
  });
});
