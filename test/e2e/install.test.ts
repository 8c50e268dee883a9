/**
 * scripts/install.sh into a `--root` tree (no systemd needed): the files, their modes and owners (the tree's own
 * storegate user, when the test runs as root), a config the daemon accepts, an idempotent second run, refused
 * bad input that installs nothing, and uninstall (kept config and data; --purge). The unit passes
 * `systemd-analyze verify` and its exposure score stays "OK" where systemd-analyze is installed.
 */
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { APP_DIR, loadConfig } from '../../src/config/load.js';
import { ensureBinary } from '../helpers/binary.js';

const execFileP = promisify(execFile);
const INSTALL = path.join(APP_DIR, 'scripts', 'install.sh');
const asRoot = process.getuid?.() === 0;
let binary = '';

beforeAll(async () => {
  binary = await ensureBinary();
}, 300_000);

/** Runs the installer; `input` is what the technician types (one answer a line). */
function install(args: string[], input = ''): { code: number; out: string } {
  const r = spawnSync('bash', [INSTALL, '--binary', binary, ...args], { input, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

const stat = (p: string) => {
  const s = statSync(p);
  return { mode: (s.mode & 0o7777).toString(8), uid: s.uid, gid: s.gid };
};
const treeIds = (root: string) => {
  const line = readFileSync(path.join(root, 'etc', 'passwd'), 'utf8').split('\n').find((l) => l.startsWith('storegate:')) ?? '';
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
};

describe('install.sh --root', () => {
  it('installs binary, user, config (0640 root:storegate), API key (0600), unit, udev rule, modules; the config loads', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'sg-install-'));
    const r = install(['--root', root, '--store', 'store-042', '--upstream', 'https://acme.europe-west1.talon.one', '--terminal', 'T1'], 'the-integration-api-key\n');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/terminal T1 token: [A-Za-z0-9_-]{43} /);
    expect(r.out).not.toContain('the-integration-api-key');

    const bin = path.join(root, 'usr/local/bin/storegate');
    expect(readFileSync(bin).equals(readFileSync(binary))).toBe(true);
    expect(stat(bin).mode).toBe('755');
    for (const f of ['etc/systemd/system/storegate.service', 'etc/udev/rules.d/60-storegate-scanners.rules', 'etc/modules-load.d/storegate.conf', 'etc/storegate/schema.json']) {
      expect(stat(path.join(root, f)).mode, f).toBe('644');
    }
    expect(readFileSync(path.join(root, 'etc/systemd/system/storegate.service'), 'utf8')).toBe(readFileSync(path.join(APP_DIR, 'systemd/storegate.service'), 'utf8'));
    expect(stat(path.join(root, 'etc/storegate')).mode).toBe('750');
    expect(stat(path.join(root, 'etc/storegate/config.json')).mode).toBe('640');
    expect(stat(path.join(root, 'etc/storegate/api-key')).mode).toBe('600');
    expect(stat(path.join(root, 'var/lib/storegate')).mode).toBe('750');
    expect(readFileSync(path.join(root, 'etc/storegate/api-key'), 'utf8')).toBe('the-integration-api-key\n');
    if (asRoot) {
      const sg = treeIds(root);
      expect(sg.uid).toBeGreaterThan(0);
      expect(stat(path.join(root, 'etc/storegate'))).toMatchObject({ uid: 0, gid: sg.gid });
      expect(stat(path.join(root, 'etc/storegate/config.json'))).toMatchObject({ uid: 0, gid: sg.gid });
      expect(stat(path.join(root, 'etc/storegate/api-key'))).toMatchObject(sg);
      expect(stat(path.join(root, 'var/lib/storegate'))).toMatchObject(sg);
      expect(stat(bin)).toMatchObject({ uid: 0, gid: 0 });
    }
    // The daemon accepts it as written (the key file is found beside it), and it has what the technician gave.
    const { config, apiKey, warnings } = await loadConfig({ configPath: path.join(root, 'etc/storegate/config.json'), env: {} });
    expect(config).toMatchObject({ mode: 'connected', dataDir: '/var/lib/storegate', store: { integrationId: 'store-042' }, http: { host: '0.0.0.0', port: 8080 } });
    expect(config.upstream.baseUrl).toBe('https://acme.europe-west1.talon.one');
    expect(apiKey).toBe('the-integration-api-key');
    expect(warnings).toEqual([]);
    expect(config.terminals.map((t) => t.id)).toEqual(['T1']);
    expect(config.adminToken).toMatch(/^[0-9a-f]{48}$/);
  }, 60_000);

  it('a second run changes nothing it does not own: config, key and data kept, same files, one user', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'sg-install-'));
    expect(install(['--root', root, '--store', 'store-042', '--upstream', 'https://acme.europe-west1.talon.one'], 'key-1\n').code).toBe(0);
    const before = (f: string) => readFileSync(path.join(root, f), 'utf8');
    const config = before('etc/storegate/config.json');
    const passwd = before('etc/passwd');
    const second = install(['--root', root]); // nothing asked: everything is there
    expect(second.code, second.out).toBe(0);
    expect(second.out).toMatch(/kept the existing .*config\.json/);
    expect(before('etc/storegate/config.json')).toBe(config);
    expect(before('etc/storegate/api-key')).toBe('key-1\n');
    expect(before('etc/passwd')).toBe(passwd);
    expect(stat(path.join(root, 'etc/storegate/config.json')).mode).toBe('640');
    expect(readdirSync(path.join(root, 'usr/local/bin'))).toEqual(['storegate']);
    expect(readdirSync(path.join(root, 'etc/storegate')).sort()).toEqual(['api-key', 'config.json', 'schema.json']);
  }, 60_000);

  it.each([
    [['--store', 'store 042', '--upstream', 'https://x.talon.one'], 'k\n', /store id/],
    [['--store', 'store-042', '--upstream', 'ftp://x'], 'k\n', /upstream URL/],
    [['--store', 'store-042', '--upstream', 'https://x.talon.one'], '\n', /API key is empty/],
    [['--store', 'store-042', '--mode', 'sometimes'], '', /--mode must be/],
    [['--store', 'store-042', '--upstream', 'https://x.talon.one', '--terminal', 'T 1'], 'k\n', /terminal id/],
    [['--store', 'store-042', '--port', '70000'], '', /--port/],
  ])('refuses %j with a clear error and installs nothing', (args, input, why) => {
    const root = mkdtempSync(path.join(tmpdir(), 'sg-install-bad-'));
    const r = install(['--root', root, ...args], input);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(why);
    expect(readdirSync(root)).toEqual([]);
  });

  it('refuses a binary that does not match its .sha256', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-install-sum-'));
    const copy = path.join(dir, 'storegate-linux-x64');
    copyFileSync(binary, copy);
    writeFileSync(`${copy}.sha256`, `${'0'.repeat(64)}  storegate-linux-x64\n`);
    const root = mkdtempSync(path.join(tmpdir(), 'sg-install-bad-'));
    const r = spawnSync('bash', [INSTALL, '--binary', copy, '--root', root, '--store', 'store-042'], { input: '', encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/does not match/);
    expect(readdirSync(root)).toEqual([]);
  });

  it('--uninstall removes service, binary and rules and keeps config and data; --purge removes those and the user', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'sg-install-'));
    expect(install(['--root', root, '--store', 'store-042'], '').code).toBe(0);
    const r = spawnSync('bash', [INSTALL, '--uninstall', '--root', root], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['usr/local/bin/storegate', 'etc/systemd/system/storegate.service', 'etc/udev/rules.d/60-storegate-scanners.rules', 'etc/modules-load.d/storegate.conf']) {
      expect(existsSync(path.join(root, f)), f).toBe(false);
    }
    expect(existsSync(path.join(root, 'etc/storegate/config.json'))).toBe(true);
    expect(existsSync(path.join(root, 'var/lib/storegate'))).toBe(true);
    expect(spawnSync('bash', [INSTALL, '--uninstall', '--purge', '--root', root]).status).toBe(0);
    expect(existsSync(path.join(root, 'etc/storegate'))).toBe(false);
    expect(existsSync(path.join(root, 'var/lib/storegate'))).toBe(false);
    if (asRoot) expect(readFileSync(path.join(root, 'etc/passwd'), 'utf8')).not.toMatch(/^storegate:/m);
  }, 60_000);
});

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

describe('systemd/storegate.service', () => {
  it.skipIf(!hasAnalyze)('passes systemd-analyze verify as installed (skipped where systemd-analyze is missing)', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'sg-unit-'));
    expect(install(['--root', root, '--store', 'store-042'], '').code).toBe(0);
    // verify insists that ExecStart's program exists: point it at the tree's binary, nothing else changed.
    const unit = readFileSync(path.join(root, 'etc/systemd/system/storegate.service'), 'utf8').replaceAll('/usr/local/bin/storegate', path.join(root, 'usr/local/bin/storegate'));
    const file = path.join(root, 'storegate.service');
    writeFileSync(file, unit);
    const r = await execFileP('systemd-analyze', ['verify', file]).then((x) => ({ code: 0, out: `${x.stdout}${x.stderr}` }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: `${e.stdout}${e.stderr}` }));
    expect(r.out.trim()).toBe('');
    expect(r.code).toBe(0);
  });

  it.skipIf(!hasAnalyze)('has an exposure score of "OK" or better in systemd-analyze security', async () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', path.join(APP_DIR, 'systemd/storegate.service')], { encoding: 'utf8' });
    const m = /Overall exposure level for storegate\.service: ([\d.]+) (\w+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m?.[1])).toBeLessThanOrEqual(2.0);
    expect(['OK', 'SAFE', 'PERFECT']).toContain(m?.[2]);
  });
});
