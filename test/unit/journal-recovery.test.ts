import { appendFile, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, type JournalOptions } from '../../src/journal/index.js';
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

/** XORs one byte in place. */
const flip = (b: Buffer, at: number, mask: number): void => {
  b[at] = (b[at] as number) ^ mask;
};

// These tests cut and flip bytes at offsets computed from file sizes: files hold their data only.
const opts = (extra: Partial<JournalOptions> = {}): JournalOptions => ({ dir, maxBytes: 1 << 26, clock, preallocate: false, ...extra });

/** Writes `n` records one by one; returns their ids and the byte range of the last record. */
async function writeRecords(n: number, extra: Partial<JournalOptions> = {}) {
  const j = await Journal.open(opts(extra));
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await j.append({ key: `session:${i % 2}`, kind: 'updateSession', payload: { i } })).id);
  await j.close();
  const files = await segmentFiles(dir);
  const seg = join(dir, files[files.length - 1] as string);
  const bytes = await readFile(seg);
  return { ids, seg, bytes };
}

async function expectCleanReopen(expectedIds: string[]): Promise<void> {
  const { log, lines } = captureLog();
  const j = await Journal.open(opts({ log }));
  expect(j.undelivered().map((e) => e.id)).toEqual(expectedIds);
  expect(lines.filter((l) => l.level === 40 || l.level === 50)).toEqual([]);
  await j.close();
}

describe('Journal recovery: torn tails', () => {
  it('drops exactly the last record when the file is cut at every byte offset inside it', async () => {
    const { ids, seg, bytes } = await writeRecords(4);
    const j0 = await Journal.open(opts());
    const before = (await stat(seg)).size;
    const last = await j0.append({ key: 'session:x', kind: 'updateSession', payload: { last: true, pad: 'z'.repeat(20) } });
    await j0.close();
    const full = await readFile(seg);
    expect(before).toBe(bytes.length);
    for (let cut = before; cut < full.length; cut++) {
      await writeFile(seg, full.subarray(0, cut));
      const { log, lines } = captureLog();
      const j = await Journal.open(opts({ log }));
      expect(j.undelivered().map((e) => e.id)).toEqual(ids);
      if (cut > before) expect(lines.some((l) => String(l.msg).includes('torn tail') && l.offset === before)).toBe(true);
      expect((await stat(seg)).size).toBe(before);
      const next = await j.append({ key: 'k', kind: 'k', payload: cut });
      expect(next.seq).toBe(5);
      expect(next.id).not.toBe(last.id);
      await j.close();
      await expectCleanReopen([...ids, next.id]);
    }
  });

  it('drops exactly the last record when any single byte inside it is flipped', async () => {
    const { ids, seg, bytes } = await writeRecords(4);
    const j0 = await Journal.open(opts());
    await j0.append({ key: 'session:x', kind: 'updateSession', payload: { last: true } });
    await j0.close();
    const full = await readFile(seg);
    for (let at = bytes.length; at < full.length; at++) {
      const damaged = Buffer.from(full);
      damaged[at] = (damaged[at] as number) ^ 0xff;
      await writeFile(seg, damaged);
      const j = await Journal.open(opts());
      expect(j.undelivered().map((e) => e.id)).toEqual(ids);
      expect((await stat(seg)).size).toBe(bytes.length);
      const next = await j.append({ key: 'k', kind: 'k', payload: at });
      await j.close();
      await expectCleanReopen([...ids, next.id]);
    }
  });

  it('reads a zero-filled tail as the end of the data (preallocated space, or an extension whose data never reached the disk)', async () => {
    const { ids, seg, bytes } = await writeRecords(3);
    await appendFile(seg, Buffer.alloc(4096));
    const { log, lines } = captureLog();
    const j = await Journal.open(opts({ log }));
    expect(j.undelivered().map((e) => e.id)).toEqual(ids);
    expect(lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
    // The next record is written right after the data, into the zeros, not after them.
    const next = await j.append({ key: 'k', kind: 'x', payload: 'after' });
    await j.close();
    expect((await stat(seg)).size).toBe(bytes.length + 4096);
    const j2 = await Journal.open(opts());
    expect(j2.undelivered().map((e) => e.id)).toEqual([...ids, next.id]);
    expect(j2.stats().bytes).toBeLessThan(bytes.length + 4096);
    await j2.close();
  });

  it('treats damage inside the last write batch as torn even when later records of that batch survived', async () => {
    const { ids, seg, bytes } = await writeRecords(2);
    const j0 = await Journal.open(opts());
    // One batch of three records (same tick → one group commit).
    await Promise.all([0, 1, 2].map((i) => j0.append({ key: 'b', kind: 'b', payload: { i } })));
    await j0.close();
    const full = await readFile(seg);
    const damaged = Buffer.from(full);
    const recSize = (full.length - bytes.length) / 3;
    flip(damaged, bytes.length + recSize + 20, 0x01); // middle record of the batch
    await writeFile(seg, damaged);
    const { log, lines } = captureLog();
    const j = await Journal.open(opts({ log }));
    expect(j.undelivered().map((e) => e.payload)).toEqual([{ i: 0 }, { i: 1 }, { i: 0 }]);
    expect(j.undelivered().slice(0, 2).map((e) => e.id)).toEqual(ids);
    const warn = lines.find((l) => String(l.msg).includes('torn tail'));
    expect(warn).toMatchObject({ offset: bytes.length + recSize, droppedValidRecords: 1 });
    await j.close();
  });

  it('ignores an empty last segment and removes a stray cursor temp file', async () => {
    const { ids } = await writeRecords(2);
    await writeFile(join(dir, '00000000000000000003.seg'), '');
    await writeFile(join(dir, '.cursor.json.123.abcd.tmp'), '{"v":1');
    const j = await Journal.open(opts());
    expect(j.undelivered().map((e) => e.id)).toEqual(ids);
    expect((await j.append({ key: 'k', kind: 'k', payload: 1 })).seq).toBe(3);
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    await j.close();
  });
});

describe('Journal recovery: corruption of durable records', () => {
  it('rejects open with SG_ERR_JOURNAL_CORRUPT when a middle record is damaged (default policy)', async () => {
    const { seg, bytes } = await writeRecords(5);
    const damaged = Buffer.from(bytes);
    const recSize = Math.floor(bytes.length / 5);
    flip(damaged, recSize + 30, 0x10); // inside record 2: bytes were fsync'd long before record 5
    await writeFile(seg, damaged);
    const err = await Journal.open(opts()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SG_ERR_JOURNAL_CORRUPT' });
    expect((err as Error).message).toContain(seg);
    expect((err as { details: { path: string }[] }).details[0]?.path).toMatch(/@\d+$/);
    // Nothing was truncated: the operator still has the evidence.
    expect((await stat(seg)).size).toBe(bytes.length);
  });

  it('with onCorrupt=skip, logs the damage and keeps every valid record', async () => {
    const { ids, seg, bytes } = await writeRecords(5);
    const damaged = Buffer.from(bytes);
    const recSize = Math.floor(bytes.length / 5);
    flip(damaged, recSize + 30, 0x10);
    await writeFile(seg, damaged);
    const { log, lines } = captureLog();
    const j = await Journal.open(opts({ log, onCorrupt: 'skip' }));
    expect(j.undelivered().map((e) => e.id)).toEqual([ids[0], ids[2], ids[3], ids[4]]);
    expect(lines.some((l) => l.level === 50 && String(l.msg).includes('SG_ERR_JOURNAL_CORRUPT'))).toBe(true);
    await j.append({ key: 'k', kind: 'k', payload: 1 });
    await j.close();
  });

  it('a damaged tail of a sealed (non-last) segment is corruption, not a torn write', async () => {
    const j0 = await Journal.open(opts({ segmentBytes: 4096 }));
    for (let i = 0; i < 10; i++) await j0.append({ key: 'k', kind: 'k', payload: 'q'.repeat(1000) });
    await j0.close();
    const files = await segmentFiles(dir);
    expect(files.length).toBeGreaterThan(1);
    const first = join(dir, files[0] as string);
    const b = await readFile(first);
    await writeFile(first, b.subarray(0, b.length - 7));
    await expect(Journal.open(opts({ segmentBytes: 4096 }))).rejects.toMatchObject({ code: 'SG_ERR_JOURNAL_CORRUPT' });
  });

  it('rejects a malformed cursor file as corruption', async () => {
    await writeRecords(1);
    await writeFile(join(dir, 'cursor.json'), '{"v":1,"lw":');
    await expect(Journal.open(opts())).rejects.toMatchObject({ code: 'SG_ERR_JOURNAL_CORRUPT' });
  });
});
