import { describe, expect, it } from 'vitest';
import { DEAD_LETTERED, DeliveryMarker, type MarkItem } from '../../src/delivery/flush-marks.js';
import type { Journal, JournalEntry } from '../../src/journal/index.js';

const entry = (seq: number) => ({ seq, kind: 'updateSession' }) as unknown as JournalEntry;

describe('DeliveryMarker', () => {
  it('keeps a batch whose marking failed (a full disk) and records it once the disk takes writes again', async () => {
    let failures = 2;
    const marked: number[][] = [];
    const journal = {
      markDelivered: async (seqs: number[]) => {
        if (failures-- > 0) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        marked.push([...seqs]);
      },
    } as unknown as Journal;
    const failed: MarkItem[][] = [];
    const done: MarkItem[][] = [];
    const m = new DeliveryMarker({ journal, onMarked: (b) => done.push(b), onFailed: (_e, b) => failed.push(b), onIdle: () => undefined, sleep: async () => undefined });
    m.add([entry(1), entry(2)], 'sent');
    await m.drain();
    expect(failed).toHaveLength(2);
    expect(marked).toEqual([[1, 2]]);
    expect(done.flat().map((b) => b.seq)).toEqual([1, 2]);
  });

  it('on a full disk releases the reserve and tries again at once, in small batches; records moved to dead letters skip the state hook', async () => {
    let space = false;
    const marked: number[][] = [];
    const before: number[][] = [];
    const journal = {
      markDelivered: async (seqs: number[]) => {
        if (!space) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        marked.push([...seqs]);
      },
    } as unknown as Journal;
    let released = 0;
    const slept: number[] = [];
    const m = new DeliveryMarker({
      journal,
      beforeMarkDelivered: async (seqs) => void before.push([...seqs]),
      onDiskFull: async () => {
        released++;
        space = true;
        return true;
      },
      onMarked: () => undefined,
      onFailed: () => undefined,
      onIdle: () => undefined,
      sleep: async (ms) => void slept.push(ms),
    });
    m.add(Array.from({ length: 600 }, (_, i) => entry(i + 1)), 'sent');
    m.add([entry(601)], DEAD_LETTERED);
    await m.drain();
    expect(released).toBe(1);
    expect(slept).toEqual([]); // no backoff: the reserve made room
    expect(marked.flat()).toEqual(Array.from({ length: 601 }, (_, i) => i + 1));
    expect(Math.max(...marked.map((b) => b.length))).toBeLessThanOrEqual(256);
    expect(before.flat()).not.toContain(601);
  });

  it('gives up retrying when stopped (shutdown): the records are replayed after the restart', async () => {
    const journal = { markDelivered: async () => Promise.reject(new Error('EIO')) } as unknown as Journal;
    const m = new DeliveryMarker({ journal, onMarked: () => undefined, onFailed: () => undefined, onIdle: () => undefined, sleep: () => new Promise((r) => setTimeout(r, 5)) });
    m.add([entry(7)], 'sent');
    await new Promise((r) => setTimeout(r, 20));
    m.stop();
    await m.drain();
    expect(m.busy).toBe(false);
  });
});
