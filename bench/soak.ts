/**
 * `npm run bench -- soak [--quick] [--sessions N] [--days D] [--terminals T]`: one simulated week of a busy store
 * (default 200,000 sessions from 50 terminals over 7 days), Talon.One unreachable half the time, and what the
 * gateway keeps: RSS, V8 heap, data-dir size and the size of every bounded in-memory map, at the start, at
 * the end of each simulated day, in the middle (half the sessions) and at the end. Targets (issue 10): RSS
 * ≤ 120 MB throughout; the data dir bounded by the retention, not by the number of sessions.
 *
 * Processes. The Talon.One emulator runs in its own process (its bundle, nothing recorded): it keeps every
 * session of the week, which must not count in the gateway's memory. The gateway runs in a worker process
 * started with the daemon's own runtime settings (the V8 flags and malloc setting of the bundle's shebang), as
 * a real `Gateway` in process, because the week's clock is injected: `now()` is the simulated wall time the
 * driver moves (promotion windows, session and replay retention, record ages, snapshots' `savedAt`), while
 * `monotonic()` and `sleep()` stay real, so deadlines, retries, backoff and the flusher's pacing behave as in a
 * shop. The bundle run as a child could not take that clock. The worker's RSS is therefore the gateway's plus
 * the driver's, which keeps only a few counters and 50 terminals' last session ids.
 *
 * Load. Terminals call the gateway's HTTP app through `app.inject` (src/http/inject.ts: the same hooks,
 * authentication, schema validation, routes and answers as a call over the LAN, without sockets): ~700,000
 * calls over loopback HTTP would take the whole 15 minutes on this 2-core machine. Upstream calls are real
 * loopback HTTP to the emulator. Mode `connected`: online, calls go to Talon.One and the sessions are followed;
 * offline (`refuse`: the emulator stops listening), calls are answered locally and journaled, and the flusher
 * delivers the backlog once the probe sees Talon.One again.
 *
 * Week. The store opens 07:00–22:00; sessions are spread evenly over the opening hours (200,000 / 7 days ≈
 * 28,600 a day, one every ~1.9 s). Talon.One is unreachable 02:30–08:30 and 14:30–20:30 every day (6 hours on,
 * 6 off), so half the sessions are answered offline. At 22:00 the terminals stop and the gateway gets (bounded)
 * real time to deliver what is left, as at night. Sessions: 1–4 updates growing a cart of 1–3 lines each, the
 * last one closes (0.5% cancel, 0.5% are abandoned open); 30% carry a coupon (unlimited FREE2, MULTI10 limited
 * to 1,000 uses, or one of 1,000 single-use ONCE-nnnn); 65% a customer profile out of 120,000; every close
 * carries the terminal's own Idempotency-Key and 1% are retried with it; 10% of sessions start with a profile
 * update, 5% with an event, 2% with a balance read, and 2% return a line of one of the terminal's earlier
 * sessions. Deterministic (seeded). Bounded: each night's drain stops after 120 s (30 s with --quick).
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { NODE_BUNDLE } from '../scripts/esbuild-node.js';
import { freePort, ROOT, spawnEmulatorBundle, waitForHttp, type Proc } from './procs.js';

const API_KEY = 'bench-soak-upstream-key-0123456789';

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

export async function run(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const sessions = arg(args, '--sessions', quick ? 20_000 : 200_000);
  const days = arg(args, '--days', 7);
  const terminals = arg(args, '--terminals', 50);
  const dir = path.join(ROOT, '.bench-tmp', `soak-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const procs: Proc[] = [];
  try {
    const port = await freePort();
    const adminPort = await freePort();
    procs.push(spawnEmulatorBundle(['--port', String(port), '--admin-port', String(adminPort), '--api-key', API_KEY, '--no-record']));
    await waitForHttp(`http://127.0.0.1:${adminPort}/_emulator/faults`);
    // The daemon's runtime settings, from the shebang of the bundle as built now.
    execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'build.ts')], { cwd: ROOT, stdio: 'ignore' });
    const words = (readFileSync(path.join(ROOT, 'build', 'storegate.mjs'), 'utf8').split('\n', 1)[0] ?? '').split(/\s+/);
    const flags = words.filter((w) => w.startsWith('--'));
    const env = Object.fromEntries(words.filter((w) => /^[A-Z_]+=/.test(w)).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
    console.log(`soak: ${sessions.toLocaleString('en-US')} sessions, ${terminals} terminals, ${days} simulated days; worker: node ${[...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...flags].join(' ')}`);
    // The worker is bundled the way the daemon is (dependencies inside, whitespace-minified), so its baseline is the daemon's.
    const workerFile = path.join(ROOT, 'build', 'soak-worker.mjs');
    await build({
      entryPoints: [path.join(ROOT, 'bench', 'soak-worker.ts')],
      ...NODE_BUNDLE,
      outfile: workerFile,
      minifyWhitespace: true,
      minifySyntax: true,
      banner: { js: "import { createRequire as __sgCreateRequire } from 'node:module'; const require = __sgCreateRequire(import.meta.url);" },
    });
    const child = spawn(
      process.execPath,
      [...flags, workerFile, '--dir', dir, '--emu', `http://127.0.0.1:${port}`, '--emu-admin', `http://127.0.0.1:${adminPort}`, '--api-key', API_KEY, '--sessions', String(sessions), '--days', String(days), '--terminals', String(terminals), ...(quick ? ['--quick'] : [])],
      { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'inherit' },
    );
    const code = await new Promise<number>((resolve) => child.once('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
    if (code !== 0) throw new Error(`soak worker exited with ${code}`);
  } finally {
    for (const p of procs) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

