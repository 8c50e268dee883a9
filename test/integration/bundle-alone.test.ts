/**
 * The bundle on its own (issue 12): `storegate.mjs run` copied alone to another folder, with no config, runs on
 * its embedded defaults — no sample data it does not carry, data in systemd's state dir — and writes nothing
 * beside itself or in its working directory. (The single binary: test/e2e/binary.test.ts.)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildBundle, freePort } from '../helpers/procs.js';

const ADMIN = 'admin-token-bundle-alone-0123456789';

describe('the bundle copied alone', () => {
  it.skipIf(existsSync('/etc/storegate/config.json'))('runs on the embedded defaults, data only in $STATE_DIRECTORY, nothing in its folder or working dir', async () => {
    const alone = mkdtempSync(path.join(tmpdir(), 'sg-alone-bin-'));
    const cwd = mkdtempSync(path.join(tmpdir(), 'sg-alone-cwd-'));
    const state = mkdtempSync(path.join(tmpdir(), 'sg-alone-state-'));
    const bundle = buildBundle(path.join(alone, 'storegate.mjs'));
    const port = await freePort();
    const { STOREGATE_APP_DIR: _a, STOREGATE_CONFIG: _c, STOREGATE_DATA_DIR: _d, ...env } = process.env;
    const child = spawn(process.execPath, [bundle, 'run'], {
      cwd,
      env: { ...env, STATE_DIRECTORY: state, STOREGATE_HTTP_PORT: String(port), STOREGATE_ADMIN_TOKEN: ADMIN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    for (const s of [child.stdout, child.stderr]) s?.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const end = Date.now() + 20_000;
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
        if (ok) break;
        if (child.exitCode !== null || Date.now() > end) throw new Error(`not ready:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const status = (await (await fetch(`http://127.0.0.1:${port}/status`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
        mode: string;
        cache: { campaigns: unknown[]; rulesVersion: unknown };
      };
      expect(status.mode).toBe('offline');
      // No sample data: the defaults name no file the bundle does not carry.
      expect(status.cache.campaigns).toEqual([]);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    expect(child.exitCode).toBe(0);
    // Log lines are written in batches: read them once the process is gone.
    expect(out).toMatch(/"config":"built-in defaults"/);
    expect(out).toContain(`"url":"http://127.0.0.1:${port}"`);
    expect(out).not.toMatch(/sample-|ENOENT/);
    expect(readdirSync(cwd)).toEqual([]);
    expect(readdirSync(alone).sort()).toEqual(['storegate.mjs', 'storegate.mjs.map']);
    expect(readdirSync(state).sort()).toEqual(expect.arrayContaining(['journal', 'state']));
  }, 60_000);
});
