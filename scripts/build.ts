/**
 * `npm run build`: bundles the daemon into one ESM file, build/storegate.mjs, run as `node build/storegate.mjs`.
 * This is the form the benchmark measures (tsx's on-the-fly compiler alone adds ~60 MB of RSS), and the input
 * of the single-binary build. The built-in defaults are embedded; sample data stays in config/.
 */
import { build } from 'esbuild';
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

// `--outfile F` lets tests build a private copy without touching build/.
const at = process.argv.indexOf('--outfile');
const outfile = at > 0 && process.argv[at + 1] ? path.resolve(process.argv[at + 1] as string) : path.join(root, 'build', 'storegate.mjs');

await build({
  entryPoints: [path.join(root, 'src', 'main.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  legalComments: 'none',
  // CommonJS dependencies call require() for Node built-ins; give the ESM bundle a real one.
  banner: { js: "import { createRequire as __sgCreateRequire } from 'node:module'; const require = __sgCreateRequire(import.meta.url);" },
  define: { 'process.env.STOREGATE_GIT_COMMIT': JSON.stringify(commit) },
  logLevel: 'warning',
});
console.log(`built ${path.relative(root, outfile)} (commit ${commit})`);
