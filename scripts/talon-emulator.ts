/**
 * Talon.One Integration API emulator (loopback), for storegate's tests and benchmarks.
 *
 *   npm run emulator -- --port 9000 --api-key KEY [--campaigns FILE] [--host 127.0.0.1]
 *                       [--admin-port N] [--no-record] [--max-recorded N]
 *                       [--management-key KEY] [--management-rate N]
 *
 * Programmatic use: `import { startEmulator } from './talon-emulator/server.js'` (also re-exported here).
 * Details: scripts/talon-emulator/README.md.
 */
import { pathToFileURL } from 'node:url';
import { startEmulator } from './talon-emulator/server.js';
import type { StartOptions } from './talon-emulator/types.js';

export { startEmulator, DEFAULT_CAMPAIGNS_FILE } from './talon-emulator/server.js';
export type { Emulator, Faults, RecordedRequest, StartOptions } from './talon-emulator/types.js';

const USAGE = 'usage: talon-emulator --port N --api-key KEY [--campaigns FILE] [--host 127.0.0.1] [--admin-port N] [--no-record] [--max-recorded N] [--management-key KEY] [--management-rate N]';

export function parseArgs(argv: string[]): StartOptions {
  const opts: Partial<StartOptions> = {};
  const int = (flag: string, v: string | undefined, max = 65535): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0 || n > max) throw new Error(`${flag} needs an integer in 0..${max}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--': break;
      case '--port': opts.port = int(flag, value()); break;
      case '--api-key': opts.apiKey = value(); break;
      case '--campaigns': { const v = value(); if (v !== undefined) opts.campaignsFile = v; break; }
      case '--host': { const v = value(); if (v !== undefined) opts.host = v; break; }
      case '--admin-port': opts.adminPort = int(flag, value()); break;
      case '--no-record': opts.record = false; break;
      case '--max-recorded': opts.maxRecorded = int(flag, value(), 10_000_000); break;
      case '--management-key': { const v = value(); if (v !== undefined) opts.managementKey = v; break; }
      case '--management-rate': opts.managementRatePerSec = int(flag, value(), 10_000); break;
      case '--help': case '-h': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown argument "${a}"`);
    }
  }
  if (!opts.apiKey) throw new Error('--api-key is required');
  return opts as StartOptions;
}

async function main(): Promise<void> {
  let opts: StartOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const emu = await startEmulator(opts);
  console.log(JSON.stringify({ msg: 'talon-emulator listening', url: emu.url, adminUrl: emu.adminUrl ?? null }));
  const shutdown = (): void => { void emu.close().then(() => process.exit(0)); };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
