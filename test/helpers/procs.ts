import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { APP_DIR } from '../../src/config/load.js';

/** A free TCP port on loopback (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Builds the daemon bundle (as shipped) into `file`. */
export function buildBundle(file: string): string {
  execFileSync(process.execPath, ['--import', 'tsx', path.join(APP_DIR, 'scripts', 'build.ts'), '--outfile', file], { cwd: APP_DIR, stdio: 'ignore' });
  return file;
}

/** Starts `storegate run --config FILE` from a bundle as a child process (killable with SIGKILL). */
export function spawnGateway(bundle: string, configFile: string, stdout: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  return spawn(process.execPath, [bundle, 'run', '--config', configFile], {
    env: { ...process.env, STOREGATE_APP_DIR: APP_DIR },
    stdio: ['ignore', stdout, 'pipe'],
  });
}

/** Waits for `/readyz` 200 on `port`; fails with the child's stderr if it exits or is not ready in time. */
export async function waitReady(child: ChildProcess, port: number, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode} during start: ${stderr}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(300) });
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error(`gateway not ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
