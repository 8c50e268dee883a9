/**
 * `npm run build`: bundles the daemon into one ESM file, build/storegate.mjs, run as `node build/storegate.mjs`.
 * This is the form the benchmark measures (tsx's on-the-fly compiler alone adds ~60 MB of RSS), and the input
 * of the single-binary build (scripts/build-binary.ts). The built-in defaults are embedded; the sample data
 * stays in config/ and is used only while the bundle sits in its checkout (src/config/load.ts).
 */
import { chmodSync } from 'node:fs';
import { build } from 'esbuild';
import { NODE_BUNDLE } from './esbuild-node.js';
import { RUNTIME_ENV, RUNTIME_FLAGS } from './runtime-flags.js';
import { leanDependencies, optionalStubs, serialportBindings } from './sea/plugins.js';
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

export { RUNTIME_FLAGS, RUNTIME_ENV };

// `--outfile F` lets tests build a private copy without touching build/.
const at = process.argv.indexOf('--outfile');
const outfile = at > 0 && process.argv[at + 1] ? path.resolve(process.argv[at + 1] as string) : path.join(root, 'build', 'storegate.mjs');

await build({
  entryPoints: [path.join(root, 'src', 'main.ts')],
  ...NODE_BUNDLE,
  outfile,
  minifyWhitespace: true,
  minifySyntax: true,
  // serialport's addon is found from node_modules, not beside the bundle (scripts/sea/serialport-bindings.ts).
  plugins: [serialportBindings, optionalStubs, leanDependencies],
  // CommonJS dependencies call require() for Node built-ins; give the ESM bundle a real one.
  banner: {
    js: `#!/usr/bin/env -S ${RUNTIME_ENV.join(' ')} node ${RUNTIME_FLAGS.join(' ')}\nimport { createRequire as __sgCreateRequire } from 'node:module'; const require = __sgCreateRequire(import.meta.url);`,
  },
  define: { 'process.env.STOREGATE_GIT_COMMIT': JSON.stringify(commit) },
});
chmodSync(outfile, 0o755);
console.log(`built ${path.relative(root, outfile)} (commit ${commit}); run it as ./${path.relative(root, outfile)} run --config FILE`);
