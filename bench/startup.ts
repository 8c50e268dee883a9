/**
 * `npm run bench -- startup [--records N] [--starts K] [--keep]`: what a technician waits for after a crash — from
 * spawning the shipped bundle to `/readyz` answering 200 — with N undelivered records in the journal (an
 * outage's backlog, default 100,000), and the memory the restart needs (peak RSS, `VmHWM`, and RSS once
 * ready). Baseline in the same run: the same bundle starting on an empty data dir.
 *
 * The backlog is made the way a shop makes it: the bundle runs offline, terminals send session updates over
 * HTTP (4 per session, growing carts, the sample rules evaluated), then the daemon is killed with SIGKILL.
 * Before each measured start the sessions and ledger snapshots are removed, so the whole journal is replayed
 * into local state (the worst case: a crash before the first snapshot), and each start ends with SIGKILL again.
 * `--keep` leaves the data dirs in place and prints where they are (to profile a start by hand).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { sha256Hex } from '../src/http/auth.js';
import { freePort, ROOT, spawnGatewayBundle, type Proc } from './procs.js';
import { printTable, verdict } from './report.js';

const TOKEN = 'bench-startup-terminal-token-0123456789';
const sample = (f: string) => path.join(ROOT, 'config', f);

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

function writeConfig(dir: string, port: number): string {
  const file = path.join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      store: { integrationId: 'store-042', attributes: { region: 'north' } },
      mode: 'offline',
      dataDir: path.join(dir, 'var'),
      http: { host: '127.0.0.1', port },
      adminToken: 'bench-startup-admin-token-0123456789',
      terminals: [{ id: 'T1', tokenSha256: sha256Hex(TOKEN) }],
      journal: { maxBytes: 4 * 1024 ** 3 },
      log: { level: 'warn' },
      dataFiles: { rules: sample('sample-rules.json'), prices: sample('sample-prices.json'), coupons: sample('sample-coupons.json'), loyalty: sample('sample-loyalty.json') },
    }),
  );
  return file;
}

/** VmHWM (peak) and VmRSS of a live process, in MiB. */
function memoryOf(pid: number): { peakMiB: number; rssMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { peakMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024 };
}

async function untilReady(port: number, child: Proc['child'], ms = 120_000): Promise<void> {
  const until = performance.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode} during start`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (performance.now() > until) throw new Error('gateway not ready in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

function kill9(p: Proc): Promise<void> {
  return new Promise((resolve) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
    p.child.once('exit', () => resolve());
    p.child.kill('SIGKILL');
  });
}

/** One measured start: spawn → /readyz 200, then the memory figures, then SIGKILL. */
async function measuredStart(configFile: string, port: number): Promise<{ readyMs: number; peakMiB: number; rssMiB: number }> {
  const t0 = performance.now();
  const gw = spawnGatewayBundle(['run', '--config', configFile], {}, { build: false });
  await untilReady(port, gw.child);
  const readyMs = performance.now() - t0;
  const mem = memoryOf(gw.child.pid as number);
  await kill9(gw);
  return { readyMs, ...mem };
}

/** Makes the backlog: `records` session updates, 4 per session, 32 terminals' worth of concurrency. */
async function makeBacklog(configFile: string, port: number, records: number): Promise<void> {
  const gw = spawnGatewayBundle(['run', '--config', configFile]);
  await untilReady(port, gw.child);
  const agent = new Agent({ connections: 32, pipelining: 1 });
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let n = next++; n < records; n = next++) {
          const session = Math.floor(n / 4);
          const items = 1 + (n % 4);
          const body = JSON.stringify({
            customerSession: {
              profileId: `cust-${session % 5000}`,
              cartItems: Array.from({ length: items }, (_, i) => ({ sku: `SKU-${(session * 7 + i) % 997}`, name: `Item ${i}`, quantity: 1 + (i % 2), price: 4.99 + i, category: i % 2 ? 'Kitchen' : 'Apparel' })),
              attributes: { terminal: 'T1' },
            },
          });
          const res = await request(`http://127.0.0.1:${port}/v2/customer_sessions/startup-${session}`, {
            method: 'PUT',
            headers: { authorization: `ApiKey-v1 ${TOKEN}`, 'content-type': 'application/json' },
            body,
            dispatcher: agent,
          });
          await res.body.dump();
          if (res.statusCode !== 200) throw new Error(`backlog update answered ${res.statusCode}`);
        }
      }),
    );
  } finally {
    await agent.close();
    await kill9(gw);
  }
}

function forgetSnapshots(dir: string): void {
  for (const f of ['sessions.json', 'ledger.json']) rmSync(path.join(dir, 'var', 'state', f), { force: true });
}

export async function run(args: string[]): Promise<void> {
  const records = arg(args, '--records', 100_000);
  const starts = arg(args, '--starts', 3);
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-startup-'));
  const empty = mkdtempSync(path.join(tmpdir(), 'sg-bench-startup-empty-'));
  try {
    const port = await freePort();
    const configFile = writeConfig(dir, port);
    const emptyConfig = writeConfig(empty, port);
    const t0 = performance.now();
    await makeBacklog(configFile, port, records);
    console.log(`backlog: ${records.toLocaleString('en-US')} records in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const rows: { name: string; readyMs: number; peakMiB: number; rssMiB: number }[] = [];
    for (let i = 0; i < starts; i++) {
      rmSync(path.join(empty, 'var'), { recursive: true, force: true });
      rows.push({ name: 'empty data dir (baseline)', ...(await measuredStart(emptyConfig, port)) });
      forgetSnapshots(dir);
      rows.push({ name: `${records.toLocaleString('en-US')} undelivered records, no snapshots`, ...(await measuredStart(configFile, port)) });
    }
    const med = (name: string, k: 'readyMs' | 'peakMiB' | 'rssMiB') => {
      const v = rows.filter((r) => r.name === name).map((r) => r[k]).sort((a, b) => a - b);
      return v[Math.floor(v.length / 2)] as number;
    };
    const names = [...new Set(rows.map((r) => r.name))];
    printTable(`Start to /readyz 200, shipped bundle, median of ${starts} starts`, ['data dir', 'spawn → ready, ms', 'peak RSS, MiB', 'RSS when ready, MiB'], names.map((n) => [n, med(n, 'readyMs'), med(n, 'peakMiB'), med(n, 'rssMiB')]));
    const full = names[1] as string;
    printTable('Targets', ['target', 'measured', 'verdict'], [
      [`spawn → /readyz with ${records.toLocaleString('en-US')} undelivered ≤ 2 s`, `${Math.round(med(full, 'readyMs'))} ms`, verdict(med(full, 'readyMs') <= 2000)],
      ['peak RSS of that restart ≤ 120 MiB', `${med(full, 'peakMiB').toFixed(1)} MiB`, verdict(med(full, 'peakMiB') <= 120)],
    ]);
  } finally {
    if (args.includes('--keep')) {
      console.log(`kept: ${configFile(dir)} (backlog), ${configFile(empty)} (empty)`);
    } else {
      rmSync(dir, { recursive: true, force: true });
      rmSync(empty, { recursive: true, force: true });
    }
  }
}

const configFile = (dir: string) => path.join(dir, 'config.json');
