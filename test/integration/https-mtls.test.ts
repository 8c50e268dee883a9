/**
 * Mutual TLS for terminals (issue 13): with `http.tls.caFile` a terminal may prove itself with a client certificate
 * (its SHA-256 is its `certSha256`) instead of, or beside, its token; with both they must name the same terminal.
 * With `requireClientCert` a handshake without a trusted client certificate is refused, and the CLI on the mini-PC
 * still reaches the daemon (it presents the daemon's own certificate). Real gateways over real HTTPS on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { APP_DIR } from '../../src/config/load.js';
import { sha256Hex } from '../../src/http/auth.js';
import type { Issued, StoreCa } from '../../src/tls/issue.js';
import { ADMIN_TOKEN, TERMINAL_TOKENS, startGateway, type TestGateway } from '../helpers/gateway.js';
import { clientCert, expired, httpsRequest, serverCert, storeCa, writePair } from '../helpers/tls.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'sg-mtls-'));
let ca: StoreCa;
let certs: Record<'T1' | 'T3' | 'T9' | 'foreign' | 'expiredT3', Issued>;
let optional: TestGateway;
let required: TestGateway;

const cart = { customerSession: { cartItems: [{ sku: 'SKU-1', name: 'Pan', quantity: 1, price: 10 }] } };
const token = (id: keyof typeof TERMINAL_TOKENS) => ({ authorization: `ApiKey-v1 ${TERMINAL_TOKENS[id]}` });
/** Colons and upper case, as `openssl x509 -fingerprint -sha256` prints it: the config takes that form too. */
const opensslStyle = (hex: string) => hex.toUpperCase().match(/../g)?.join(':') ?? hex;

function put(gw: TestGateway, id: string, o: { as?: Issued; headers?: Record<string, string> } = {}) {
  return httpsRequest(`${gw.url}/v2/customer_sessions/${id}`, {
    method: 'PUT',
    ca: ca.certPem,
    headers: o.headers ?? {},
    body: cart,
    ...(o.as ? { cert: o.as.certPem, key: o.as.keyPem } : {}),
  });
}

/** The terminal the gateway logged for a session (its per-request line, written once the answer is sent). */
async function loggedTerminal(gw: TestGateway, session: string): Promise<string | undefined> {
  const find = () => gw.logs.map((l) => JSON.parse(l) as { msg: string; session?: string; terminal?: string }).find((l) => l.msg === 'terminal request' && l.session === session);
  await until(() => find() !== undefined, 5000);
  return find()?.terminal;
}

beforeAll(async () => {
  ca = await storeCa();
  const other = await storeCa('a CA no terminal should be trusted by');
  certs = {
    T1: await clientCert(ca, 'T1'),
    T3: await clientCert(ca, 'T3'),
    T9: await clientCert(ca, 'T9'),
    foreign: await clientCert(other, 'T3'),
    expiredT3: await clientCert(ca, 'T3', expired()),
  };
  const server = writePair(dir, 'server', await serverCert(ca), ca);
  writeFileSync(path.join(dir, 'store-ca.pem'), ca.certPem);
  const terminals = [
    { id: 'T1', tokenSha256: sha256Hex(TERMINAL_TOKENS.T1), certSha256: certs.T1.sha256 },
    { id: 'T2', tokenSha256: sha256Hex(TERMINAL_TOKENS.T2) },
    { id: 'T3', certSha256: opensslStyle(certs.T3.sha256) },
    // Pinned, but not trusted: signed by another CA, and expired. A fingerprint alone proves nothing.
    { id: 'T4', certSha256: certs.foreign.sha256 },
    { id: 'T5', certSha256: certs.expiredT3.sha256 },
  ];
  const tls = { certFile: server.cert, keyFile: server.key, caFile: path.join(dir, 'store-ca.pem') };
  optional = await startGateway({ mode: 'offline', terminals, http: { host: '127.0.0.1', port: 0, tls } }, { dir: mkdtempSync(path.join(dir, 'optional-')) });
  required = await startGateway({ mode: 'offline', terminals, http: { host: '127.0.0.1', port: 0, tls: { ...tls, requireClientCert: true } } }, { dir: mkdtempSync(path.join(dir, 'required-')) });
});

afterAll(async () => {
  await optional?.stop();
  await required?.stop();
});

describe('client certificates, optional (http.tls.caFile)', () => {
  it('a terminal with its certificate and no token is that terminal', async () => {
    const r = await put(optional, 'mtls-cert-only', { as: certs.T3 });
    expect(r.status).toBe(200);
    expect(await loggedTerminal(optional, 'mtls-cert-only')).toBe('T3');
  });

  it('a token alone still works, and certificate plus token of the same terminal too', async () => {
    expect((await put(optional, 'mtls-token-only', { headers: token('T2') })).status).toBe(200);
    const both = await put(optional, 'mtls-both', { as: certs.T1, headers: token('T1') });
    expect(both.status).toBe(200);
    expect(await loggedTerminal(optional, 'mtls-both')).toBe('T1');
  });

  it('a certificate and a token naming different terminals are refused', async () => {
    const r = await put(optional, 'mtls-mixed', { as: certs.T1, headers: token('T2') });
    expect(r.status).toBe(401);
    expect(r.json().errors[0]).toMatchObject({ title: 'SG_ERR_UNAUTHORIZED', details: expect.stringMatching(/name different terminals/) });
    const wrong = await put(optional, 'mtls-wrong-token', { as: certs.T1, headers: { authorization: 'ApiKey-v1 not-a-configured-token' } });
    expect(wrong.status).toBe(401);
    expect(wrong.json().errors[0].details).toMatch(/not one configured/);
  });

  it('a certificate that does not verify proves nothing, even one a terminal pins: refused without a token (with OpenSSL\'s reason), the token decides with one', async () => {
    for (const [as, reason] of [[certs.foreign, /UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE/], [certs.expiredT3, /CERT_HAS_EXPIRED/]] as const) {
      const r = await put(optional, 'mtls-untrusted', { as });
      expect(r.status).toBe(401);
      expect(r.json().errors[0].details).toMatch(reason);
      expect((await put(optional, 'mtls-untrusted-token', { as, headers: token('T2') })).status).toBe(200);
    }
  });

  it('a trusted certificate that is no terminal\'s is refused without a token, and names its SHA-256', async () => {
    const r = await put(optional, 'mtls-unknown', { as: certs.T9 });
    expect(r.status).toBe(401);
    expect(r.json().errors[0].details).toContain(certs.T9.sha256);
  });

  it('opens a terminal\'s own scan stream by certificate, not another\'s', async () => {
    const status = (terminal: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${optional.url}/v1/terminals/${terminal}/scans`, { ca: ca.certPem, cert: certs.T3.certPem, key: certs.T3.keyPem, agent: false }, (res) => {
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        req.on('error', reject);
        req.end();
      });
    expect(await status('T3')).toBe(200);
    expect(await status('T1')).toBe(403);
  });

  it('reports the mode in /status', async () => {
    const s = await httpsRequest(`${optional.url}/status`, { ca: ca.certPem, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(s.json().tls).toMatchObject({ enabled: true, clientCertificates: 'optional' });
  });
});

describe('client certificates required (http.tls.requireClientCert)', () => {
  it('refuses a handshake without a trusted, valid client certificate', async () => {
    await expect(put(required, 'req-none', { headers: token('T1') })).rejects.toThrow(/certificate required|ECONNRESET|socket hang up/i);
    await expect(put(required, 'req-foreign', { as: certs.foreign })).rejects.toThrow(/unknown ca|ECONNRESET|socket hang up/i);
    await expect(put(required, 'req-expired', { as: certs.expiredT3 })).rejects.toThrow(/certificate expired|ECONNRESET|socket hang up/i);
    expect(required.gateway.https?.status().handshakeFailures).toBeGreaterThanOrEqual(3);
    expect(required.gateway.journal?.stats().depth).toBe(0);
  });

  it('serves a terminal with its certificate', async () => {
    expect((await put(required, 'req-ok', { as: certs.T3 })).status).toBe(200);
    expect((await put(required, 'req-ok-token', { as: certs.T1, headers: token('T1') })).status).toBe(200);
  });

  it('lets storegate status on the mini-PC through (it presents the daemon\'s own certificate)', async () => {
    const file = path.join(required.dir, 'config.json');
    const cfg = JSON.parse(readFileSync(file, 'utf8')) as { http: Record<string, unknown> };
    const cli = path.join(required.dir, 'cli.json');
    writeFileSync(cli, JSON.stringify({ ...cfg, http: { ...cfg.http, port: Number(new URL(required.url).port) } }));
    const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(APP_DIR, 'src', 'main.ts'), 'status', '--json', '--config', cli], { cwd: APP_DIR, env: { ...process.env, STOREGATE_CONFIG: '' } });
    expect(JSON.parse(stdout).tls).toMatchObject({ clientCertificates: 'required' });
  });
});
