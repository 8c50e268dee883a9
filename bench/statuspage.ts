/**
 * `npm run bench -- statuspage [--n N] [--pollers K]`: what the public status page costs the tills. The
 * gateway runs as shipped (the bundle, offline, sample data); this process is a till (session updates, one at
 * a time, each journaled) and K "phones" that poll `GET /ui/status.json` back to back — a flood far beyond the
 * one poll per 5 s of a real open page, as a misbehaving device on the shop Wi-Fi could send. Baseline in the
 * same run: the same till with no poller, the two interleaved in halves. Also: the poll's own latency beside
 * `GET /healthz` (the cheapest route), the page's weight, and the cost of building a verdict and a summary
 * (the work the one-second cache bounds). Targets: status.json p99 ≤ 10 ms under the flood; the till's p99
 * under the flood at most twice its baseline p99; the whole page (HTML, script, style, JSON) ≤ 64 KB.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { sha256Hex } from '../src/http/auth.js';
import { judge } from '../src/status/verdict.js';
import { publicSummary } from '../src/status/summary.js';
import { LoadConnection, putHead } from './http-load.js';
import { ROOT, freePort, spawnGatewayBundle, waitForHttp } from './procs.js';
import { printTable, summarize, verdict } from './report.js';

const TOKEN = 'bench-terminal-token-0123456789';
const ADMIN = 'bench-admin-token-0123456789';

function arg(args: string[], name: string, def: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : def;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} needs a positive integer`);
  return v;
}

const getHead = (p: string, host: string) => `GET ${p} HTTP/1.1\r\nhost: ${host}\r\n\r\n`;

/** `n` session updates from one till, one at a time; latencies in ms. */
async function till(port: number, n: number, offset: number): Promise<number[]> {
  const c = await LoadConnection.open(port);
  const lat: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const body = JSON.stringify({ customerSession: { cartItems: [{ sku: 'SKU-1', name: 'Pan', quantity: 1 + (i % 3), price: 20, category: 'Kitchen' }] } });
      const head = putHead(`/v2/customer_sessions/bench-${offset + i}`, `127.0.0.1:${port}`, `authorization: ApiKey-v1 ${TOKEN}\r\n`, body);
      const t0 = performance.now();
      const status = await c.request(head, body);
      lat.push(performance.now() - t0);
      if (status !== 200) throw new Error(`session update answered ${status}`);
    }
  } finally {
    c.close();
  }
  return lat;
}

/** Sequential GETs of one path; latencies in ms. */
async function gets(port: number, p: string, n: number): Promise<number[]> {
  const c = await LoadConnection.open(port);
  const lat: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const status = await c.request(getHead(p, `127.0.0.1:${port}`), '');
      lat.push(performance.now() - t0);
      if (status !== 200) throw new Error(`GET ${p} answered ${status}`);
    }
  } finally {
    c.close();
  }
  return lat;
}

/** K connections polling status.json back to back until `stop` resolves; their latencies in ms. */
function flood(port: number, k: number): { stop: () => Promise<number[]> } {
  let running = true;
  const lat: number[] = [];
  const workers = Array.from({ length: k }, async () => {
    const c = await LoadConnection.open(port);
    try {
      while (running) {
        const t0 = performance.now();
        await c.request(getHead('/ui/status.json', `127.0.0.1:${port}`), '');
        lat.push(performance.now() - t0);
      }
    } finally {
      c.close();
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return lat;
    },
  };
}

export async function run(args: string[]): Promise<void> {
  const n = arg(args, '--n', 3000);
  const pollers = arg(args, '--pollers', 4);
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-status-'));
  const port = await freePort();
  const sample = (f: string) => path.join(ROOT, 'config', f);
  const configFile = path.join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      store: { integrationId: 'store-042' },
      mode: 'offline',
      dataDir: path.join(dir, 'var'),
      http: { host: '127.0.0.1', port },
      adminToken: ADMIN,
      terminals: [{ id: 'T1', tokenSha256: sha256Hex(TOKEN) }],
      dataFiles: { rules: sample('sample-rules.json'), prices: sample('sample-prices.json'), coupons: sample('sample-coupons.json'), loyalty: sample('sample-loyalty.json') },
      log: { level: 'warn' },
    }),
  );
  const gw = spawnGatewayBundle(['run', '--config', configFile]);
  try {
    await waitForHttp(`http://127.0.0.1:${port}/healthz`);
    await till(port, 200, 1_000_000); // warm-up
    await gets(port, '/ui/status.json', 200);

    // The till alone and under the flood, interleaved in halves.
    const alone: number[] = [];
    const flooded: number[] = [];
    const polls: number[] = [];
    let offset = 0;
    for (let half = 0; half < 2; half++) {
      alone.push(...(await till(port, n / 2, offset)));
      offset += n / 2;
      const f = flood(port, pollers);
      flooded.push(...(await till(port, n / 2, offset)));
      offset += n / 2;
      polls.push(...(await f.stop()));
    }
    const healthz = await gets(port, '/healthz', 2000);
    const quietPolls = await gets(port, '/ui/status.json', 2000);

    // Page weight, as a phone loads it (fastify sends it uncompressed; gzip for reference).
    const weights: [string, number, number][] = [];
    for (const p of ['/', '/ui/status.js', '/ui/status.css', '/ui/status.json']) {
      const body = Buffer.from(await (await fetch(`http://127.0.0.1:${port}${p}`)).arrayBuffer());
      weights.push([p, body.length, gzipSync(body).length]);
    }

    // The uncached work behind one poll, on this gateway's real /status document.
    const doc = (await (await fetch(`http://127.0.0.1:${port}/status`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as Record<string, unknown>;
    const history = { intervalSec: 30, points: Array.from({ length: 120 }, (_, i) => ({ at: Date.now() - i * 30_000, upstreamP50Ms: 12, journalDepth: i, local: 3, upstream: 5, gateway: 0 })) };
    const build: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const t0 = performance.now();
      JSON.stringify(publicSummary(doc, judge(doc, Date.now()), history, Date.now()));
      build.push(performance.now() - t0);
    }

    // A full hour of history (120 points) is what a page polls once the gateway has run an hour.
    const fullHour = Buffer.from(JSON.stringify(publicSummary(doc, judge(doc, Date.now()), history, Date.now())));
    weights.push(['/ui/status.json after an hour (120 points)', fullHour.length, gzipSync(fullHour).length]);
    const total = weights.filter((w) => w[0] !== '/ui/status.json').reduce((x, w) => x + w[1], 0);

    const a = summarize(alone);
    const b = summarize(flooded);
    const p = summarize(polls);
    const q = summarize(quietPolls);
    const h = summarize(healthz);
    const s = summarize(build);
    printTable(
      `status page: a till's session updates beside ${pollers} clients flooding GET /ui/status.json (gateway bundle, offline, journaled)`,
      ['path', 'n', 'p50 ms', 'p99 ms', 'mean ms'],
      [
        ['till alone (baseline)', a.n, a.p50, a.p99, a.mean],
        [`till while ${pollers} clients poll status.json back to back`, b.n, b.p50, b.p99, b.mean],
        ['GET /ui/status.json during the flood', p.n, p.p50, p.p99, p.mean],
        ['GET /ui/status.json, quiet', q.n, q.p50, q.p99, q.mean],
        ['GET /healthz, quiet (baseline)', h.n, h.p50, h.p99, h.mean],
        ['verdict + summary + JSON, uncached, in process', s.n, s.p50, s.p99, s.mean],
      ],
    );
    const totalGz = weights.filter((w) => w[0] !== '/ui/status.json').reduce((x, w) => x + w[2], 0);
    printTable('status page weight (sent uncompressed; gzip for reference)', ['answer', 'bytes', 'gzip bytes'], [...weights.map((w) => [w[0], w[1], w[2]] as [string, number, number]), ['first load after an hour (page, script, style, JSON)', total, totalGz]]);
    printTable(
      'targets',
      ['target', 'measured', 'verdict'],
      [
        ['GET /ui/status.json p99 ≤ 10 ms under the flood', `${p.p99.toFixed(3)} ms (${(p.n / ((n / 2) * 2)).toFixed(1)} polls per till update)`, verdict(p.p99 <= 10)],
        ["till's p99 under the flood ≤ 2× its baseline p99", `${b.p99.toFixed(3)} vs ${a.p99.toFixed(3)} ms (${(b.p99 / a.p99).toFixed(2)}×)`, verdict(b.p99 <= 2 * a.p99)],
        ['page, script, style and a full hour of JSON ≤ 64 KB', `${(total / 1024).toFixed(1)} KB`, verdict(total <= 64 * 1024)],
      ],
    );
  } finally {
    await gw.stop();
  }
}
