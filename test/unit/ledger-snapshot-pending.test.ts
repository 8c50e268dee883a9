/**
 * The coupon ledger's snapshot holds the history up to its seq, no more: a local answer applies its ledger ops
 * *before* its record is journaled (so a concurrent answer already sees the code taken), and a snapshot saved
 * while that record is still being written must leave them out. The record may never be journaled (the disk
 * fails, the power goes): a snapshot that held its ops would, after a restart, free a code a journaled answer
 * still holds (the hold it released was never released) or block one nobody took. Real files, real journal,
 * real engine; the journal's write is held, then fails, as a power cut would fail it.
 */
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TerminalRequest } from '../../src/checkout/checkout.js';
import { LocalAnswers } from '../../src/checkout/local-answers.js';
import { LocalState } from '../../src/checkout/local-state.js';
import { OPERATIONS } from '../../src/checkout/operations.js';
import { Journal, nodeFileOps, type JournalFileOps, type SegmentHandle } from '../../src/journal/index.js';
import { ManualClock } from '../../src/platform/clock.js';
import { MemoryKeyedStore } from '../../src/state/memory-keyed-store.js';
import { FileSnapshotStore } from '../../src/state/snapshot-store.js';
import { tempDir } from '../helpers/journal-fixtures.js';
import { STORE_ID, sharedLocalData } from '../helpers/powercut-state-boot.js';
import { until } from '../helpers/until.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir('sg-ledger-pending-')));
afterEach(async () => cleanup());

const clock = new ManualClock(Date.parse('2026-12-01T10:00:00Z'));
const silent = pino({ level: 'silent' });

/** Journal file ops whose next write, once armed, waits until released and then fails (nothing written). */
function heldWrite(): { ops: JournalFileOps; arm: () => void; waiting: () => boolean; fail: () => void } {
  let armed = false;
  let waiting = false;
  let release: () => void = () => undefined;
  const wrap = (h: SegmentHandle): SegmentHandle => ({
    ...h,
    async write(data, position) {
      if (!armed) return h.write(data, position);
      armed = false;
      waiting = true;
      await new Promise<void>((r) => (release = r));
      throw Object.assign(new Error('EIO: the power went'), { code: 'EIO' });
    },
    writeSync: (data, position) => h.writeSync(data, position),
    datasync: () => h.datasync(),
    datasyncSync: () => h.datasyncSync(),
    truncate: (n) => h.truncate(n),
    zeroFill: (from, to) => h.zeroFill(from, to),
    close: () => h.close(),
  });
  return {
    ops: { ...nodeFileOps, openSegment: async (p) => wrap(await nodeFileOps.openSegment(p)), createSegment: async (p) => wrap(await nodeFileOps.createSegment(p)) },
    arm: () => (armed = true),
    waiting: () => waiting,
    fail: () => release(),
  };
}

const update = (id: string, codes: string[]): TerminalRequest => ({
  spec: OPERATIONS[0] as TerminalRequest['spec'],
  terminalId: 'T1',
  params: { customerSessionId: id },
  query: '',
  body: { customerSession: { profileId: 'P-1', couponCodes: codes, state: 'open', cartItems: [{ sku: 'S', name: 'Pan', quantity: 2, price: 30, category: 'Kitchen' }] } },
});

async function open(fileOps: JournalFileOps = nodeFileOps) {
  // The thread-pool write path (inlineSyncMaxMs 0): the held write is an async one.
  const journal = await Journal.open({ dir: path.join(dir, 'journal'), maxBytes: 1 << 26, clock, log: silent, fileOps, inlineSyncMaxMs: 0 });
  const state = new LocalState({ store: new FileSnapshotStore(dir), sessions: new MemoryKeyedStore(), profiles: new MemoryKeyedStore(), clock, log: silent, maxOfflineLoyaltyDeduction: 500 });
  await state.start(journal.undelivered());
  const answers = new LocalAnswers({ localData: await sharedLocalData(), journal, state, clock, storeIntegrationId: STORE_ID, log: silent });
  return { journal, state, answers };
}

describe('ledger snapshot while an answer is being journaled', () => {
  it('leaves out the ops of answers not yet journaled: after the restart the ledger is the journaled history', async () => {
    const held = heldWrite();
    const a = await open(held.ops);
    await a.answers.answer(update('S-A', ['PC-0']), 'r-1'); // journaled: S-A holds PC-0
    expect(a.state.ledger.heldBy('S-A')).toEqual(['PC-0']);
    held.arm();
    // S-A drops PC-0 and S-B takes PC-1; both answers' records wait on the held write.
    const dropping = a.answers.answer(update('S-A', []), 'r-2');
    const taking = a.answers.answer(update('S-B', ['PC-1']), 'r-3');
    await until(() => held.waiting());
    expect(a.state.ledger.heldBy('S-A')).toEqual([]);
    expect(a.state.ledger.heldBy('S-B')).toEqual(['PC-1']);
    await a.state.checkpoint(); // as its 5 s timer does, meanwhile
    held.fail();
    await expect(dropping).rejects.toThrow();
    await expect(taking).rejects.toThrow();
    // Restart: only r-1 was journaled.
    const b = await open();
    expect(b.journal.undelivered().map((e) => e.id)).toEqual(['r-1']);
    expect(b.state.ledger.heldBy('S-A')).toEqual(['PC-0']);
    expect(b.state.ledger.heldBy('S-B')).toEqual([]);
    await b.state.stop();
    await b.journal.close();
    await a.journal.close().catch(() => undefined);
  });
});
