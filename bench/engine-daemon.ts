/**
 * The engine benchmark's data in the daemon itself (`npm run bench -- engine --daemon`): the gateway bundle, run as
 * production runs it (its shebang's V8 flags and malloc setting), started offline on the same data files three
 * times — none, rules + prices + coupons, and those + the 100,000-item catalog — and then restarted on the last
 * data dir (the data read back from its snapshots). The RSS once ready, beside the first (no data) as baseline:
 * in-process RSS deltas depend on the pages the process had before (a delta after other work can even be
 * negative), the daemon's is what a shop's mini-PC sees.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, rssMb, spawnGatewayBundle, waitForHttp } from './procs.js';

export interface DaemonMemory {
  baselineMb: number;
  dataMb: number;
  withCatalogMb: number;
  restartMb: number;
  readyMs: { data: number; withCatalog: number; restart: number };
}

async function startOnce(dir: string, name: string, dataFiles: Record<string, string>, build: boolean, dataDir = join(dir, `var-${name}`)): Promise<{ rss: number; ms: number }> {
  const port = await freePort();
  const config = join(dir, `config-${name}.json`);
  writeFileSync(config, JSON.stringify({ store: { integrationId: 'store-042', attributes: { region: 'north' } }, mode: 'offline', dataDir, http: { host: '127.0.0.1', port }, dataFiles, log: { level: 'warn' } }));
  const t0 = performance.now();
  const p = spawnGatewayBundle(['run', '--config', config], {}, { build });
  try {
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, 120_000);
    const ms = performance.now() - t0;
    // Settled: 20 idle seconds, for V8 to give back what the start's garbage made it take (it does so when idle;
    // read at 3 s, the same starts measured 40–100 MB more, and the figures vary by ±20 MB from run to run).
    await new Promise((r) => setTimeout(r, 20_000));
    return { rss: rssMb(p.child.pid as number).rss, ms };
  } finally {
    await p.stop();
  }
}

export async function daemonMemory(dir: string, data: { rules: unknown; prices: unknown; coupons: unknown; catalog: unknown }): Promise<DaemonMemory> {
  mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) {
    files[k] = join(dir, `${k}.json`);
    writeFileSync(files[k] as string, JSON.stringify(v));
  }
  const { catalog, ...rest } = files;
  const base = await startOnce(dir, 'none', {}, true);
  const d = await startOnce(dir, 'data', rest, false);
  const c = await startOnce(dir, 'catalog', { ...rest, catalog: catalog as string }, false);
  const r = await startOnce(dir, 'restart', { ...rest, catalog: catalog as string }, false, join(dir, 'var-catalog'));
  return { baselineMb: base.rss, dataMb: d.rss - base.rss, withCatalogMb: c.rss - base.rss, restartMb: r.rss - base.rss, readyMs: { data: d.ms, withCatalog: c.ms, restart: r.ms } };
}
