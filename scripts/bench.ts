/**
 * `npm run bench -- <name> [args]`: bundles the benchmarks (bench/index.ts and what it imports from src/) with
 * esbuild into build/bench.mjs, the way `npm run build` ships the daemon, and runs that with plain `node`.
 * The benchmarks so measure the code as shipped: no on-the-fly compiler in the process, and no `keepNames`
 * (tsx's transform wraps every function literal in `__name(…)`, which costs the engine's per-evaluation
 * closures a few per cent). Dependencies stay external (resolved from node_modules, as at run time).
 * Benchmarks that start their own processes (emulator, gateway) spawn them as before (bench/procs.ts).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { NODE_BUNDLE } from './esbuild-node.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.join(root, 'build', 'bench.mjs');

const result = await build({
  entryPoints: [path.join(root, 'bench', 'index.ts')],
  ...NODE_BUNDLE,
  outfile,
  write: false,
  packages: 'external',
  keepNames: false,
});

// Written under a private name, then renamed: a benchmark started at the same time from another shell
// never reads a half-written bundle.
mkdirSync(path.dirname(outfile), { recursive: true });
for (const f of result.outputFiles) {
  const tmp = `${f.path}.${process.pid}.tmp`;
  writeFileSync(tmp, f.contents);
  renameSync(tmp, f.path);
}

const args = process.argv.slice(2).filter((a) => a !== '--');
const child = spawn(process.execPath, [outfile, ...args], { cwd: root, stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
