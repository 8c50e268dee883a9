/**
 * `npm run build`: bundles the daemon into one ESM file, build/storegate.mjs, run as `node build/storegate.mjs`.
 * This is the form the benchmark measures (tsx's on-the-fly compiler alone adds ~60 MB of RSS), and the input
 * of the single-binary build. The built-in defaults are embedded; sample data stays in config/.
 */
import { chmodSync } from 'node:fs';
import { build } from 'esbuild';
import { NODE_BUNDLE } from './esbuild-node.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root }).toString().trim();
} catch {
  // not a git checkout: keep "unknown"
}

/**
 * V8 flags the daemon runs with (the bundle's shebang carries them; the benchmark reads them from there).
 * Measured on the 2-core target under 32 concurrent session updates: without them V8 lets the heap grow to
 * ~100 MB of mostly garbage (RSS ~160 MB). A 4 MB semi-space and a slower heap growth keep RSS near 90 MB at
 * the same CPU per request (8 MB semi-spaces: ~98 MB; 2 MB: no lower, more scavenges). `--optimize-for-size`
 * reached 93 MB but cost 60% more CPU per request.
 */
export const RUNTIME_FLAGS = ['--max-semi-space-size=4', '--heap-growing-percent=15'];

/**
 * glibc malloc settings, set by the shebang (`env -S NAME=VALUE node …`) and by the systemd unit. V8's optimising
 * compiler briefly mallocs tens of MB of zone memory; with glibc's sliding mmap threshold those blocks end up
 * on the brk heap and stay resident after they are freed (~8 MB of RSS). A fixed threshold returns them.
 */
export const RUNTIME_ENV = ['MALLOC_MMAP_THRESHOLD_=65536'];

// `--outfile F` lets tests build a private copy without touching build/.
const at = process.argv.indexOf('--outfile');
const outfile = at > 0 && process.argv[at + 1] ? path.resolve(process.argv[at + 1] as string) : path.join(root, 'build', 'storegate.mjs');

await build({
  entryPoints: [path.join(root, 'src', 'main.ts')],
  ...NODE_BUNDLE,
  outfile,
  minifyWhitespace: true,
  minifySyntax: true,
  // CommonJS dependencies call require() for Node built-ins; give the ESM bundle a real one.
  banner: {
    js: `#!/usr/bin/env -S ${RUNTIME_ENV.join(' ')} node ${RUNTIME_FLAGS.join(' ')}\nimport { createRequire as __sgCreateRequire } from 'node:module'; const require = __sgCreateRequire(import.meta.url);`,
  },
  define: { 'process.env.STOREGATE_GIT_COMMIT': JSON.stringify(commit) },
});
chmodSync(outfile, 0o755);
console.log(`built ${path.relative(root, outfile)} (commit ${commit}); run it as ./${path.relative(root, outfile)} run --config FILE`);
