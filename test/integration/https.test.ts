/**
 * HTTPS for terminals (issue 13): the official Talon.One SDK over HTTPS trusting the store CA that `storegate keys
 * tls` made (a real CLI process); a client trusting another CA, and an expired server certificate, refused; the
 * certificate rotated by running `keys tls` again while the gateway runs (open keep-alive connections keep
 * working, new handshakes get the new certificate; broken new files are refused and the old ones kept); plain
 * HTTP refused except /healthz and /readyz on the loopback port; the CLI (status, doctor) reaching the HTTPS
 * daemon; MQTT RPC unchanged; no key material in logs or /status. Mutual TLS: test/integration/https-mtls.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { Agent } from 'node:https';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { APP_DIR, loadConfig } from '../../src/config/load.js';
import { issueServerCertificate, loadStoreCa } from '../../src/tls/issue.js';
import { ADMIN_TOKEN, STORE_ID, TERMINAL_TOKENS, startGateway, type TestGateway } from '../helpers/gateway.js';
import { sdkClient, type SdkClient } from '../helpers/sdk.js';
import { expired, httpsRequest, serverCert, storeCa, validFor, writePair } from '../helpers/tls.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'sg-https-'));
const tlsDir = path.join(dir, 'tls');
let gw: TestGateway;
let caPem: string;
let broker: Mosquitto;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', path.join(APP_DIR, 'src', 'main.ts'), ...args], { cwd: APP_DIR, env: { ...process.env, STOREGATE_CONFIG: '' } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const cart = { customerSession: { profileId: 'cust-001', cartItems: [{ sku: 'SKU-1', name: 'Pan', quantity: 2, price: 30, category: 'Kitchen' }] }, responseContent: ['customerSession'] };
const t1 = { authorization: `ApiKey-v1 ${TERMINAL_TOKENS.T1}` };

beforeAll(async () => {
  // What a technician runs: the store CA and the server certificate, made by the real command.
  const made = await cli(['keys', 'tls', '--names', 'storegate.local,192.168.1.10,127.0.0.1', '--out', tlsDir, '--days', '30']);
  expect(made.code, made.stderr).toBe(0);
  caPem = readFileSync(path.join(tlsDir, 'store-ca.pem'), 'utf8');
  broker = await new Mosquitto().start();
  gw = await startGateway({
    mode: 'offline',
    http: { host: '127.0.0.1', port: 0, plainPort: 0, tls: { certFile: 'tls/server.pem', keyFile: 'tls/server.key', checkIntervalSec: 1 } },
    dataFiles: { rules: path.join(APP_DIR, 'config', 'sample-rules.json') },
    mqtt: { url: broker.url, reconnect: { minMs: 20, spreadMs: 100, maxMs: 300 } },
  }, { dir });
});

afterAll(async () => {
  await gw?.stop();
  await broker?.stop();
});

describe('storegate keys tls', () => {
  it('writes a private store CA, a server certificate for the names, and says what to install where', async () => {
    expect(statSync(path.join(tlsDir, 'store-ca.key')).mode & 0o777).toBe(0o600);
    expect([0o600, 0o640]).toContain(statSync(path.join(tlsDir, 'server.key')).mode & 0o777); // 0640 only as root where group storegate exists
    expect(statSync(path.join(tlsDir, 'store-ca.pem')).mode & 0o777).toBe(0o644);
    const server = readFileSync(path.join(tlsDir, 'server.pem'), 'utf8');
    expect(server.match(/BEGIN CERTIFICATE/g)).toHaveLength(2); // leaf, then the CA
    const again = await cli(['keys', 'tls', '--names', 'storegate.local', '--out', tlsDir, '--json']);
    const doc = JSON.parse(again.stdout) as { ca: { new: boolean }; server: { names: string[] }; config: { http: { tls: { certFile: string } } } };
    expect(doc.ca.new).toBe(false); // the CA is reused: terminals keep what they installed
    expect(doc.server.names).toEqual(['storegate.local', 'localhost', '127.0.0.1', '::1']);
    expect(doc.config.http.tls.certFile).toBe(path.join(tlsDir, 'server.pem'));
    expect(again.stdout).not.toContain('PRIVATE KEY');
    const bad = await cli(['keys', 'tls', '--names', 'http://shop:8080', '--out', tlsDir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/neither a DNS name nor an IP address/);
    expect((await cli(['keys', 'tls', '--out', tlsDir])).code).toBe(2);
    expect((await cli(['keys', 'tls', '--names', 'a.local', '--days', '0', '--out', tlsDir])).code).toBe(2);
  });
});

describe('HTTPS for terminals', () => {
  it('serves the official Talon.One SDK over HTTPS when it trusts the store CA', async () => {
    expect(gw.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const { client, api } = sdkClient(gw.url, TERMINAL_TOKENS.T1);
    (client as SdkClient & { requestAgent: Agent }).requestAgent = new Agent({ ca: caPem, keepAlive: true });
    const r = await api.updateCustomerSessionV2('https-1', cart);
    expect(r.customerSession).toMatchObject({ integrationId: 'https-1', state: 'open' });
    expect(r.effects.length).toBeGreaterThan(0);
  });

  it('is refused by a client that trusts another CA (or only the public ones)', async () => {
    const other = await storeCa('another store CA');
    const { client, api } = sdkClient(gw.url, TERMINAL_TOKENS.T1);
    (client as SdkClient & { requestAgent: Agent }).requestAgent = new Agent({ ca: other.certPem });
    await expect(api.updateCustomerSessionV2('https-2', cart)).rejects.toMatchObject({ error: { code: expect.stringMatching(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN/) } });
    await expect(fetch(`${gw.url}/healthz`)).rejects.toThrow(); // Node's own trust store: no
  });

  it('refuses plain HTTP on its port with an answer naming HTTPS, /healthz included', async () => {
    const port = new URL(gw.url).port;
    for (const [method, p] of [['PUT', '/v2/customer_sessions/plain-1'], ['GET', '/healthz']] as const) {
      const res = await fetch(`http://127.0.0.1:${port}${p}`, { method, headers: { ...t1, 'content-type': 'application/json' }, ...(method === 'PUT' ? { body: JSON.stringify(cart) } : {}) });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { errors: { title: string; details: string }[] };
      expect(body.errors[0]?.title).toBe('SG_ERR_TLS_REQUIRED');
      expect(body.errors[0]?.details).toMatch(/https:\/\//);
    }
    // Nothing was journaled for the refused update.
    const list = await httpsRequest(`${gw.url}/admin/journal/list`, { ca: caPem, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(list.body).not.toContain('plain-1');
  });

  it('answers /healthz and /readyz in plain HTTP on the loopback port, and nothing else there', async () => {
    const health = gw.gateway.https?.healthUrl as string;
    expect(health).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(`${health}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${health}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true });
    for (const [method, p, headers] of [['GET', '/status', { authorization: `Bearer ${ADMIN_TOKEN}` }], ['PUT', '/v2/customer_sessions/plain-2', t1]] as const) {
      const res = await fetch(`${health}${p}`, { method, headers: { ...headers, 'content-type': 'application/json' }, ...(method === 'PUT' ? { body: JSON.stringify(cart) } : {}) });
      expect(res.status).toBe(403);
      const body = (await res.json()) as { errors: { title: string; details: string }[] };
      expect(body.errors[0]).toMatchObject({ title: 'SG_ERR_TLS_REQUIRED', details: expect.stringContaining(gw.url) });
    }
  });

  it('picks up a rotated certificate without a restart: open connections go on, new handshakes get the new one', async () => {
    const agent = new Agent({ ca: caPem, keepAlive: true, maxSockets: 1 });
    const before = await httpsRequest(`${gw.url}/healthz`, { agent });
    const reloads = gw.gateway.https?.status().reloads ?? 0;
    // The technician renews: the same command again (the store CA is reused), while the daemon runs.
    const renewed = await cli(['keys', 'tls', '--names', 'storegate.local,127.0.0.1', '--out', tlsDir, '--json']);
    const fresh = (JSON.parse(renewed.stdout) as { server: { sha256: string } }).server.sha256;
    expect(fresh).not.toBe(before.serverSha256);
    await until(() => (gw.gateway.https?.status().reloads ?? 0) > reloads, 10_000);
    const sameConnection = await httpsRequest(`${gw.url}/healthz`, { agent });
    expect(sameConnection.reused).toBe(true);
    expect(sameConnection.serverSha256).toBe(before.serverSha256);
    const newConnection = await httpsRequest(`${gw.url}/v2/customer_sessions/https-3`, { method: 'PUT', ca: caPem, headers: t1, body: cart });
    expect(newConnection.status).toBe(200);
    expect(newConnection.serverSha256).toBe(fresh);
    expect(gw.logs.some((l) => l.includes('TLS certificate reloaded'))).toBe(true);
    agent.destroy();
  });

  it('refuses new files that do not fit (a key of another pair) and keeps serving the loaded certificate', async () => {
    const current = gw.gateway.https?.status().certificate.sha256;
    const ca = await loadStoreCa(caPem, readFileSync(path.join(tlsDir, 'store-ca.key'), 'utf8'));
    const stray = await serverCert(ca);
    writeFileSync(path.join(tlsDir, 'server.key.new'), stray.keyPem, { mode: 0o600 });
    renameSync(path.join(tlsDir, 'server.key.new'), path.join(tlsDir, 'server.key'));
    await until(() => gw.gateway.https?.status().lastError !== null, 10_000);
    expect(gw.gateway.https?.status().lastError?.reason).toMatch(/not the private key of certFile/);
    expect(gw.logs.some((l) => l.includes('new TLS files refused'))).toBe(true);
    const still = await httpsRequest(`${gw.url}/healthz`, { ca: caPem });
    expect(still.status).toBe(200);
    expect(still.serverSha256).toBe(current);
    // Its certificate arrives: the pair fits again and is loaded.
    writeFileSync(path.join(tlsDir, 'server.pem.new'), stray.certPem + ca.certPem);
    renameSync(path.join(tlsDir, 'server.pem.new'), path.join(tlsDir, 'server.pem'));
    await until(async () => (await httpsRequest(`${gw.url}/healthz`, { ca: caPem })).serverSha256 === stray.sha256, 10_000);
    expect(gw.gateway.https?.status().lastError).toBeNull();
  });

  it('keeps MQTT RPC (token in the request) working beside HTTPS', async () => {
    const pos = await TestClient.connect(broker.url, 'pos-https');
    try {
      await pos.subscribe('pos/https/replies');
      const corr = Buffer.from('https-rpc-1');
      await pos.publish(`storegate/${STORE_ID}/rpc/updateCustomerSession`, JSON.stringify({ terminalToken: TERMINAL_TOKENS.T2, customerSessionId: 'https-rpc', body: cart }), { responseTopic: 'pos/https/replies', correlationData: corr });
      const r = await pos.next('pos/https/replies', (m) => m.correlationData?.equals(corr) === true);
      expect(r.json<{ status: number }>().status).toBe(200);
    } finally {
      await pos.close();
    }
  });

  it('storegate status and doctor reach the HTTPS daemon through the config', async () => {
    const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as { http: Record<string, unknown> };
    const file = path.join(dir, 'cli.json');
    writeFileSync(file, JSON.stringify({ ...cfg, http: { ...cfg.http, port: Number(new URL(gw.url).port) }, mqtt: {} }));
    const s = await cli(['status', '--config', file, '--json']);
    expect(s.code, s.stderr).toBe(0);
    const doc = JSON.parse(s.stdout) as { tls: { enabled: boolean; certificate: { sha256: string } } };
    expect(doc.tls).toMatchObject({ enabled: true, clientCertificates: 'off' });
    const d = await cli(['doctor', '--config', file]);
    expect(d.stdout).toMatch(/^ok +https: valid until \d{4}-\d\d-\d\d/m);
    expect(d.stdout).toMatch(/^ok +daemon: running and ready at https:\/\/127\.0\.0\.1:/m);
    expect(d.stdout).toMatch(/^ok +journal: /m);
  });

  it('never shows key material: not in /status, not in the log', async () => {
    const status = await httpsRequest(`${gw.url}/status`, { ca: caPem, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const doc = status.json<{ tls: { certificate: { names: string[] } } }>();
    expect(doc.tls.certificate.names).toEqual(expect.arrayContaining(['DNS:localhost', 'IP Address:127.0.0.1']));
    const secrets = ['store-ca.key', 'server.key'].map((f) => readFileSync(path.join(tlsDir, f), 'utf8').split('\n')[1] as string);
    const everything = [status.body, ...gw.logs].join('\n');
    for (const s of secrets) expect(everything).not.toContain(s.slice(0, 40));
    expect(everything).not.toContain('PRIVATE KEY');
  });
});

describe('connections that end badly, and shutdown', () => {
  it('survives clients that reset the connection before, during and after a plain request', async () => {
    const port = Number(new URL(gw.url).port);
    for (const send of ['', 'PUT /v2/customer_sessions/x HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n', '\x16\x03\x01\x00\x05hello']) {
      const s = connect({ port, host: '127.0.0.1' });
      await once(s, 'connect');
      if (send) s.write(send);
      await new Promise((r) => setTimeout(r, 20));
      s.resetAndDestroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    expect((await httpsRequest(`${gw.url}/healthz`, { ca: caPem })).status).toBe(200);
  });

  it('is not held by a client that connected and went silent, before or after its handshake', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'sg-https-stop-'));
    const ca = await loadStoreCa(caPem, readFileSync(path.join(tlsDir, 'store-ca.key'), 'utf8'));
    const files = writePair(d, 'server', await serverCert(ca), ca);
    const g = await startGateway({ mode: 'offline', http: { host: '127.0.0.1', port: 0, tls: { certFile: files.cert, keyFile: files.key } } }, { dir: d });
    const port = Number(new URL(g.url).port);
    const silent = connect({ port, host: '127.0.0.1' });
    const shook = tlsConnect({ port, host: '127.0.0.1', ca: caPem, servername: 'localhost' });
    await Promise.all([once(silent, 'connect'), once(shook, 'secureConnect')]);
    const t0 = Date.now();
    await g.stop();
    expect(Date.now() - t0).toBeLessThan(3000); // the handshake timeout is 15 s
    silent.destroy();
    shook.destroy();
  });
});

describe('certificates that clients must refuse, and files the config refuses', () => {
  it('an expired server certificate: the gateway starts (its journal still flushes) and says so; clients refuse it', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'sg-https-expired-'));
    const ca = await loadStoreCa(caPem, readFileSync(path.join(tlsDir, 'store-ca.key'), 'utf8'));
    const files = writePair(d, 'old', await serverCert(ca, expired()), ca);
    const old = await startGateway({ mode: 'offline', http: { host: '127.0.0.1', port: 0, tls: { certFile: files.cert, keyFile: files.key } } }, { dir: d });
    try {
      expect(old.logs.some((l) => /certFile expired on/.test(l))).toBe(true);
      await expect(httpsRequest(`${old.url}/healthz`, { ca: caPem })).rejects.toMatchObject({ code: 'CERT_HAS_EXPIRED' });
      const { client, api } = sdkClient(old.url, TERMINAL_TOKENS.T1);
      (client as SdkClient & { requestAgent: Agent }).requestAgent = new Agent({ ca: caPem });
      await expect(api.updateCustomerSessionV2('expired-1', cart)).rejects.toMatchObject({ error: { code: 'CERT_HAS_EXPIRED' } });
    } finally {
      await old.stop();
    }
  });

  it('the CLI trusts its daemon\'s own certificate even when it names no loopback address (a certificate from elsewhere)', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'sg-https-pin-'));
    const ca = await loadStoreCa(caPem, readFileSync(path.join(tlsDir, 'store-ca.key'), 'utf8'));
    const files = writePair(d, 'shop', await issueServerCertificate(ca, [{ type: 'dns', value: 'shop.example' }], validFor(30)), ca);
    const shop = await startGateway({ mode: 'offline', http: { host: '127.0.0.1', port: 0, tls: { certFile: files.cert, keyFile: files.key } } }, { dir: d });
    try {
      const cfg = JSON.parse(readFileSync(path.join(d, 'config.json'), 'utf8')) as { http: Record<string, unknown> };
      writeFileSync(path.join(d, 'cli.json'), JSON.stringify({ ...cfg, http: { ...cfg.http, port: Number(new URL(shop.url).port) } }));
      const s = await cli(['status', '--json', '--config', path.join(d, 'cli.json')]);
      expect(s.code, s.stderr).toBe(0);
      expect(JSON.parse(s.stdout).tls.certificate.names).toEqual(['DNS:shop.example']);
    } finally {
      await shop.stop();
    }
  });

  it('a key that is not the certificate\'s, a missing file, client options without a CA: exit-2 errors with their paths', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'sg-https-bad-'));
    const ca = await loadStoreCa(caPem, readFileSync(path.join(tlsDir, 'store-ca.key'), 'utf8'));
    const a = writePair(d, 'a', await serverCert(ca), ca);
    const b = writePair(d, 'b', await serverCert(ca), ca);
    const load = async (http: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
      const file = path.join(d, 'config.json');
      writeFileSync(file, JSON.stringify({ dataDir: 'var', http, ...extra }));
      return loadConfig({ configPath: file, env: {} }).then(
        () => [],
        (e: { code: string; details: { path: string; message: string }[] }) => (expect(e.code).toBe('SG_ERR_CONFIG_INVALID'), e.details),
      );
    };
    expect(await load({ tls: { certFile: a.cert, keyFile: b.key } })).toEqual([{ path: '/http/tls/keyFile', message: expect.stringMatching(/not the private key of certFile/) }]);
    expect(await load({ tls: { certFile: path.join(d, 'nope.pem'), keyFile: a.key } })).toEqual([{ path: '/http/tls/certFile', message: expect.stringMatching(/does not exist/) }]);
    expect(await load({ tls: { certFile: a.cert } })).toEqual([{ path: '/http/tls/keyFile', message: expect.stringMatching(/needed with certFile/) }]);
    expect(await load({ tls: { certFile: a.cert, keyFile: a.key, requireClientCert: true } })).toEqual([{ path: '/http/tls/requireClientCert', message: expect.stringMatching(/needs http\.tls\.caFile/) }]);
    expect(await load({ tls: { certFile: a.cert, keyFile: a.key, caFile: a.key } })).toEqual([{ path: '/http/tls/caFile', message: expect.stringMatching(/not a PEM CA certificate/) }]);
    expect(await load({ port: 8443, plainPort: 8443, tls: { certFile: a.cert, keyFile: a.key } })).toEqual([{ path: '/http/plainPort', message: expect.stringMatching(/must differ/) }]);
    expect(await load({}, { terminals: [{ id: 'T1' }] })).toEqual([{ path: '/terminals/0', message: expect.stringMatching(/tokenSha256.*certSha256/) }]);
    // Relative names resolve against the config file's folder; a good pair loads.
    expect(await load({ tls: { certFile: 'a.pem', keyFile: 'a.key' } })).toEqual([]);
  });
});
