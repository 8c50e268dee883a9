import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, type JournalOptions } from '../../src/journal/index.js';
import { ManualClock } from '../../src/platform/clock.js';
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

  it('appends arriving during a sync go into the next batch, and each resolves only after its own sync', async () => {
    const { ops, counts } = faultyOps();
    const j = await Journal.open(opts({ fileOps: ops }));
    counts.datasync = 0;
    const order: string[] = [];
    const first = j.append({ key: 'a', kind: 'x', payload: 1 }).then(() => order.push(`a@${counts.datasync}`));
    await Promise.resolve();
    await Promise.resolve(); // first batch is now committing
    const later = Array.from({ length: 10 }, (_, i) => j.append({ key: 'b', kind: 'x', payload: i }).then(() => order.push(`b@${counts.datasync}`)));
    await Promise.all([first, ...later]);
    expect(order[0]).toBe('a@1');
    expect(order.slice(1).every((o) => o === 'b@2')).toBe(true);
    expect(counts.datasync).toBe(2);
    await j.close();
  });
});

describe('I/O errors', () => {
  it('ENOSPC after a partial write: the batch rejects with SG_ERR_JOURNAL_WRITE, the file is cut back, later appends work', async () => {
    const { ops, plan } = faultyOps();
    const { log, lines } = captureLog();
    const j = await Journal.open(opts({ fileOps: ops, log }));
    const a = await j.append({ key: 'k', kind: 'x', payload: 'before' });
    const size = await segSize();
    Object.assign(plan, { failWrites: 1, partial: 50, code: 'ENOSPC' });
    const batch = await Promise.allSettled([1, 2, 3].map((i) => j.append({ key: 'k', kind: 'x', payload: i })));
    for (const r of batch) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'SG_ERR_JOURNAL_WRITE', statusCode: 503, retryable: true });
    }
    expect(await segSize()).toBe(size);
    expect(j.stats()).toMatchObject({ depth: 1, lastSeq: 1, bytes: size });
    expect(lines.some((l) => String(l.msg).includes('truncated back'))).toBe(true);
    const b = await j.append({ key: 'k', kind: 'x', payload: 'after' });
    expect(b.seq).toBeGreaterThan(a.seq);
    await j.close();
    const { log: log2, lines: lines2 } = captureLog();
    const j2 = await Journal.open(opts({ log: log2 }));
    expect(j2.undelivered().map((e) => e.payload)).toEqual(['before', 'after']);
    expect(lines2.filter((l) => (l.level as number) >= 40)).toEqual([]);
    await j2.close();
  });

  it('a failed fdatasync rolls the batch back too', async () => {
    const { ops, plan } = faultyOps();
    const j = await Journal.open(opts({ fileOps: ops }));
    await j.append({ key: 'k', kind: 'x', payload: 0 });
    const size = await segSize();
    Object.assign(plan, { failSyncs: 1, code: 'EIO' });
    await expect(j.append({ key: 'k', kind: 'x', payload: 1 })).rejects.toMatchObject({ code: 'SG_ERR_JOURNAL_WRITE' });
    expect(await segSize()).toBe(size);
    await j.append({ key: 'k', kind: 'x', payload: 2 });
    await j.close();
    const j2 = await Journal.open(opts());
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
    const j = await Journal.open(opts({ fileOps: flaky, segmentBytes: 4096 }));
    await j.append({ key: 'k', kind: 'x', payload: 'a'.repeat(3000) });
    failCreate = true;
    await expect(j.append({ key: 'k', kind: 'x', payload: 'b'.repeat(3000) })).rejects.toMatchObject({ code: 'SG_ERR_JOURNAL_WRITE' });
    failCreate = false;
    await j.append({ key: 'k', kind: 'x', payload: 'c' });
    await j.close();
    const j2 = await Journal.open(opts({ segmentBytes: 4096 }));
    expect(j2.undelivered().map((e) => (e.payload as string)[0])).toEqual(['a', 'c']);
    await j2.close();
  });

  it('if the failed batch cannot be truncated away, the journal refuses appends until reopened', async () => {
    const { ops, plan } = faultyOps();
    const { log, lines } = captureLog();
    const j = await Journal.open(opts({ fileOps: ops, log }));
    await j.append({ key: 'k', kind: 'x', payload: 0 });
    Object.assign(plan, { failWrites: 1, partial: 10, failTruncates: 1, code: 'EIO' });
    await expect(j.append({ key: 'k', kind: 'x', payload: 1 })).rejects.toMatchObject({ code: 'SG_ERR_JOURNAL_WRITE' });
    await expect(j.append({ key: 'k', kind: 'x', payload: 2 })).rejects.toMatchObject({ code: 'SG_ERR_JOURNAL_WRITE', statusCode: 503 });
    expect(lines.some((l) => l.level === 60)).toBe(true);
    await j.close();
    // On reopen the 10 stray bytes are a torn tail: dropped, and the journal works again.
    const j2 = await Journal.open(opts());
    expect(j2.undelivered().map((e) => e.payload)).toEqual([0]);
    await j2.append({ key: 'k', kind: 'x', payload: 3 });
    await j2.close();
  });
});
