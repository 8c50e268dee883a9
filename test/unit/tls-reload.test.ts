/**
 * The certificate reloader (src/tls/reload.ts) and the file checks it relies on (src/tls/files.ts), on real files:
 * an identical rewrite changes nothing, a half-replaced pair settles before it is called invalid (and is then logged
 * once), a fitting pair is applied, an expired replacement or a vanished file keeps the loaded certificate.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/telemetry/logger.js';
import { checkTlsMaterial, loadTlsFiles, type TlsMaterial } from '../../src/tls/files.js';
import { CertificateReloader } from '../../src/tls/reload.js';
import type { StoreCa } from '../../src/tls/issue.js';
import { expired, serverCert, storeCa } from '../helpers/tls.js';
import { until } from '../helpers/until.js';

let ca: StoreCa;
let reloader: CertificateReloader | null = null;

beforeAll(async () => {
  ca = await storeCa();
});

afterEach(() => reloader?.stop());

/** A directory with a server pair written the way `keys tls` does (temp file, rename), and a reloader on it. */
async function setup(intervalMs = 60_000) {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-reload-'));
  const paths = { certFile: path.join(dir, 'server.pem'), keyFile: path.join(dir, 'server.key'), caFile: null };
  const put = (file: string, text: string) => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  const first = await serverCert(ca);
  put(paths.keyFile, first.keyPem);
  put(paths.certFile, first.certPem + ca.certPem);
  const loaded = await loadTlsFiles(paths, Date.now());
  const applied: TlsMaterial[] = [];
  const lines: string[] = [];
  const log = createLogger('info', new Writable({ write: (c: Buffer, _e, cb) => (lines.push(...c.toString().split('\n').filter(Boolean)), cb()) }));
  reloader = new CertificateReloader({
    paths,
    current: { material: loaded.material as TlsMaterial, info: loaded.info as NonNullable<typeof loaded.info> },
    apply: (m) => applied.push(m),
    intervalMs,
    log,
    now: () => Date.now(),
  });
  return { dir, paths, put, first, applied, lines, r: reloader };
}

describe('certificate reloader', () => {
  it('does nothing when the files are rewritten with the same content', async () => {
    const s = await setup();
    s.put(s.paths.certFile, s.first.certPem + ca.certPem);
    expect(await s.r.check()).toBe('unchanged');
    expect(s.applied).toHaveLength(0);
  });

  it('waits for a half-replaced pair, then applies it once the certificate follows its key', async () => {
    const s = await setup();
    const next = await serverCert(ca);
    s.put(s.paths.keyFile, next.keyPem);
    expect(await s.r.check()).toBe('settling'); // key of the new pair beside the old certificate
    expect(s.lines.filter((l) => l.includes('refused'))).toEqual([]);
    s.put(s.paths.certFile, next.certPem + ca.certPem);
    expect(await s.r.check()).toBe('reloaded');
    expect(s.applied).toHaveLength(1);
    expect(s.r.info.sha256).toBe(next.sha256);
    expect(s.r.status()).toMatchObject({ reloads: 1, lastError: null });
  });

  it('calls a pair that stays wrong invalid after the settling time, logs it once, keeps the loaded one', async () => {
    const s = await setup();
    s.put(s.paths.keyFile, (await serverCert(ca)).keyPem);
    expect(await s.r.check()).toBe('settling');
    await until(() => s.r.status().lastError !== null, 5000); // the settle timer looks again by itself
    expect(s.r.status().lastError?.reason).toMatch(/not the private key of certFile/);
    expect(await s.r.check()).toBe('refused');
    expect(s.lines.filter((l) => l.includes('new TLS files refused'))).toHaveLength(1);
    expect(s.applied).toHaveLength(0);
    expect(s.r.info.sha256).toBe(s.first.sha256);
  });

  it('refuses an expired replacement while the loaded certificate is valid, and a vanished file', async () => {
    const s = await setup();
    const old = await serverCert(ca, expired());
    s.put(s.paths.keyFile, old.keyPem);
    s.put(s.paths.certFile, old.certPem + ca.certPem);
    await s.r.check();
    await until(async () => (await s.r.check()) === 'refused', 5000);
    expect(s.r.status().lastError?.reason).toMatch(/valid only from/);
    rmSync(s.paths.certFile);
    await until(async () => (await s.r.check()) === 'refused' && /does not exist/.test(s.r.status().lastError?.reason ?? ''), 5000);
    expect(s.applied).toHaveLength(0);
  });

  it('notices a replacement by itself (file event or periodic look)', async () => {
    const s = await setup(200);
    s.r.start();
    const next = await serverCert(ca);
    s.put(s.paths.keyFile, next.keyPem);
    s.put(s.paths.certFile, next.certPem + ca.certPem);
    await until(() => s.applied.length === 1, 5000);
    expect(s.lines.some((l) => l.includes('TLS certificate reloaded') && l.includes(next.sha256))).toBe(true);
  });
});

describe('TLS file checks', () => {
  it('refuses an encrypted key, a CA file holding a leaf, garbage; warns about an expiring certificate', async () => {
    const leaf = await serverCert(ca);
    const m = (o: Partial<TlsMaterial>): TlsMaterial => ({ cert: leaf.certPem, key: leaf.keyPem, ca: null, digest: 'x', ...o });
    expect(checkTlsMaterial(m({}), Date.now()).errors).toEqual([]);
    expect(checkTlsMaterial(m({ key: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n' }), Date.now()).errors[0]?.message).toMatch(/encrypted private key/);
    expect(checkTlsMaterial(m({ ca: leaf.certPem }), Date.now()).errors[0]).toMatchObject({ path: '/http/tls/caFile', message: expect.stringMatching(/not a CA certificate/) });
    expect(checkTlsMaterial(m({ cert: 'hello' }), Date.now()).errors[0]).toMatchObject({ path: '/http/tls/certFile', message: expect.stringMatching(/no PEM certificate/) });
    const soon = await serverCert(ca, { notBefore: new Date(Date.now() - 3600_000), notAfter: new Date(Date.now() + 5 * 86_400_000) });
    expect(checkTlsMaterial(m({ cert: soon.certPem, key: soon.keyPem }), Date.now()).warnings[0]).toMatch(/expires on .* \(in 5 days\)/);
    // Messages never carry key bytes.
    const bad = checkTlsMaterial(m({ key: leaf.keyPem.replace('PRIVATE KEY-----\n', 'PRIVATE KEY-----\n!!') }), Date.now());
    expect(JSON.stringify(bad)).not.toContain(leaf.keyPem.split('\n')[1]?.slice(0, 20));
  });
});
