/**
 * `npm run bench -- trim [--quick]`: lean payloads (README "Lean payloads"). Session updates with 50-line carts,
 * 30 attributes per line (and 12 session attributes), through two gateways in the same run — upstream.trimAttributes
 * off (the baseline) and on — to one emulator; the shop's rules read 2 cart-item attributes and 1 session attribute,
 * and config keeps one more of each. Figures: bytes sent upstream per update, bytes of the answer (Talon.One echoes
 * the cart), latency at concurrency 1 (p50/p99), throughput at concurrency 32, CPU per request of each process.
 * The gateways, the emulator and this load generator are separate processes sharing the machine's two cores;
 * the two paths are measured in alternating blocks so drift hits both alike.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sha256Hex } from '../src/http/auth.js';
import { concurrentUpdates, serialUpdates, sessionTarget } from './http-load.js';
import { cpuMs, freePort, rssMb, spawnEmulatorBundle, spawnGatewayBundle, waitForHttp, type Proc } from './procs.js';
import { printTable, summarize, verdict } from './report.js';

const API_KEY = 'bench-upstream-key-0123456789';
const TERMINAL_TOKEN = 'bench-terminal-token-0123456789';
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const STORE = 'store-bench';
const LINES = 50;
const ATTRS = 30;

/** Rules of the shop: what the trimming keeps is what these read. */
function rules(): unknown {
  const note = { id: 'n', type: 'showNotification', notificationType: 'Info', title: 't', body: 'b' };
  const read = (id: number, attribute: string, value: unknown) => ({
    campaign: { id, name: `reads ${attribute}`, state: 'enabled' },
    ruleset: { id: id * 10, strikethroughRules: [], promotionRules: [{ id: 'r', title: 'r', blocks: [{ id: 'c', type: 'checkAttribute', attribute, operator: 'equals', value }, note] }] },
  });
  return {
    version: 1,
    application: { currency: 'EUR', timezone: 'Europe/Berlin' },
    stores: [{ id: 42, integrationId: STORE }],
    campaigns: [read(101, '$Session.Attributes.channel', 'pos'), read(103, '$Item.Attributes.color', 'red'), read(104, '$Item.Attributes.brand', 'ACME')],
  };
}

/** One session update: 50 lines of 30 attributes each (a retailer's product master data), 12 session attributes. */
function body(session: number): string {
  const cartItems = Array.from({ length: LINES }, (_, i) => ({
    sku: `SKU-${(session * 7 + i) % 5000}`,
    name: `Item ${i}`,
    quantity: 1 + (i % 3),
    price: 1.99 + i,
    category: i % 4 ? 'Food' : 'Drinks',
    attributes: Object.fromEntries([
      ['color', i % 2 ? 'red' : 'blue'],
      ['brand', i % 3 ? 'ACME' : 'Globex'],
      ['supplier', `SUP-${i % 11}`],
      ...Array.from({ length: ATTRS - 3 }, (_, k) => [`attr_${k}`, k % 3 === 0 ? (session + i + k) * 0.25 : k % 3 === 1 ? `value-${k}-${i}` : k % 2 === 0]),
    ]),
  }));
  const attributes = Object.fromEntries([['channel', 'pos'], ['loyaltyTier', 'gold'], ...Array.from({ length: 10 }, (_, k) => [`s_${k}`, `session value ${k}`])]);
  return JSON.stringify({ customerSession: { profileId: `P-${session % 500}`, cartItems, attributes, couponCodes: [] }, responseContent: ['customerSession'] });
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

async function answerBytes(port: number, payload: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/v2/customer_sessions/trim-size?dry=true`, { method: 'PUT', headers: { authorization: `ApiKey-v1 ${TERMINAL_TOKEN}`, 'content-type': 'application/json' }, body: payload });
  return (await res.arrayBuffer()).byteLength;
}

export async function run(args: string[]): Promise<void> {
  const scale = args.includes('--quick') ? 0.2 : 1;
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-trim-'));
  const procs: Proc[] = [];
  try {
    const emuPort = await freePort();
    const emu = spawnEmulatorBundle(['--port', String(emuPort), '--api-key', API_KEY, '--no-record']);
    procs.push(emu);
    const emuUrl = `http://127.0.0.1:${emuPort}`;
    await waitForHttp(`${emuUrl}/_emulator/requests`);
    writeFileSync(path.join(dir, 'rules.json'), JSON.stringify(rules()));

    const gateway = async (name: string, enabled: boolean, build: boolean) => {
      const port = await freePort();
      const config = {
        store: { integrationId: STORE },
        mode: 'connected',
        dataDir: path.join(dir, `var-${name}`),
        http: { host: '127.0.0.1', port, bodyLimitBytes: 4 * 1048576 },
        adminToken: ADMIN_TOKEN,
        terminals: [{ id: 'T1', tokenSha256: sha256Hex(TERMINAL_TOKEN) }],
        upstream: { baseUrl: emuUrl, apiKey: API_KEY, timeoutMs: 2000, connections: 32, trimAttributes: { enabled, keepSession: ['loyaltyTier'], keepCartItem: ['supplier'] } },
        dataFiles: { rules: path.join(dir, 'rules.json') },
        log: { level: 'info' },
      };
      const file = path.join(dir, `config-${name}.json`);
      writeFileSync(file, JSON.stringify(config));
      const proc = spawnGatewayBundle(['run', '--config', file], {}, { build });
      procs.push(proc);
      await waitForHttp(`http://127.0.0.1:${port}/healthz`);
      return { proc, port };
    };
    const off = await gateway('off', false, true);
    const on = await gateway('on', true, false);

    const tOff = await sessionTarget('trimming off', off.port, `ApiKey-v1 ${TERMINAL_TOKEN}`, 'trim');
    const tOn = await sessionTarget('trimming on', on.port, `ApiKey-v1 ${TERMINAL_TOKEN}`, 'trim');
    const payloads = Array.from({ length: 32 }, (_, i) => body(i));
    const paths = [tOff, tOn];

    for (const t of paths) {
      await serialUpdates(t, Math.round(1000 * scale), 0, payloads, 2000);
      await concurrentUpdates(t, Math.round(2000 * scale), 32, 0, payloads);
    }

    // Bytes: the untrimmed body is exactly what the gateway sends with trimming off (the same text JSON.stringify
    // gives, plus the store id it adds); with trimming on, the gateway counts what it sent.
    const untrimmed = payloads.map((p) => {
      const b = JSON.parse(p) as { customerSession: Record<string, unknown> };
      b.customerSession.storeIntegrationId = STORE;
      return Buffer.byteLength(JSON.stringify(b));
    });
    const sentBefore = await metric(on.port, 'storegate_upstream_session_update_bytes_total');
    const savedBefore = await metric(on.port, 'storegate_upstream_trimmed_bytes_total');

    const c1: Record<string, number[]> = { [tOff.name]: [], [tOn.name]: [] };
    for (let block = 0; block < 6; block++) for (const t of block % 2 ? [...paths].reverse() : paths) c1[t.name]!.push(...(await serialUpdates(t, Math.round(500 * scale), 10_000 + block * 1000, payloads, 2000)));
    const c1Count = c1[tOn.name]!.length;

    const n32 = Math.round(8000 * scale);
    const c32: Record<string, { secs: number; lat: number[]; cpuGw: number; cpuEmu: number }> = {};
    for (const half of [0, 1]) {
      for (const [t, g] of half ? ([[tOn, on], [tOff, off]] as const) : ([[tOff, off], [tOn, on]] as const)) {
        const before = { gw: cpuMs(g.proc.child.pid as number), emu: cpuMs(emu.child.pid as number) };
        const r = await concurrentUpdates(t, n32 / 2, 32, 30_000 + half * 5000, payloads);
        const acc = (c32[t.name] ??= { secs: 0, lat: [], cpuGw: 0, cpuEmu: 0 });
        acc.secs += r.secs;
        acc.lat.push(...r.lat);
        acc.cpuGw += cpuMs(g.proc.child.pid as number) - before.gw;
        acc.cpuEmu += cpuMs(emu.child.pid as number) - before.emu;
      }
    }
    const onRequests = c1Count + n32;
    const sentOn = (await metric(on.port, 'storegate_upstream_session_update_bytes_total')) - sentBefore;
    const savedOn = (await metric(on.port, 'storegate_upstream_trimmed_bytes_total')) - savedBefore;
    const bytesOff = untrimmed.reduce((a, b) => a + b, 0) / untrimmed.length;
    const bytesOn = sentOn / onRequests;
    const answers = { off: await answerBytes(off.port, payloads[0] as string), on: await answerBytes(on.port, payloads[0] as string) };
    const mem = { off: rssMb(off.proc.child.pid as number), on: rssMb(on.proc.child.pid as number) };
    for (const c of [...tOff.conns, ...tOn.conns]) c.close();

    const s1 = { off: summarize(c1[tOff.name]!), on: summarize(c1[tOn.name]!) };
    const s32 = { off: summarize(c32[tOff.name]!.lat), on: summarize(c32[tOn.name]!.lat) };
    const rps = { off: n32 / c32[tOff.name]!.secs, on: n32 / c32[tOn.name]!.secs };
    const cpu = (name: string, k: 'cpuGw' | 'cpuEmu') => c32[name]![k] / n32;
    printTable(
      `trim: session updates, ${LINES}-line carts with ${ATTRS} attributes per line (client → gateway → emulator)`,
      ['path', 'bytes upstream / update', 'answer bytes', 'c=1 p50 ms', 'c=1 p99 ms', 'c=32 req/s', 'c=32 p50 ms', 'c=32 p99 ms', 'CPU ms/req gateway', 'CPU ms/req emulator'],
      [
        ['trimming off (baseline)', Math.round(bytesOff), answers.off, s1.off.p50, s1.off.p99, Math.round(rps.off), s32.off.p50, s32.off.p99, cpu(tOff.name, 'cpuGw'), cpu(tOff.name, 'cpuEmu')],
        ['trimming on', Math.round(bytesOn), answers.on, s1.on.p50, s1.on.p99, Math.round(rps.on), s32.on.p50, s32.on.p99, cpu(tOn.name, 'cpuGw'), cpu(tOn.name, 'cpuEmu')],
      ],
    );
    /** `b` against the baseline `a`: "12.3% lower" / "4.5% higher". */
    const vs = (a: number, b: number) => `${Math.abs(((a - b) / a) * 100).toFixed(1)}% ${b <= a ? 'lower' : 'higher'}`;
    printTable(
      'trim: figures',
      ['figure', 'measured', 'target', 'verdict'],
      [
        ['bytes sent upstream per update', `${Math.round(bytesOn)} vs ${Math.round(bytesOff)} (${vs(bytesOff, bytesOn)}; /metrics saved ${Math.round(savedOn / onRequests)} per update)`, 'fewer with trimming on', verdict(bytesOn < bytesOff)],
        ['latency p50, c=1', `${s1.on.p50.toFixed(3)} vs ${s1.off.p50.toFixed(3)} ms (${vs(s1.off.p50, s1.on.p50)})`, 'not above trimming off', verdict(s1.on.p50 <= s1.off.p50)],
        ['latency p99, c=1', `${s1.on.p99.toFixed(3)} vs ${s1.off.p99.toFixed(3)} ms (${vs(s1.off.p99, s1.on.p99)})`, 'not above trimming off', verdict(s1.on.p99 <= s1.off.p99)],
        ['throughput, c=32', `${Math.round(rps.on)} vs ${Math.round(rps.off)} req/s (${(rps.on / rps.off).toFixed(2)}×)`, 'not below trimming off', verdict(rps.on >= rps.off)],
        ['gateway RSS after load', `${mem.on.rss.toFixed(1)} vs ${mem.off.rss.toFixed(1)} MB`, '', ''],
      ],
    );
    console.log(`samples: c=1 ${c1Count} per path (6 alternating blocks); c=32 ${n32} per path (two halves, order swapped); node ${process.version}; gateways run as the bundle`);
  } finally {
    for (const p of procs.reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
