/**
 * Bundles the emulator CLI (scripts/talon-emulator.ts) into one ESM file, build/talon-emulator.mjs, run as
 * `node build/talon-emulator.mjs --port N --api-key KEY [...]` (same arguments as the tsx entry point).
 *
 * For benchmarks: under tsx the emulator pays for the on-the-fly compiler (a loader thread, ~30 MB more RSS,
 * slower start) and for esbuild's keep-names helper on every closure it creates; the bundle does not.
 *
 *   tsx scripts/talon-emulator/bundle.ts [--outfile FILE]
 */
import { buildSync } from 'esbuild';
import { NODE_BUNDLE } from '../esbuild-node.js';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');

/** Where `buildEmulatorBundle()` writes by default. */
export const EMULATOR_BUNDLE = path.join(ROOT, 'build', 'talon-emulator.mjs');

/**
 * Builds the emulator bundle (synchronously, ~0.1 s) and returns its absolute path. The default campaigns
 * file stays scripts/talon-emulator/campaigns.json (its absolute path is compiled in), so the bundle can
 * live anywhere.
 */
export function buildEmulatorBundle(outfile: string = EMULATOR_BUNDLE): string {
  const out = path.resolve(outfile);
  buildSync({
    entryPoints: [path.join(ROOT, 'scripts', 'talon-emulator.ts')],
    ...NODE_BUNDLE,
    outfile: out,
    define: { __TALON_EMULATOR_CAMPAIGNS_FILE__: JSON.stringify(path.join(HERE, 'campaigns.json')) },
  });
  return out;
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  const at = process.argv.indexOf('--outfile');
  const out = buildEmulatorBundle(at > 0 && process.argv[at + 1] ? process.argv[at + 1] : EMULATOR_BUNDLE);
  console.log(`built ${path.relative(process.cwd(), out)}; run it as node ${path.relative(process.cwd(), out)} --port N --api-key KEY`);
}
