/** Child processes for benchmarks: the gateway and the emulator run as real, separate processes. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Proc {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** A free loopback port (bound then released; fine for a benchmark on a quiet machine). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** Runs a TypeScript entry point with tsx in its own Node process. */
export function spawnTs(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  return spawnNode(['--import', 'tsx', path.join(ROOT, entry), ...args], env);
}

/**
 * Builds the daemon bundle (`npm run build`; `build: false` reuses the last build) and runs it as production does, with the environment and V8 flags
 * of its shebang line (`#!/usr/bin/env -S NAME=VALUE node <flags>`).
 */
export function spawnGatewayBundle(args: string[], env: NodeJS.ProcessEnv = {}, o: { build?: boolean; node?: string } = {}): Proc & { flags: string[]; env: string[] } {
  if (o.build !== false) execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'build.ts')], { cwd: ROOT, stdio: 'ignore' });
  const bundle = path.join(ROOT, 'build', 'storegate.mjs');
  const shebang = readFileSync(bundle, 'utf8').slice(0, 300).split('\n', 1)[0] ?? '';
  const words = shebang.split(/\s+/);
  const flags = words.filter((a) => a.startsWith('--'));
  const assigns = words.filter((a) => /^[A-Z_]+=/.test(a));
  const shebangEnv = Object.fromEntries(assigns.map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
  return { ...spawnNode([...flags, bundle, ...args], { ...shebangEnv, ...env }, o.node), flags, env: assigns };
}

/**
 * Builds the emulator bundle (scripts/talon-emulator/bundle.ts) and runs it with plain node: under tsx the
 * emulator pays for the on-the-fly compiler, which is not what a benchmark of the gateway should measure.
 */
export function spawnEmulatorBundle(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'talon-emulator', 'bundle.ts')], { cwd: ROOT, stdio: 'ignore' });
  return spawnNode([path.join(ROOT, 'build', 'talon-emulator.mjs'), ...args], env);
}

function spawnNode(args: string[], env: NodeJS.ProcessEnv, node = process.execPath): Proc {
  const child = spawn(node, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Drain stdout so the child never blocks on a full pipe (the gateway logs a line per request).
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

/** Polls `url` until it answers (any status), for at most `ms`. */
export async function waitForHttp(url: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(500) });
      return;
    } catch {
      if (Date.now() > until) throw new Error(`${url} did not come up within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** CPU time (user + system) a process has used so far, in ms (from /proc/<pid>/stat, 100 ticks/s). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Resident set size of a process, in MB (VmRSS), and its peak (VmHWM). */
export function rssMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}
