import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoregateError } from '../../src/core/errors.js';
import { Journal, type JournalOptions } from '../../src/journal/index.js';
import { ManualClock } from '../../src/platform/clock.js';
import { faultyOps, segmentFiles, tempDir } from '../helpers/journal-fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
let clock: ManualClock;
const open: Journal[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  clock = new ManualClock();
});
afterEach(async () => {
  for (const j of open.splice(0)) await j.close();
  await cleanup();
});

async function openJ(extra: Partial<JournalOptions> = {}): Promise<Journal> {
  const j = await Journal.open({ dir, maxBytes: 64 * 1024 * 1024, clock, ...extra });
  open.push(j);
  return j;
}

async function reopen(j: Journal, extra: Partial<JournalOptions> = {}): Promise<Journal> {
  await j.close();
  return openJ(extra);
}

describe('Journal basics', () => {
  it('round-trips records with every field, in seq order, across a reopen', async () => {
    let j = await openJ();
    clock.advance(1500);
    const a = await j.append({ key: 'session:1', kind: 'updateSession', payload: { cart: [1, 2], s: 'ü€' } });
    const b = await j.append({ key: 'profile:9', kind: 'updateProfile', payload: null, id: 'fixed-id' });
    expect(a.seq).toBe(1);
    expect(b.seq).toBe(2);
    expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.id).toBe('fixed-id');
    expect(a.at).toBe(clock.now());
    expect(a.mono).toBe(1500);
    expect(a.payload).toEqual({ cart: [1, 2], s: 'ü€' });

    j = await reopen(j);
    const list = j.undelivered();
    expect(list.map((e) => e.seq)).toEqual([1, 2]);
    expect(JSON.parse(JSON.stringify(list[0]))).toEqual({ ...JSON.parse(JSON.stringify(a)) });
    expect(list[1]).toMatchObject({ id: 'fixed-id', key: 'profile:9', kind: 'updateProfile', payload: null });
    expect(j.get(1)?.payload).toEqual({ cart: [1, 2], s: 'ü€' });
    expect(j.stats()).toMatchObject({ depth: 2, lastSeq: 2, segments: 1 });
  });

  it('keeps call order for concurrent appends and notifies onAppend after durability', async () => {
    const j = await openJ();
    const heard: number[] = [];
    const off = j.onAppend((e) => heard.push(e.seq));
    const all = await Promise.all(Array.from({ length: 50 }, (_, i) => j.append({ key: `k${i % 3}`, kind: 'x', payload: i })));
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(all.map((e) => e.payload)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(heard).toEqual(all.map((e) => e.seq));
    off();
    await j.append({ key: 'k', kind: 'x', payload: 0 });
    expect(heard).toHaveLength(50);
  });

  it('rejects bad input without consuming a seq', async () => {
    const j = await openJ();
    await expect(j.append({ key: '', kind: 'x', payload: 1 })).rejects.toMatchObject({ code: 'SG_ERR_BAD_REQUEST' });
    await expect(j.append({ key: 'k', kind: 'x', payload: { n: 1n } })).rejects.toMatchObject({ code: 'SG_ERR_BAD_REQUEST' });
    expect((await j.append({ key: 'k', kind: 'x', payload: 1 })).seq).toBe(1);
  });

  it('rotates segments and never reuses a seq after every segment is delivered and deleted', async () => {
    let j = await openJ({ segmentBytes: 4096 });
    const big = 'x'.repeat(900);
    const seqs: number[] = [];
    for (let i = 0; i < 20; i++) seqs.push((await j.append({ key: `k${i}`, kind: 'x', payload: big })).seq);
    const files = await segmentFiles(dir);
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(files[0]).toBe('00000000000000000001.seg');
    await j.markDelivered(seqs);
    // Every sealed segment is gone; only the active one remains, and the cursor records hw.
    expect(await segmentFiles(dir)).toHaveLength(1);
    expect(j.stats()).toMatchObject({ depth: 0, segments: 1, lastSeq: 20 });
    j = await reopen(j, { segmentBytes: 4096 });
    expect(j.undelivered()).toEqual([]);
    expect((await j.append({ key: 'k', kind: 'x', payload: 1 })).seq).toBe(21);
    j = await reopen(j, { segmentBytes: 4096 });
    expect(j.undelivered().map((e) => e.seq)).toEqual([21]);
  });

  it('deletes only segments whose records are all delivered, out of order deliveries included', async () => {
    let j = await openJ({ segmentBytes: 4096 });
    const big = 'y'.repeat(1800);
    for (let i = 0; i < 8; i++) await j.append({ key: `k${i % 2}`, kind: 'x', payload: big });
    const before = await segmentFiles(dir);
    expect(before.length).toBe(4); // two records per segment
    await j.markDelivered([2, 4, 6, 3]); // segment 1 keeps seq 1; segment 3 (seqs 3,4) is done
    const after = await segmentFiles(dir);
    expect(after).toEqual(before.filter((f) => f !== '00000000000000000003.seg'));
    j = await reopen(j, { segmentBytes: 4096 });
    expect(j.undelivered().map((e) => e.seq)).toEqual([1, 5, 7, 8]);
    await j.markDelivered([1, 5]);
    expect(await segmentFiles(dir)).toEqual(['00000000000000000007.seg']);
    const cursor = JSON.parse(await readFile(join(dir, 'cursor.json'), 'utf8')) as { lw: number; delivered: unknown[] };
    expect(cursor.lw).toBe(6);
    expect(cursor.delivered).toEqual([]);
  });

  it('finishes deleting delivered segments after a crash between the cursor write and the unlink', async () => {
    const { ops } = faultyOps();
    const noUnlink = { ...ops, unlinkDurable: async () => { throw Object.assign(new Error('EIO: injected'), { code: 'EIO' }); } };
    let j = await openJ({ segmentBytes: 4096, fileOps: noUnlink });
    const seqs = [];
    for (let i = 0; i < 6; i++) seqs.push((await j.append({ key: 'k', kind: 'x', payload: 'z'.repeat(1800) })).seq);
    const files = await segmentFiles(dir);
    await j.markDelivered(seqs.slice(0, 4)); // cursor durable, unlink fails (logged, retried later)
    expect(await segmentFiles(dir)).toEqual(files);
    j = await reopen(j, { segmentBytes: 4096 });
    expect(await segmentFiles(dir)).toEqual(files.slice(2));
    expect(j.undelivered().map((e) => e.seq)).toEqual([5, 6]);
  });

  it('batches cursor writes: many markDelivered calls share few atomic writes', async () => {
    const { ops } = faultyOps();
    let cursorWrites = 0;
    const counting = { ...ops, writeFileAtomic: async (p: string, d: string | Uint8Array) => { cursorWrites += 1; return ops.writeFileAtomic(p, d); } };
    let j = await openJ({ fileOps: counting });
    const entries = await Promise.all(Array.from({ length: 100 }, (_, i) => j.append({ key: `k${i}`, kind: 'x', payload: i })));
    cursorWrites = 0;
    await Promise.all(entries.map((e) => j.markDelivered(e.seq)));
    expect(cursorWrites).toBeLessThanOrEqual(2);
    j = await reopen(j);
    expect(j.undelivered()).toEqual([]);
  });

  it('an older cursor listing dead letters: they are set aside (not undelivered), kept until taken over, then freed', async () => {
    let j = await openJ({ segmentBytes: 4096 });
    const es = [];
    for (let i = 0; i < 6; i++) es.push(await j.append({ key: 'session:s', kind: 'x', payload: { i, pad: 'p'.repeat(1200) } }));
    await j.markDelivered([1, 3, 4, 5, 6]);
    await j.close();
    // The cursor as storegate wrote it while dead letters lived in the journal: seq 2 is dead.
    const cursorFile = join(dir, 'cursor.json');
    const old = JSON.parse(await readFile(cursorFile, 'utf8')) as { lw: number; hw: number; delivered: [number, number][] };
    await writeFile(cursorFile, JSON.stringify({ v: 1, lw: 1, hw: old.hw, delivered: [[3, 6]], dead: [{ seq: 2, status: 400, body: { message: 'bad coupon' }, at: 77 }] }));
    j = await openJ({ segmentBytes: 4096 });
    expect(j.undelivered()).toEqual([]);
    expect(j.legacyDeadLetters()).toEqual([{ entry: expect.objectContaining({ seq: 2, id: es[1]?.id, payload: { i: 1, pad: 'p'.repeat(1200) } }), status: 400, body: { message: 'bad coupon' }, at: 77 }]);
    // Another cursor write before the takeover keeps the entry (a crash then loses nothing).
    await j.markDelivered(99);
    j = await reopen(j, { segmentBytes: 4096 });
    expect(j.legacyDeadLetters().map((d) => d.entry.seq)).toEqual([2]);
    const segmentsBefore = j.stats().segments;
    // Taken over: marked delivered; the cursor forgets it and its segment goes.
    await j.markDelivered(2);
    expect(j.legacyDeadLetters()).toEqual([]);
    expect(j.stats().segments).toBeLessThan(segmentsBefore);
    expect(JSON.parse(await readFile(cursorFile, 'utf8'))).toMatchObject({ dead: [] });
    j = await reopen(j, { segmentBytes: 4096 });
    expect(j.legacyDeadLetters()).toEqual([]);
    expect(j.undelivered()).toEqual([]);
  });

  it('maxBytes: rejects with SG_ERR_JOURNAL_FULL (503) and changes nothing', async () => {
    // Without preallocation the file's size is its data, which is what this test measures against.
    let j = await openJ({ maxBytes: 3000, preallocate: false });
    const ok = await j.append({ key: 'k', kind: 'x', payload: 'a'.repeat(1000) });
    const size = (await stat(join(dir, '00000000000000000001.seg'))).size;
    const full = j.append({ key: 'k', kind: 'x', payload: 'b'.repeat(2000) });
    await expect(full).rejects.toBeInstanceOf(StoregateError);
    await expect(full).rejects.toMatchObject({ code: 'SG_ERR_JOURNAL_FULL', statusCode: 503 });
    expect((await stat(join(dir, '00000000000000000001.seg'))).size).toBe(size);
    expect(j.stats()).toMatchObject({ depth: 1, lastSeq: 1, bytes: size });
    // Concurrent appends count queued bytes too: not both of these fit.
    const r = await Promise.allSettled([
      j.append({ key: 'k', kind: 'x', payload: 'c'.repeat(1000) }),
      j.append({ key: 'k', kind: 'x', payload: 'd'.repeat(1000) }),
    ]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected']);
    j = await reopen(j, { maxBytes: 3000 });
    expect(j.undelivered().map((e) => e.seq)).toEqual([ok.seq, 2]);
    // Delivery frees the space once the segment can go.
    expect(j.stats().bytes).toBeGreaterThan(2000);
  });

  it('stats report depth, bytes, age of the oldest record, segments and lastSeq', async () => {
    const j = await openJ({ preallocate: false }); // bytes are data bytes: the file's size without preallocation
    expect(j.stats()).toEqual({ depth: 0, bytes: 0, oldestAgeSec: 0, segments: 1, lastSeq: 0 });
    await j.append({ key: 'k', kind: 'x', payload: 1 });
    clock.advance(90_000);
    await j.append({ key: 'k', kind: 'x', payload: 2 });
    const s = j.stats();
    expect(s.depth).toBe(2);
    expect(s.oldestAgeSec).toBe(90);
    expect(s.bytes).toBe((await stat(join(dir, '00000000000000000001.seg'))).size);
  });

  it('close waits for in-flight appends; later calls reject', async () => {
    const j = await openJ();
    const p = j.append({ key: 'k', kind: 'x', payload: 1 });
    await j.close();
    await expect(p).resolves.toMatchObject({ seq: 1 });
    await expect(j.append({ key: 'k', kind: 'x', payload: 2 })).rejects.toMatchObject({ code: 'SG_ERR_JOURNAL_WRITE' });
    const j2 = await openJ();
    expect(j2.undelivered().map((e) => e.seq)).toEqual([1]);
  });
});
