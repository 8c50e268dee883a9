import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, type JournalOptions } from '../../src/journal/index.js';
import { ManualClock } from '../../src/platform/clock.js';
import { nodeFileOps, type JournalFileOps, type SegmentHandle } from '../../src/journal/file-ops.js';
import { SyncPacer } from '../../src/journal/sync-pacer.js';
import { captureLog, faultyOps, segmentFiles, tempDir } from '../helpers/journal-fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
const clock = new ManualClock();

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  await cleanup();
});

const opts = (extra: Partial<JournalOptions> = {}): JournalOptions => ({ dir, maxBytes: 1 << 26, clock, ...extra });
const segSize = async () => (await stat(join(dir, (await segmentFiles(dir)).at(-1) as string))).size;

/**
 * A disk whose syncs take exactly `delay.ms` of the journal's (manual) clock, counting which path was used.
 * The real fdatasync is skipped and sync time is the clock's, so neither the machine's disk nor a busy host
 * can sway the pacing; the bytes still reach the file (page cache), which is all the reopen below needs.
 */
function slowDisk(delay: { ms: number }): { ops: JournalFileOps; paths: { inline: number; pooled: number } } {
  const paths = { inline: 0, pooled: 0 };
  const spin = () => clock.advance(delay.ms);
  const wrap = (h: SegmentHandle): SegmentHandle => ({
    write: (d, p) => h.write(d, p),
    writeSync: (d, p) => h.writeSync(d, p),
    async datasync() {
      paths.pooled += 1;
      await new Promise((r) => setImmediate(r));
      clock.advance(delay.ms);
    },
    datasyncSync() {
      paths.inline += 1;
      spin();
    },
    truncate: (n) => h.truncate(n),
    zeroFill: (from, to) => h.zeroFill(from, to),
    close: () => h.close(),
  });
  const ops: JournalFileOps = {
    ...nodeFileOps,
    openSegment: async (p) => wrap(await nodeFileOps.openSegment(p)),
    createSegment: async (p) => wrap(await nodeFileOps.createSegment(p)),
  };
  return { ops, paths };
}

describe('sync pacing (inline on a fast disk, thread pool on a slow one)', () => {
  it('the pacer leaves the loop after a slow sync and comes back once syncs are fast again', () => {
    const p = new SyncPacer(1);
    expect(p.inline()).toBe(true);
    p.record(0.2, true);
    expect(p.inline()).toBe(true);
    p.record(30, true);
    expect(p.inline()).toBe(false);
    let n = 0;
    while (!p.inline()) {
      p.record(0.2, false);
      n += 1;
    }
    expect(n).toBeGreaterThan(3);
    expect(n).toBeLessThan(20);
    expect(new SyncPacer(0).inline()).toBe(false);
  });

  it('a journal on a slow disk stops blocking the loop: later batches go through the thread pool', async () => {
    const delay = { ms: 0 };
    const { ops, paths } = slowDisk(delay);
    const j = await Journal.open(opts({ fileOps: ops })); // the default: inline while syncs average ≤ 2 ms
    for (let i = 0; i < 30; i++) await j.append({ key: 'k', kind: 'x', payload: i });
    expect(paths).toEqual({ inline: 30, pooled: 0 }); // instant syncs stay on the loop
    delay.ms = 20;
    for (let i = 0; i < 5; i++) await j.append({ key: 'k', kind: 'x', payload: i });
    expect(paths).toEqual({ inline: 31, pooled: 4 }); // one slow sync blocked the loop, the rest went to the pool
    delay.ms = 0;
    const before = paths.inline;
    for (let i = 0; i < 15; i++) await j.append({ key: 'k', kind: 'x', payload: i });
    expect(paths.inline).toBeGreaterThan(before); // fast again: back on the loop
    await j.close();
    const j2 = await Journal.open(opts());
    expect(j2.undelivered()).toHaveLength(50);
    await j2.close();
  });
});

describe('group commit', () => {
  it('64 concurrent appends share far fewer datasyncs than appends', async () => {
    const { ops, counts } = faultyOps();
    const j = await Journal.open(opts({ fileOps: ops }));
    counts.datasync = 0;
    const all = await Promise.all(Array.from({ length: 64 }, (_, i) => j.append({ key: `k${i % 8}`, kind: 'x', payload: { i, pad: 'p'.repeat(1000) } })));
    expect(all).toHaveLength(64);
    expect(counts.datasync).toBeLessThanOrEqual(4);
    await j.close();
  });

  it('through the thread pool: appends arriving during a sync go into the next batch, and each resolves only after its own sync', async () => {
    const { ops, counts } = faultyOps();
    const j = await Journal.open(opts({ fileOps: ops, inlineSyncMaxMs: 0 }));
    counts.datasync = 0;
    counts.writes = 0;
    const order: string[] = [];
    const first = j.append({ key: 'a', kind: 'x', payload: 1 }).then(() => order.push(`a@${counts.datasync}`));
    while (counts.writes === 0) await new Promise((r) => setImmediate(r)); // first batch is now committing
    const later = Array.from({ length: 10 }, (_, i) => j.append({ key: 'b', kind: 'x', payload: i }).then(() => order.push(`b@${counts.datasync}`)));
    await Promise.all([first, ...later]);
    expect(order[0]).toBe('a@1');
    expect(order.slice(1).every((o) => o === 'b@2')).toBe(true);
    expect(counts.datasync).toBe(2);
    await j.close();
  });

  it('inline on a fast disk: one loop turn is one batch (one sync), and each append resolves after the sync that carried it', async () => {
    const { ops, counts } = faultyOps();
    const j = await Journal.open(opts({ fileOps: ops, inlineSyncMaxMs: 1_000 }));
    counts.datasync = 0;
    const order: string[] = [];
    const first = j.append({ key: 'a', kind: 'x', payload: 1 }).then(() => order.push(`a@${counts.datasync}`));
    await new Promise((r) => setImmediate(r)); // the first turn's batch has committed (synchronously)
    expect(counts.datasync).toBe(1);
    const later = Array.from({ length: 10 }, (_, i) => j.append({ key: 'b', kind: 'x', payload: i }).then(() => order.push(`b@${counts.datasync}`)));
    await Promise.all([first, ...later]);
    expect(order[0]).toBe('a@1');
    expect(order.slice(1).every((o) => o === 'b@2')).toBe(true);
    expect(counts.datasync).toBe(2);
    await j.close();
  });
});

describe.each([
  ['inline', 1_000],
  ['through the thread pool', 0],
] as const)('I/O errors, %s', (_mode, inlineSyncMaxMs) => {
  // File sizes are compared before and after a failure: files hold their data only.
  const o = (extra: Partial<JournalOptions> = {}): JournalOptions => opts({ inlineSyncMaxMs, preallocate: false, ...extra });
  it('ENOSPC after a partial write: the batch rejects with SG_ERR_DISK_FULL, the file is cut back, later appends work', async () => {
    const { ops, plan } = faultyOps();
    const { log, lines } = captureLog();
    const j = await Journal.open(o({ fileOps: ops, log }));
    const a = await j.append({ key: 'k', kind: 'x', payload: 'before' });
    const size = await segSize();
    Object.assign(plan, { failWrites: 1, partial: 50, code: 'ENOSPC' });
    const batch = await Promise.allSettled([1, 2, 3].map((i) => j.append({ key: 'k', kind: 'x', payload: i })));
    for (const r of batch) {
      expect(r.status).toBe('rejected');
      // A full disk has its own code, named in the error body (README "Error codes").
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'SG_ERR_DISK_FULL', statusCode: 503, retryable: true, details: [expect.objectContaining({ message: expect.stringContaining('ENOSPC') })] });
    }
    expect(await segSize()).toBe(size);
    expect(j.stats()).toMatchObject({ depth: 1, lastSeq: 1, bytes: size });
    expect(lines.some((l) => String(l.msg).includes('truncated back'))).toBe(true);
    const b = await j.append({ key: 'k', kind: 'x', payload: 'after' });
    expect(b.seq).toBeGreaterThan(a.seq);
    await j.close();
    const { log: log2, lines: lines2 } = captureLog();
    const j2 = await Journal.open(o({ log: log2 }));
    expect(j2.undelivered().map((e) => e.payload)).toEqual(['before', 'after']);
    expect(lines2.filter((l) => (l.level as number) >= 40)).toEqual([]);
    await j2.close();
  });

  it('a failed fdatasync rolls the batch back too', async () => {
    const { ops, plan } = faultyOps();
    const j = await Journal.open(o({ fileOps: ops }));
    await j.append({ key: 'k', kind: 'x', payload: 0 });
    const size = await segSize();
    Object.assign(plan, { failSyncs: 1, code: 'EIO' });
    await expect(j.append({ key: 'k', kind: 'x', payload: 1 })).rejects.toMatchObject({ code: 'SG_ERR_JOURNAL_WRITE' });
    expect(await segSize()).toBe(size);
    await j.append({ key: 'k', kind: 'x', payload: 2 });
    await j.close();
    const j2 = await Journal.open(o());
    expect(j2.undelivered().map((e) => e.payload)).toEqual([0, 2]);
    await j2.close();
  });

  it('a failure to create a new segment rejects the batch and leaves the journal usable', async () => {
    const { ops } = faultyOps();
    let failCreate = false;
    const flaky = {
      ...ops,
      createSegment: async (p: string) => {
        if (failCreate) throw Object.assign(new Error('ENOSPC: injected'), { code: 'ENOSPC' });
        return ops.createSegment(p);
      },
    };
    const j = await Journal.open(o({ fileOps: flaky, segmentBytes: 4096 }));
    await j.append({ key: 'k', kind: 'x', payload: 'a'.repeat(3000) });
    failCreate = true;
    await expect(j.append({ key: 'k', kind: 'x', payload: 'b'.repeat(3000) })).rejects.toMatchObject({ code: 'SG_ERR_DISK_FULL' });
    failCreate = false;
    await j.append({ key: 'k', kind: 'x', payload: 'c' });
    await j.close();
    const j2 = await Journal.open(o({ segmentBytes: 4096 }));
    expect(j2.undelivered().map((e) => (e.payload as string)[0])).toEqual(['a', 'c']);
    await j2.close();
  });

  it('if the failed batch cannot be truncated away, the journal refuses appends until reopened', async () => {
    const { ops, plan } = faultyOps();
    const { log, lines } = captureLog();
    const j = await Journal.open(o({ fileOps: ops, log }));
    await j.append({ key: 'k', kind: 'x', payload: 0 });
    Object.assign(plan, { failWrites: 1, partial: 10, failTruncates: 1, code: 'EIO' });
    await expect(j.append({ key: 'k', kind: 'x', payload: 1 })).rejects.toMatchObject({ code: 'SG_ERR_JOURNAL_WRITE' });
    await expect(j.append({ key: 'k', kind: 'x', payload: 2 })).rejects.toMatchObject({ code: 'SG_ERR_JOURNAL_WRITE', statusCode: 503 });
    expect(lines.some((l) => l.level === 60)).toBe(true);
    await j.close();
    // On reopen the 10 stray bytes are a torn tail: dropped, and the journal works again.
    const j2 = await Journal.open(o());
    expect(j2.undelivered().map((e) => e.payload)).toEqual([0]);
    await j2.append({ key: 'k', kind: 'x', payload: 3 });
    await j2.close();
  });
});
