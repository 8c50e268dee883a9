/**
 * `npm run bench -- connected`: session updates with 20-line carts, client → emulator directly (the baseline)
 * and client → gateway → emulator, in one run, at concurrency 1 and 32. The gateway and the emulator are
 * separate processes; this process only generates load. Targets (issue 2): added latency p50 ≤ 0.5 ms and
 * p99 ≤ 2 ms at concurrency 1, ≥ 2,500 req/s through the gateway at concurrency 32, gateway RSS ≤ 90 MB.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cpuMs, freePort, rssMb, spawnEmulatorBundle, spawnGatewayBundle, waitForHttp, type Proc } from './procs.js';
import { printTable, summarize, verdict } from './report.js';
import { sha256Hex } from '../src/http/auth.js';
import { concurrentUpdates, serialUpdates, sessionTarget } from './http-load.js';

const API_KEY = 'bench-upstream-key-0123456789';
const TERMINAL_TOKEN = 'bench-terminal-token-0123456789';

function body(session: number): string {
  const cartItems = Array.from({ length: 20 }, (_, i) => ({
    sku: `SKU-${(session * 7 + i) % 5000}`,
    name: `Item ${i}`,
    quantity: 1 + (i % 3),
    price: 1.99 + i,
    category: i % 2 ? 'food' : 'shoes',
  }));
  return JSON.stringify({ customerSession: { profileId: `P-${session % 500}`, cartItems, couponCodes: [] }, responseContent: ['customerSession'] });
}

export async function run(args: string[]): Promise<void> {
  const scale = args.includes('--quick') ? 0.2 : 1;
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-'));
  const procs: Proc[] = [];
  try {
    const emuPort = await freePort();
    const emu = spawnEmulatorBundle(['--port', String(emuPort), '--api-key', API_KEY, '--no-record']);
    procs.push(emu);
    const emuUrl = `http://127.0.0.1:${emuPort}`;
    await waitForHttp(`${emuUrl}/_emulator/requests`);

    const gwPort = await freePort();
    const config = {
      store: { integrationId: 'store-bench' },
      mode: 'connected',
      dataDir: path.join(dir, 'var'),
      http: { host: '127.0.0.1', port: gwPort },
      terminals: [{ id: 'T1', tokenSha256: sha256Hex(TERMINAL_TOKEN) }],
      upstream: { baseUrl: emuUrl, apiKey: API_KEY, timeoutMs: 2000, connections: 32 },
      log: { level: 'info' },
    };
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    const gw = spawnGatewayBundle(['run', '--config', path.join(dir, 'config.json')]);
    procs.push(gw);
    const gwUrl = `http://127.0.0.1:${gwPort}`;
    await waitForHttp(`${gwUrl}/healthz`);

    const direct = await sessionTarget('direct', emuPort, `ApiKey-v1 ${API_KEY}`, 'bench');
    const via = await sessionTarget('gateway', gwPort, `ApiKey-v1 ${TERMINAL_TOKEN}`, 'bench');
    const payloads = Array.from({ length: 64 }, (_, i) => body(i));

    // Warm up both paths (JIT, keep-alive sockets, the emulator's session map).
    for (const t of [direct, via]) {
      await serialUpdates(t, Math.round(1500 * scale), 0, payloads);
      await concurrentUpdates(t, Math.round(3000 * scale), 32, 0, payloads);
    }

    // Concurrency 1: alternate blocks so drift (another process, thermal) hits both paths alike.
    const c1: Record<string, number[]> = { direct: [], gateway: [] };
    for (let block = 0; block < 6; block++) {
      for (const t of [direct, via]) c1[t.name]!.push(...(await serialUpdates(t, Math.round(700 * scale), 10_000 + block * 1000, payloads)));
    }
    const d1 = summarize(c1.direct!);
    const g1 = summarize(c1.gateway!);

    // Concurrency 32.
    const n32 = Math.round(20_000 * scale);
    const d32 = await concurrentUpdates(direct, n32, 32, 20_000, payloads);
    const before = { gw: cpuMs(gw.child.pid as number), emu: cpuMs(emu.child.pid as number), client: process.cpuUsage() };
    const g32 = await concurrentUpdates(via, n32, 32, 40_000, payloads);
    const clientCpu = process.cpuUsage(before.client);
    const perReq = {
      gw: (cpuMs(gw.child.pid as number) - before.gw) / n32,
      emu: (cpuMs(emu.child.pid as number) - before.emu) / n32,
      client: (clientCpu.user + clientCpu.system) / 1000 / n32,
    };
    const ds = summarize(d32.lat);
    const gs = summarize(g32.lat);
    const mem = rssMb(gw.child.pid as number);
    for (const c of [...direct.conns, ...via.conns]) c.close();

    const added50 = g1.p50 - d1.p50;
    const added99 = g1.p99 - d1.p99;
    printTable(
      'connected: session update, 20-line cart (client → emulator vs client → gateway → emulator)',
      ['path', 'c=1 p50 ms', 'c=1 p99 ms', 'c=32 req/s', 'c=32 p50 ms', 'c=32 p99 ms'],
      [
        ['direct (baseline)', d1.p50, d1.p99, Math.round(d32.rps), ds.p50, ds.p99],
        ['through gateway', g1.p50, g1.p99, Math.round(g32.rps), gs.p50, gs.p99],
      ],
    );
    printTable(
      'connected: targets',
      ['figure', 'measured', 'target', 'verdict'],
      [
        ['added latency p50, c=1', `${added50.toFixed(3)} ms`, '≤ 0.5 ms', verdict(added50 <= 0.5)],
        ['added latency p99, c=1', `${added99.toFixed(3)} ms`, '≤ 2 ms', verdict(added99 <= 2)],
        ['throughput via gateway, c=32', `${Math.round(g32.rps)} req/s`, '≥ 2,500 req/s', verdict(g32.rps >= 2500)],
        ['gateway RSS after load (peak)', `${mem.rss.toFixed(1)} MB (${mem.peak.toFixed(1)} MB)`, '≤ 90 MB', verdict(mem.rss <= 90)],
      ],
    );
    console.log(
      `CPU per request through the gateway at c=32: gateway ${perReq.gw.toFixed(3)} ms, emulator ${perReq.emu.toFixed(3)} ms, load generator ${perReq.client.toFixed(3)} ms (the three share two cores)`,
    );
    console.log(`samples: c=1 ${c1.direct!.length} per path; c=32 ${n32} per path; node ${process.version}; gateway run as the bundle: ${[...gw.env, 'node', ...gw.flags].join(' ')} build/storegate.mjs`);
  } finally {
    for (const p of procs.reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
