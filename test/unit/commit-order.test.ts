/**
 * Local answers are committed to the local state in journal seq order, whatever the operation: the disk-backed
 * stores (sessions, profiles, replay answers) write one line per commit and rely on their file being a prefix of
 * the history (src/state/keyed-store.ts), so that a power cut tearing the unsynced tail loses only records newer
 * than the store's high-water mark, which the journal replays. A line written out of seq order breaks that: a
 * torn tail keeping the later line but not the earlier one hides the earlier record for good (a retry with the
 * terminal's Idempotency-Key would then be journaled a second time). Real files, real journal.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TerminalRequest } from '../../src/checkout/checkout.js';
import { LocalAnswers } from '../../src/checkout/local-answers.js';
import { LocalState } from '../../src/checkout/local-state.js';
import { OPERATIONS } from '../../src/checkout/operations.js';
import { ReplayCache } from '../../src/checkout/replay-cache.js';
import { Journal } from '../../src/journal/index.js';
import { ManualClock } from '../../src/platform/clock.js';
import { MemoryKeyedStore } from '../../src/state/memory-keyed-store.js';
import { MemorySnapshotStore } from '../../src/state/snapshot-store.js';
import { tempDir } from '../helpers/journal-fixtures.js';
import { STORE_ID, sharedLocalData } from '../helpers/powercut-state-boot.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir('sg-commit-order-')));
afterEach(async () => cleanup());

const clock = new ManualClock(Date.parse('2026-12-01T10:00:00Z'));
const silent = pino({ level: 'silent' });
const spec = (op: string) => OPERATIONS.find((o) => o.op === op) as TerminalRequest['spec'];
const [UPDATE_SESSION, RETURN_ITEMS, TRACK_EVENT, UPDATE_PROFILE] = ['updateSession', 'returnItems', 'trackEvent', 'updateProfile'].map(spec) as TerminalRequest['spec'][];

const req = (spec: TerminalRequest['spec'], params: Record<string, string>, body: unknown, key: string): TerminalRequest => ({
  spec, terminalId: 'T1', params, query: '', body, idempotencyKey: key,
});
const cart = [{ sku: 'S', name: 'Pan', quantity: 2, price: 30, category: 'Kitchen' }];

describe('commit order', () => {
  it('commits the records of one journal batch in seq order, every operation alike', async () => {
    const journal = await Journal.open({ dir: path.join(dir, 'journal'), maxBytes: 1 << 26, clock, log: silent });
    const state = new LocalState({ store: new MemorySnapshotStore(), sessions: new MemoryKeyedStore(), profiles: new MemoryKeyedStore(), clock, log: silent, maxOfflineLoyaltyDeduction: 500 });
    const replay = new ReplayCache({ dataDir: dir, log: silent, now: () => clock.now() });
    await replay.open();
    await state.start([], [replay.consumer()]);
    const answers = new LocalAnswers({ replay, localData: await sharedLocalData(), journal, state, clock, storeIntegrationId: STORE_ID, log: silent });
    await answers.answer(req(UPDATE_SESSION as TerminalRequest['spec'], { customerSessionId: 'S-1' }, { customerSession: { state: 'closed', cartItems: cart } }, 'k-0'), 'k-0');
    // One batch: each kind of operation, then a session update; the journal gives them seqs in this order.
    const batch = await Promise.all([
      answers.answer(req(UPDATE_PROFILE as TerminalRequest['spec'], { integrationId: 'P-1' }, { attributes: { tier: 'gold' } }, 'k-1'), 'k-1'),
      answers.answer(req(TRACK_EVENT as TerminalRequest['spec'], {}, { profileId: 'P-1', type: 'visit' }, 'k-2'), 'k-2'),
      answers.answer(req(RETURN_ITEMS as TerminalRequest['spec'], { customerSessionId: 'S-1' }, { return: { returnedCartItems: [{ position: 0 }] } }, 'k-3'), 'k-3'),
      answers.answer(req(UPDATE_SESSION as TerminalRequest['spec'], { customerSessionId: 'S-2' }, { customerSession: { cartItems: cart } }, 'k-4'), 'k-4'),
    ]);
    expect(batch.map((a) => a.journalSeq)).toEqual([2, 3, 4, 5]);
    await replay.persist([]);
    // The replay answers' lines, in file order: their seqs must rise.
    const seqs = readFileSync(path.join(dir, 'state', 'replay.kv'), 'utf8').split('\n').filter(Boolean).map((l) => Number(l.split('\t')[1]));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(seqs.slice(-4)).toEqual([2, 3, 4, 5]);
    await replay.stop();
    await state.stop();
    await journal.close();
  });
});
