/**
 * One power-cut trial of the journal (shared by the CI test and `npm run bench -- crash`): a workload of
 * concurrent appends and delivery marks on the power-cut filesystem, cut at a random operation, crashed,
 * reopened — several times — checking the conservation law after every reopen:
 * every acknowledged record that was not acknowledged as delivered is present exactly once with its payload,
 * no record is invented or duplicated, an acknowledged delivery mark is never lost, and the journal opens
 * (no cursor ahead of its data, no damage reported in synced bytes) and takes new appends.
 */
import { pino } from 'pino';
import { Journal } from '../../src/journal/index.js';
import { ManualClock } from '../../src/platform/clock.js';
import { PowerCutFs } from './powercut-fs.js';

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

const DIR = '/pc/journal';
const silent = pino({ level: 'silent' });

interface Known {
  payload: string;
  acked: boolean;
  /** markDelivered resolved for it. */
  deliveredAck: boolean;
  /** markDelivered was asked (it may or may not have landed). */
  deliveryAsked: boolean;
}

export async function powerCutTrial(seed: number, cuts = 3): Promise<{ cuts: number; acked: number; checks: number }> {
  const random = rng(seed);
  const fs = new PowerCutFs(random);
  const clock = new ManualClock();
  const known = new Map<string, Known>();
  let next = 0;
  let checks = 0;
  let acked = 0;
  const open = () => Journal.open({ dir: DIR, maxBytes: 64 * 1024 * 1024, segmentBytes: 4096, clock, log: silent, fileOps: fs.fileOps() });

  let j = await open();
  for (let cut = 0; cut <= cuts; cut++) {
    const last = cut === cuts;
    // Cut somewhere inside this round's work (its mutating operations number a few hundred).
    if (!last) fs.cutAfter(1 + Math.floor(random() * 400));
    const seqOf = new Map<string, number>();
    const work: Promise<unknown>[] = [];
    for (let wave = 0; wave < 12; wave++) {
      const batch: Promise<unknown>[] = [];
      for (let i = 0, n = 1 + Math.floor(random() * 8); i < n; i++) {
        const id = `r-${next++}`;
        const payload = `p-${id}-${'x'.repeat(Math.floor(random() * 300))}`;
        known.set(id, { payload, acked: false, deliveredAck: false, deliveryAsked: false });
        batch.push(
          j.append({ key: `session:${Math.floor(random() * 5)}`, kind: 'updateSession', payload, id }).then(
            (e) => {
              const k = known.get(id) as Known;
              k.acked = true;
              acked++;
              seqOf.set(id, e.seq);
            },
            () => undefined,
          ),
        );
      }
      await Promise.all(batch);
      // Mark some acknowledged records delivered (what the flusher does after upstream answered).
      const ready = [...seqOf].filter(([id]) => !(known.get(id) as Known).deliveryAsked && random() < 0.5);
      if (ready.length > 0) {
        for (const [id] of ready) (known.get(id) as Known).deliveryAsked = true;
        work.push(
          j.markDelivered(ready.map(([, s]) => s)).then(
            () => {
              for (const [id] of ready) (known.get(id) as Known).deliveredAck = true;
            },
            () => undefined,
          ),
        );
        await work[work.length - 1];
      }
      if (fs.dead) break;
    }
    await Promise.allSettled(work);
    if (last) break;
    if (!fs.dead) fs.cutAfter(1); // the round ended before its cut: cut now
    await j.close().catch(() => undefined);
    fs.crash();
    j = await open(); // must not report corruption: everything damaged was never acknowledged
    checks += check(j, known);
  }
  await j.close().catch(() => undefined);
  return { cuts, acked, checks };
}

function check(j: Journal, known: Map<string, Known>): number {
  const present = new Map<string, number>();
  for (const e of j.undelivered()) {
    present.set(e.id, (present.get(e.id) ?? 0) + 1);
    const k = known.get(e.id);
    if (!k) throw new Error(`invented record ${e.id}`);
    if (e.payload !== k.payload) throw new Error(`record ${e.id} came back with another payload`);
  }
  for (const [id, n] of present) if (n > 1) throw new Error(`record ${id} present ${n} times`);
  let n = 0;
  for (const [id, k] of known) {
    if (k.acked && !k.deliveryAsked && !present.has(id)) throw new Error(`acknowledged record ${id} lost`);
    if (k.deliveredAck && present.has(id)) throw new Error(`record ${id} acknowledged as delivered is undelivered again`);
    // Delivered-asked but not acknowledged: either outcome is allowed. Never acknowledged: absent or present once.
    if (k.acked && !k.deliveryAsked) n++;
    // Once seen after a crash, a record's state is settled for the next rounds.
    if (present.has(id)) k.acked = true;
    else if (!k.deliveryAsked) known.delete(id); // unacknowledged and gone: it never happened
    else k.deliveredAck = true; // asked and gone: the mark landed
  }
  return n;
}
