import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { LocalData } from '../../src/engine/local-data.js';
import { loadDataFiles } from '../../src/engine/data-files.js';
import { FileSnapshotStore } from '../../src/state/snapshot-store.js';
import { ManualClock } from '../../src/platform/clock.js';

const CONFIG = path.resolve('config');
const log = pino({ level: 'silent' });

/** A data dir and copies of the sample rules and prices, as `dataFiles` would name them. */
function shop() {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-datafiles-'));
  const files = { rules: path.join(dir, 'rules.json'), prices: path.join(dir, 'prices.json') };
  copyFileSync(path.join(CONFIG, 'sample-rules.json'), files.rules);
  copyFileSync(path.join(CONFIG, 'sample-prices.json'), files.prices);
  return { dir, files };
}

/** One start: the snapshots read back, then the data files. */
async function start(dir: string, files: Record<string, string>) {
  const store = new FileSnapshotStore(dir);
  const clock = new ManualClock(Date.parse('2026-12-07T10:00:00Z'));
  const localData = new LocalData({ store, clock, storeIntegrationId: 'store-042' });
  await localData.start();
  const outcome = await loadDataFiles({ localData, store, files, log, now: () => clock.now() });
  return { localData, read: Object.fromEntries(outcome.map((o) => [o.kind, o.read])) };
}

describe('data files at start', () => {
  it('a file unchanged since the last start is not read again; its data is still in use', async () => {
    const { dir, files } = shop();
    const first = await start(dir, files);
    expect(first.read).toEqual({ rules: true, prices: true });
    const versions = { ...first.localData.versions() };
    const second = await start(dir, files);
    expect(second.read).toEqual({ rules: false, prices: false });
    expect(second.localData.versions()).toEqual(versions);
    expect(second.localData.status().pricedSkus).toBe(first.localData.status().pricedSkus);
  });

  it('a file edited since is read again (size or time changed)', async () => {
    const { dir, files } = shop();
    await start(dir, files);
    const rules = JSON.parse(readFileSync(files.rules, 'utf8')) as { version: number };
    rules.version += 1;
    writeFileSync(files.rules, JSON.stringify(rules));
    const t = new Date(Date.now() + 5_000);
    utimesSync(files.prices, t, t); // touched only: read again, found not newer, kept
    const again = await start(dir, files);
    expect(again.read).toEqual({ rules: true, prices: true });
    expect(again.localData.versions().rules).toBe(rules.version);
  });

  it('a data dir that lost its snapshots reads the files again although they are unchanged', async () => {
    const { dir, files } = shop();
    await start(dir, files);
    const fresh = mkdtempSync(path.join(tmpdir(), 'sg-datafiles-'));
    // Only the record of what was read survives (a partial restore): the data itself is gone.
    const store = new FileSnapshotStore(fresh);
    const saved = await new FileSnapshotStore(dir).load('data-files');
    await store.save(saved!);
    const again = await start(fresh, files);
    expect(again.read).toEqual({ rules: true, prices: true });
    expect(again.localData.versions().rules).toBeGreaterThan(0);
  });
});
