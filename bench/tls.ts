/**
 * `npm run bench -- tls [--quick]`: what HTTPS adds for a terminal (issue 13). Two gateways from the same bundle,
 * offline, the same config but for `http.tls` (a store CA and a server certificate made by src/tls/issue.ts, as
 * `storegate keys tls` makes them): session updates with 20-line carts at concurrency 1 over one keep-alive
 * connection each, plain HTTP (the baseline) and HTTPS in interleaved rounds, so drift hits both alike.
 * Target: added p50 of TLS ≤ 0.1 ms. The judged case is a dry run (evaluated, not journaled: the journal's fdatasync
 * would add the disk's noise to both); journaled updates and a new connection per request (a full handshake,
 * what a terminal pays once per connection) are shown beside it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { sha256Hex } from '../src/http/auth.js';
import { createStoreCa, issueServerCertificate, parseNames } from '../src/tls/issue.js';
import { LoadConnection, putHead } from './http-load.js';
import { cpuMs, freePort, ROOT, spawnGatewayBundle, waitForHttp, type Proc } from './procs.js';
import { printTable, summarize, verdict } from './report.js';

const TOKEN = 'bench-terminal-token-0123456789';
const DAY = 86_400_000;

function body(i: number): string {
  const cartItems = Array.from({ length: 20 }, (_, k) => ({ sku: `SKU-${(i * 7 + k) % 500}`, name: `Item ${k}`, quantity: 1 + (k % 3), price: 1.99 + k, category: k % 2 ? 'Kitchen' : 'Garden' }));
  return JSON.stringify({ customerSession: { profileId: `P-${i % 50}`, cartItems, couponCodes: [] }, responseContent: ['customerSession'] });
}

interface Path {
  name: string;
  port: number;
  open: () => Promise<LoadConnection>;
  conn: LoadConnection;
}

async function rounds(p: Path, n: number, offset: number, payloads: string[], query: string): Promise<number[]> {
  const out: number[] = [];
  const host = `127.0.0.1:${p.port}`;
  for (let i = 0; i < n; i++) {
    const payload = payloads[i % payloads.length] as string;
    const t0 = process.hrtime.bigint();
    const status = await p.conn.request(putHead(`/v2/customer_sessions/tls-${offset + i}${query}`, host, `authorization: ApiKey-v1 ${TOKEN}\r\n`, payload), payload);
    if (status !== 200) throw new Error(`${p.name}: HTTP ${status}`);
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

/** A new connection per request (handshake included), closed after its answer. */
async function fresh(p: Path, n: number, payloads: string[]): Promise<number[]> {
  const out: number[] = [];
  const host = `127.0.0.1:${p.port}`;
  for (let i = 0; i < n; i++) {
    const payload = payloads[i % payloads.length] as string;
    const t0 = process.hrtime.bigint();
    const c = await p.open();
    const status = await c.request(putHead(`/v2/customer_sessions/tls-new-${i}?dry=true`, host, `authorization: ApiKey-v1 ${TOKEN}\r\n`, payload), payload);
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
    c.close();
    if (status !== 200) throw new Error(`${p.name}: HTTP ${status}`);
  }
  return out;
}

export async function run(args: string[]): Promise<void> {
  const scale = args.includes('--quick') ? 0.2 : 1;
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-tls-'));
  const procs: Proc[] = [];
  try {
    const now = Date.now();
    const ca = await createStoreCa('bench store CA', { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 3650 * DAY) });
    const server = await issueServerCertificate(ca, parseNames('localhost,127.0.0.1'), { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 825 * DAY) });
    writeFileSync(path.join(dir, 'server.pem'), server.certPem + ca.certPem);
    writeFileSync(path.join(dir, 'server.key'), server.keyPem, { mode: 0o600 });

    const ports = { plain: await freePort(), tls: await freePort() };
    const config = (name: 'plain' | 'tls') => ({
      store: { integrationId: 'store-bench' },
      mode: 'offline',
      dataDir: path.join(dir, `var-${name}`),
      http: { host: '127.0.0.1', port: ports[name], ...(name === 'tls' ? { tls: { certFile: path.join(dir, 'server.pem'), keyFile: path.join(dir, 'server.key') } } : {}) },
      terminals: [{ id: 'T1', tokenSha256: sha256Hex(TOKEN) }],
      dataFiles: { rules: path.join(ROOT, 'config', 'sample-rules.json'), prices: path.join(ROOT, 'config', 'sample-prices.json') },
      log: { level: 'info' },
    });
    for (const name of ['plain', 'tls'] as const) writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(config(name)));
    const gwPlain = spawnGatewayBundle(['run', '--config', path.join(dir, 'plain.json')]);
    procs.push(gwPlain);
    const gwTls = spawnGatewayBundle(['run', '--config', path.join(dir, 'tls.json')], {}, { build: false });
    procs.push(gwTls);
    await waitForHttp(`http://127.0.0.1:${ports.plain}/healthz`);
    // The HTTPS gateway answers plain HTTP with a 400 naming HTTPS: that is "up" for this wait.
    await waitForHttp(`http://127.0.0.1:${ports.tls}/healthz`);

    const tlsOpts = { ca: ca.certPem, servername: 'localhost' };
    const plainOpen = () => LoadConnection.open(ports.plain);
    const tlsOpen = () => LoadConnection.openTls(ports.tls, tlsOpts);
    const plain: Path = { name: 'plain', port: ports.plain, open: plainOpen, conn: await plainOpen() };
    const tls: Path = { name: 'tls', port: ports.tls, open: tlsOpen, conn: await tlsOpen() };
    const probe = await new Promise<TLSSocket>((resolve, reject) => {
      import('node:tls').then(({ connect }) => {
        const s = connect({ port: ports.tls, host: '127.0.0.1', ...tlsOpts }, () => resolve(s));
        s.once('error', reject);
      }, reject);
    });
    const negotiated = `${probe.getProtocol() ?? '?'} ${probe.getCipher().name}`;
    probe.destroy();
    const payloads = Array.from({ length: 64 }, (_, i) => body(i));

    // Warm-up: JIT, the engine's caches, TLS session state on both sides.
    for (const p of [plain, tls]) {
      await rounds(p, Math.round(2000 * scale), 0, payloads, '?dry=true');
      await rounds(p, Math.round(300 * scale), 100_000, payloads, '');
    }

    const dry: Record<string, number[]> = { plain: [], tls: [] };
    const journaled: Record<string, number[]> = { plain: [], tls: [] };
    const cpu = { plain: 0, tls: 0 };
    const blocks = 8;
    for (let b = 0; b < blocks; b++) {
      // Alternate which path goes first, so neither always runs right after the other's GC or log flush.
      for (const p of b % 2 === 0 ? [plain, tls] : [tls, plain]) {
        const pid = (p === plain ? gwPlain : gwTls).child.pid as number;
        const before = cpuMs(pid);
        dry[p.name]!.push(...(await rounds(p, Math.round(1000 * scale), 10_000 + b * 1000, payloads, '?dry=true')));
        cpu[p.name as 'plain' | 'tls'] += cpuMs(pid) - before;
        journaled[p.name]!.push(...(await rounds(p, Math.round(250 * scale), 200_000 + b * 1000, payloads, '')));
      }
    }
    const handshakes: Record<string, number[]> = { plain: [], tls: [] };
    for (let b = 0; b < 4; b++) for (const p of [plain, tls]) handshakes[p.name]!.push(...(await fresh(p, Math.round(100 * scale), payloads)));
    plain.conn.close();
    tls.conn.close();

    const s = (xs: number[]) => summarize(xs);
    const dp = s(dry.plain!);
    const dt = s(dry.tls!);
    const jp = s(journaled.plain!);
    const jt = s(journaled.tls!);
    const hp = s(handshakes.plain!);
    const ht = s(handshakes.tls!);
    printTable(
      'tls: session update, 20-line cart, offline, c=1 keep-alive (plain HTTP vs HTTPS, interleaved)',
      ['path', 'n', 'p50 ms', 'p99 ms', 'mean ms'],
      [
        ['plain HTTP, dry run (baseline)', dp.n, dp.p50, dp.p99, dp.mean],
        [`HTTPS (${negotiated}), dry run`, dt.n, dt.p50, dt.p99, dt.mean],
        ['plain HTTP, journaled update', jp.n, jp.p50, jp.p99, jp.mean],
        ['HTTPS, journaled update', jt.n, jt.p50, jt.p99, jt.mean],
        ['plain HTTP, new connection per request (dry)', hp.n, hp.p50, hp.p99, hp.mean],
        ['HTTPS, new connection per request: full handshake (dry)', ht.n, ht.p50, ht.p99, ht.mean],
      ],
    );
    const added = dt.p50 - dp.p50;
    printTable(
      'tls: targets',
      ['figure', 'measured', 'target', 'verdict'],
      [
        ['added p50 of TLS, keep-alive, c=1 (dry run)', `${added.toFixed(3)} ms`, '≤ 0.1 ms', verdict(added <= 0.1)],
        ['added p99 of TLS, keep-alive, c=1 (dry run)', `${(dt.p99 - dp.p99).toFixed(3)} ms`, '(shown)', '-'],
        ['added p50 of TLS, journaled update', `${(jt.p50 - jp.p50).toFixed(3)} ms`, '(shown)', '-'],
        ['a new HTTPS connection (handshake) over a new plain one, p50', `${(ht.p50 - hp.p50).toFixed(3)} ms`, '(shown)', '-'],
      ],
    );
    const n = dry.plain!.length;
    console.log(`gateway CPU per dry-run request: plain ${(cpu.plain / n).toFixed(3)} ms, HTTPS ${(cpu.tls / n).toFixed(3)} ms (from /proc, 10 ms ticks over ${n} requests)`);
    console.log(`node ${process.version}; gateways run as the bundle: ${[...gwTls.env, 'node', ...gwTls.flags].join(' ')} build/storegate.mjs; certificate ECDSA P-256 (storegate keys tls)`);
  } finally {
    for (const p of procs.reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
