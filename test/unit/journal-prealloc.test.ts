/**
 * Preallocation: the active segment keeps zero-filled space ahead of the data so each sync flushes data only.
 * What users depend on: no record is ever overwritten by a fill, a file with zeros after its data opens cleanly
 * and keeps appending after the data, sealed segments give their zeros back, and a fill that fails (a full
 * disk) changes nothing but speed.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, type JournalOptions } from '../../src/journal/index.js';
import { nodeFileOps, type JournalFileOps, type SegmentHandle } from '../../src/journal/file-ops.js';
import { scanSegment } from '../../src/journal/segment.js';
import { ManualClock } from '../../src/platform/clock.js';
import { captureLog, segmentFiles, tempDir } from '../helpers/journal-fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
const clock = new ManualClock();

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  await cleanup();
});

const opts = (extra: Partial<JournalOptions> = {}): JournalOptions => ({ dir, maxBytes: 1 << 28, clock, ...extra });
const pad = 'p'.repeat(1000);

/** Wraps zeroFill: `gate` holds every fill until released; `fail` makes fills throw ENOSPC. */
function gatedFills(): { ops: JournalFileOps; fills: [number, number][]; release: () => void; fail: { on: boolean } } {
  const fills: [number, number][] = [];
  let open: () => void = () => undefined;
  let gate = new Promise<void>((r) => (open = r));
  const fail = { on: false };
  const wrap = (h: SegmentHandle): SegmentHandle => ({
    write: (d, p) => h.write(d, p),
    writeSync: (d, p) => h.writeSync(d, p),
    datasync: () => h.datasync(),
    datasyncSync: () => h.datasyncSync(),
    truncate: (n) => h.truncate(n),
    async zeroFill(from, to) {
      fills.push([from, to]);
      if (fail.on) throw Object.assign(new Error('ENOSPC: injected'), { code: 'ENOSPC' });
      await gate;
      return h.zeroFill(from, to);
    },
    close: () => h.close(),
  });
  const ops: JournalFileOps = {
    ...nodeFileOps,
    openSegment: async (p) => wrap(await nodeFileOps.openSegment(p)),
    createSegment: async (p) => wrap(await nodeFileOps.createSegment(p)),
  };
  return {
    ops,
    fills,
    fail,
    release: () => {
      open();
      gate = Promise.resolve();
    },
  };
}

describe('journal preallocation', () => {
  it('keeps zeros ahead of the data; the file reopens with every record, no warning, and appends after the data', async () => {
    const j = await Journal.open(opts());
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await j.append({ key: 'k', kind: 'x', payload: { i, pad } })).id);
    await j.close(); // waits for the fill in flight
    const seg = join(dir, (await segmentFiles(dir))[0] as string);
    const data = j.stats().bytes;
    expect((await stat(seg)).size).toBeGreaterThan(data + 1024 * 1024);
    const { log, lines } = captureLog();
    const j2 = await Journal.open(opts({ log }));
    expect(j2.undelivered().map((e) => e.id)).toEqual(ids);
    expect(j2.stats().bytes).toBe(data);
    expect(lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
    const next = await j2.append({ key: 'k', kind: 'x', payload: 'after' });
    await j2.close();
    const scan = scanSegment(await readFile(seg), true);
    expect(scan.records.map((r) => r.id)).toEqual([...ids, next.id]);
    expect(scan.corrupt).toEqual([]);
  });

  it('never writes a batch where a fill in flight could land: batches past its start wait, and no record is zeroed', async () => {
    const { ops, fills, release } = gatedFills();
    // 1 MiB segments: the first fill starts 64 KiB past the data (headroom) and is held open by the gate.
    const j = await Journal.open(opts({ fileOps: ops, segmentBytes: 1024 * 1024 }));
    expect(fills).toHaveLength(1);
    const [from] = fills[0] as [number, number];
    const acked: string[] = [];
    const appends: Promise<void>[] = [];
    // One basket at a time, until one stays unanswered: the batch that would cross the fill's start.
    let waiting = false;
    for (let i = 0; i < 120; i++) {
      const p = j.append({ key: 'k', kind: 'x', payload: { i, pad } }).then((e) => void acked.push(e.id));
      appends.push(p);
      if (!waiting) waiting = (await Promise.race([p.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 50))])) === true;
    }
    expect(waiting).toBe(true);
    // Everything that fits before the fill's start was written and acknowledged; the rest waits for the fill.
    expect(acked.length).toBeGreaterThan(30);
    expect(acked.length).toBeLessThan(120);
    expect(j.stats().bytes).toBeLessThanOrEqual(from);
    release();
    await Promise.all(appends);
    await j.close();
    const j2 = await Journal.open(opts());
    expect(j2.undelivered().map((e) => e.id)).toEqual(acked);
    expect(j2.undelivered().map((e) => (e.payload as { i: number }).i)).toEqual(Array.from({ length: 120 }, (_, i) => i));
    await j2.close();
  });

  it('a sealed segment gives its unused zeros back (the file is cut to its data)', async () => {
    const j = await Journal.open(opts({ segmentBytes: 256 * 1024 }));
    for (let i = 0; i < 400; i++) await j.append({ key: 'k', kind: 'x', payload: { i, pad } });
    await j.close();
    const files = await segmentFiles(dir);
    expect(files.length).toBeGreaterThan(1);
    for (const f of files.slice(0, -1)) {
      const buf = await readFile(join(dir, f));
      expect(scanSegment(buf, false).end).toBe(buf.length);
    }
  });

  it('a fill that fails (ENOSPC) is logged once and changes nothing but speed', async () => {
    const { ops, fills, fail } = gatedFills();
    fail.on = true;
    const { log, lines } = captureLog();
    const j = await Journal.open(opts({ fileOps: ops, log }));
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push((await j.append({ key: 'k', kind: 'x', payload: { i, pad } })).id);
    await j.close();
    expect(fills).toHaveLength(1); // no retry storm within the segment
    expect(lines.filter((l) => String(l.msg).includes('could not preallocate'))).toHaveLength(1);
    const j2 = await Journal.open(opts());
    expect(j2.undelivered().map((e) => e.id)).toEqual(ids);
    await j2.close();
  });
});
