/**
 * `npm run bench -- <name> [args]`: runs one benchmark (or all with no name). Each benchmark prints
 * its figures beside a baseline measured in the same run. Traffic stays on loopback. `npm run bench`
 * runs this file from an esbuild bundle (`scripts/bench.ts` → `build/bench.mjs`, plain `node`).
 */
const benches: Record<string, () => Promise<{ run(args: string[]): Promise<void> }>> = {
  connected: () => import('./connected.js'),
  engine: () => import('./engine.js'),
  journal: () => import('./journal.js'),
  flush: () => import('./flush.js'),
  mqtt: () => import('./mqtt.js'),
  crash: () => import('./crash.js'),
  soak: () => import('./soak.js'),
  startup: () => import('./startup.js'),
  serial: () => import('./serial.js'),
  statuspage: () => import('./statuspage.js'),
  trim: () => import('./trim.js'),
  headoffice: () => import('./headoffice.js'),
  tls: () => import('./tls.js'),
};

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2).filter((a) => a !== '--');
  const names = name ? [name] : Object.keys(benches);
  for (const n of names) {
    const load = benches[n];
    if (!load) {
      console.error(`unknown benchmark "${n}"; choose one of: ${Object.keys(benches).join(', ')}`);
      process.exit(2);
    }
    const mod = await load();
    await mod.run(rest);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
