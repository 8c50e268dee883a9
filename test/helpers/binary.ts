/**
 * The single binary for end-to-end tests: built once (`npm run build:binary -- --if-changed`, x64) however many
 * test files ask at the same time (a lock folder serialises them; the second build finds nothing changed), or
 * taken from `$STOREGATE_BINARY` when a CI step built it already.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { APP_DIR } from '../../src/config/load.js';

const run = promisify(execFile);
export const BINARY = process.env.STOREGATE_BINARY ?? path.join(APP_DIR, 'dist', 'storegate-linux-x64');
const LOCK = path.join(APP_DIR, 'build', '.binary-build.lock');

export async function ensureBinary(): Promise<string> {
  if (process.env.STOREGATE_BINARY) return BINARY;
  mkdirSync(path.dirname(LOCK), { recursive: true });
  const until = Date.now() + 240_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // Another test file is building; a lock left by a killed run is stale after 5 minutes.
      const held = statSync(LOCK, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 300_000) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > until) throw new Error(`binary build lock ${LOCK} held too long`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    await run(process.execPath, ['--import', 'tsx', path.join(APP_DIR, 'scripts', 'build-binary.ts'), '--if-changed'], { cwd: APP_DIR, maxBuffer: 16 << 20 });
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
  return BINARY;
}
