/**
 * `npm run bench -- serial [--quick] [--n N]`: scan-to-MQTT latency over a real pty (socat) at 100 scans/s.
 * A scanner (this process) writes one GTIN-13 + CRLF every 10 ms to the pty; the gateway, a separate process
 * with one `role: terminal` port on the other end, frames, checks and classifies it and publishes the scan to
 * `P/terminals/T1/scans` through a real mosquitto; this process times write → message received.
 * Baseline in the same run: a bare relay process (serialport's ReadlineParser → MQTT publish, nothing else) on
 * its own pty pair, the same bytes at the same rate, through the same broker. The two paths run in
 * interleaved halves. Target: p99 ≤ 5 ms.
 *
 * The gateway runs from an esbuild bundle of src/main.ts with its dependencies left in node_modules (as the
 * benchmarks' own bundle does): the serialport native binding is then loaded from node_modules, as the shipped
 * binary loads it from its embedded copy.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { build } from 'esbuild';
import mqtt, { type MqttClient } from 'mqtt';
import { sha256Hex } from '../src/http/auth.js';
import { gtinCheckDigit } from '../src/serial/gtin.js';
import { NODE_BUNDLE } from '../scripts/esbuild-node.js';
import { Mosquitto } from '../test/helpers/mosquitto.js';
import { PtyPair } from '../test/helpers/pty.js';
import { ROOT, freePort, waitForHttp, cpuMs } from './procs.js';
import { printTable, summarize, verdict } from './report.js';

const STORE = 'store-042';
const P = `storegate/${STORE}`;
const RATE_PER_SEC = 100;

/** The n-th scanned code: a valid GTIN-13 (so the gateway classifies it as an item, the common case). */
function code(n: number): string {
  const body = `20${String(n).padStart(10, '0')}`;
  return body + String(gtinCheckDigit(body));
}

/** Builds the gateway and the relay with dependencies external; returns their paths. */
async function bundles(): Promise<{ gateway: string; relay: string }> {
  const outdir = path.join(ROOT, 'build', 'bench-serial');
  await build({
    entryPoints: { gateway: path.join(ROOT, 'src', 'main.ts'), relay: path.join(ROOT, 'bench', 'serial-relay.ts') },
    ...NODE_BUNDLE,
    outdir,
    outExtension: { '.js': '.mjs' },
    packages: 'external',
  });
  return { gateway: path.join(outdir, 'gateway.mjs'), relay: path.join(outdir, 'relay.mjs') };
}

function spawnNode(file: string, args: string[]) {
  const child = spawn(process.execPath, [file, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout?.resume();
  return {
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

/**
 * Writes `n` codes at RATE_PER_SEC (open loop, like a scanner: a slow answer does not slow the next scan) and
 * returns the write → receive latencies in ms.
 */
async function scans(client: MqttClient, topic: string, pty: PtyPair, n: number, offset: number): Promise<number[]> {
  const sent = new Map<string, number>();
  const lat: number[] = [];
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (done = resolve));
  const onMessage = (t: string, payload: Buffer) => {
    if (t !== topic) return;
    const c = (JSON.parse(payload.toString()) as { code: string }).code;
    const t0 = sent.get(c);
    if (t0 === undefined) return;
    lat.push(performance.now() - t0);
    sent.delete(c);
    if (lat.length === n) done();
  };
  client.on('message', onMessage);
  try {
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const due = start + (i * 1000) / RATE_PER_SEC;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const c = code(offset + i);
      sent.set(c, performance.now());
      await pty.write(`${c}\r\n`);
    }
    const timeout = new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`${sent.size} scans never arrived on ${topic}`)), 5000).unref());
    await Promise.race([all, timeout]);
  } finally {
    client.off('message', onMessage);
  }
  return lat;
}

export async function run(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const nArg = args.indexOf('--n');
  const n = nArg >= 0 ? Number(args[nArg + 1]) : quick ? 600 : 3000;
  const warm = quick ? 100 : 300;
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-serial-'));
  const broker = await new Mosquitto().start();
  const gwPty = await new PtyPair(dir, 'gw').plug();
  const relayPty = await new PtyPair(dir, 'relay').plug();
  const { gateway, relay } = await bundles();
  const port = await freePort();
  const configFile = path.join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      store: { integrationId: STORE },
      mode: 'offline',
      dataDir: path.join(dir, 'var'),
      http: { host: '127.0.0.1', port },
      adminToken: 'bench-admin-token-0123456789',
      terminals: [{ id: 'T1', tokenSha256: sha256Hex('bench-terminal-token-0123456789') }],
      mqtt: { url: broker.url },
      serial: [{ id: 'bench-scanner', path: gwPty.device, role: 'terminal', terminalId: 'T1' }],
    }),
  );
  const gw = spawnNode(gateway, ['run', '--config', configFile]);
  const rl = spawnNode(relay, [broker.url, 'bench/relay/scans', relayPty.device]);
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'bench-serial-pos', reconnectPeriod: 0 });
  (client.stream as unknown as { setNoDelay(v: boolean): void }).setNoDelay(true);
  try {
    await waitForHttp(`http://127.0.0.1:${port}/readyz`);
    const gwTopic = `${P}/terminals/T1/scans`;
    const relayTopic = 'bench/relay/scans';
    await client.subscribeAsync([gwTopic, relayTopic], { qos: 1 });
    // Both ends ready: a scan goes through each path.
    for (let i = 0; ; i++) {
      try {
        await scans(client, gwTopic, gwPty, 1, 900_000 + i);
        await scans(client, relayTopic, relayPty, 1, 950_000 + i);
        break;
      } catch (err) {
        if (i > 20) throw err;
      }
    }
    await scans(client, gwTopic, gwPty, warm, 0);
    await scans(client, relayTopic, relayPty, warm, 0);
    const gwLat: number[] = [];
    const relayLat: number[] = [];
    // CPU of each process over its own phases only (the other one is idle meanwhile).
    let gwCpu = 0;
    let relayCpu = 0;
    const gwPid = gw.child.pid as number;
    const relayPid = rl.child.pid as number;
    // Interleaved halves, so a noisy second hurts both paths alike.
    for (let part = 0; part < 2; part++) {
      let c0 = cpuMs(gwPid);
      gwLat.push(...(await scans(client, gwTopic, gwPty, n / 2, 10_000 + part * n)));
      gwCpu += cpuMs(gwPid) - c0;
      c0 = cpuMs(relayPid);
      relayLat.push(...(await scans(client, relayTopic, relayPty, n / 2, 10_000 + part * n)));
      relayCpu += cpuMs(relayPid) - c0;
    }
    const g = summarize(gwLat);
    const r = summarize(relayLat);
    printTable(`Scan → MQTT at ${RATE_PER_SEC} scans/s over a pty (ms)`, ['path', 'n', 'p50', 'p99', 'max', 'mean'], [
      ['bare relay: serialport ReadlineParser → MQTT publish (baseline)', r.n, r.p50, r.p99, Math.max(...relayLat), r.mean],
      ['storegate: frame, check, classify, publish (+ status, SSE hub)', g.n, g.p50, g.p99, Math.max(...gwLat), g.mean],
    ]);
    printTable('Targets', ['target', 'measured', 'verdict'], [
      ['scan → MQTT p99 ≤ 5 ms at 100 scans/s', `${g.p99.toFixed(3)} ms (p50 ${g.p50.toFixed(3)} ms; added over the relay: p50 ${(g.p50 - r.p50).toFixed(3)} ms, p99 ${(g.p99 - r.p99).toFixed(3)} ms)`, verdict(g.p99 <= 5)],
    ]);
    console.log(
      `CPU per scan (whole process during its own phase, /proc/<pid>/stat, 10 ms ticks): gateway ~${(gwCpu / n).toFixed(3)} ms, relay ~${(relayCpu / n).toFixed(3)} ms`,
    );
  } finally {
    await client.endAsync(true);
    await rl.stop();
    await gw.stop();
    await gwPty.unplug();
    await relayPty.unplug();
    await broker.stop();
  }
}
