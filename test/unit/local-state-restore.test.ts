/**
 * Restoring local state at start (src/checkout/local-state.ts): the journal and the disk-backed stores are real
 * files. After a kill (no stop: the stores' lines are in the page cache) nothing is replayed and every session is
 * back; after a power cut (the stores lose what was not synced) the journal records newer than what survived are
 * replayed and the same state comes back; what delivered records built survives their leaving the journal.
 */
import { rmSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalState } from '../../src/checkout/local-state.js';
import type { LocalSession } from '../../src/checkout/local-sessions.js';
import { sessionKey, type UpdateSessionRecord } from '../../src/checkout/records.js';
import type { ProfileInput } from '../../src/engine/index.js';
import { Journal } from '../../src/journal/index.js';
import { ManualClock } from '../../src/platform/clock.js';
import { FileKeyedStore } from '../../src/state/keyed-store.js';
import { FileSnapshotStore } from '../../src/state/snapshot-store.js';
import { tempDir } from '../helpers/journal-fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir('sg-restore-')));
afterEach(async () => cleanup());

const clock = new ManualClock(Date.parse('2026-12-01T10:00:00Z'));
const silent = pino({ level: 'silent' });

function open(): { journal: Promise<Journal>; state: LocalState; sessionsFile: string } {
  const sessionsFile = path.join(dir, 'state', 'sessions.kv');
  const state = new LocalState({
    store: new FileSnapshotStore(dir),
    sessions: new FileKeyedStore<LocalSession>({ file: sessionsFile, cacheEntries: 4 }),
    profiles: new FileKeyedStore<ProfileInput>({ file: path.join(dir, 'state', 'profiles.kv'), cacheEntries: 4 }),
    clock,
    log: silent,
    maxOfflineLoyaltyDeduction: 500,
  });
  return { journal: Journal.open({ dir: path.join(dir, 'journal'), maxBytes: 1 << 26, clock }), state, sessionsFile };
}

function update(id: string, n: number, state: 'open' | 'closed' = 'open'): UpdateSessionRecord {
  const at = new Date(clock.now()).toISOString();
  return {
    kind: 'updateSession',
    terminalId: 'T1',
    query: '',
    sessionId: id,
    body: { customerSession: { profileId: 'P-1', storeIntegrationId: 'store-042', cartItems: Array.from({ length: n }, (_, i) => ({ sku: `S${i}`, quantity: 1, price: 10 })) } },
    state,
    local: { effects: [], acceptedCoupons: [], loyaltyPoints: {} },
    meta: { created: at, updated: at, updateCount: n },
    ledgerOps: state === 'closed' ? [{ op: 'redeem', code: `CODE-${id}`, sessionId: id, at: clock.now() }] : [],
    loyaltyOps: [],
  };
}

/** Appends and commits `n` updates to each of `ids` (as a local answer does: append, then commit). */
async function answer(j: Journal, state: LocalState, ids: string[], n: number, close = false): Promise<number[]> {
  const seqs: number[] = [];
  for (const id of ids) {
    const r = update(id, n, close ? 'closed' : 'open');
    state.ledger.apply(r.ledgerOps as never[]);
    const e = await j.append({ key: sessionKey(id), kind: r.kind, payload: r });
    state.commit(e.seq, r);
    seqs.push(e.seq);
  }
  return seqs;
}

const carts = (state: LocalState, ids: string[]) => ids.map((id) => [id, state.localSession(id)?.cartItems.length, state.localSession(id)?.state]);
const IDS = Array.from({ length: 20 }, (_, i) => `S-${i}`);

describe('LocalState restore', () => {
  it('after a kill nothing is replayed; after a power cut the journal fills in what the stores lost', async () => {
    const a = open();
    let j = await a.journal;
    await a.state.start(j.undelivered());
    for (let n = 1; n <= 3; n++) await answer(j, a.state, IDS, n);
    // The first 3 rounds are synced (as before a delivery mark); 2 more are only written.
    await a.state.beforeDelivered([]);
    const synced = statSync(a.sessionsFile).size;
    for (let n = 4; n <= 5; n++) await answer(j, a.state, IDS, n);
    await answer(j, a.state, IDS.slice(0, 5), 6, true);
    await new Promise((r) => setImmediate(r)); // the stores write once per event-loop turn
    await a.state.checkpoint(); // as its 5 s timer does
    const expected = carts(a.state, IDS);
    expect(expected[0]).toEqual(['S-0', 6, 'closed']);
    // Kill: nothing stopped, nothing closed. The page cache holds every line.
    const b = open();
    j = await b.journal;
    expect((await b.state.start(j.undelivered())).replayed).toBe(0);
    expect(carts(b.state, IDS)).toEqual(expected);
    expect(b.state.ledger.usedBy('S-0')).toEqual(['CODE-S-0']);
    // Power cut: the sessions store keeps only what was synced; the ledger snapshot is lost too.
    truncateSync(b.sessionsFile, synced);
    rmSync(path.join(dir, 'state', 'ledger.json'));
    const c = open();
    j = await c.journal;
    const { replayed } = await c.state.start(j.undelivered());
    expect(replayed).toBeGreaterThan(0);
    expect(carts(c.state, IDS)).toEqual(expected);
    expect(c.state.ledger.usedBy('S-3')).toEqual(['CODE-S-3']);
    await c.state.stop();
    await j.close();
  });

  it('what delivered records built is durable before they leave the journal', async () => {
    const a = open();
    const j = await a.journal;
    await a.state.start(j.undelivered());
    const seqs = [...(await answer(j, a.state, IDS, 1)), ...(await answer(j, a.state, IDS, 2, true))];
    await a.state.beforeDelivered(seqs);
    await j.markDelivered(seqs);
    expect(j.undelivered()).toEqual([]);
    const expected = carts(a.state, IDS);
    const b = open();
    const j2 = await b.journal;
    await b.state.start(j2.undelivered());
    expect(carts(b.state, IDS)).toEqual(expected);
    expect(b.state.ledger.usedBy('S-7')).toEqual(['CODE-S-7']);
    await b.state.stop();
    await j2.close();
    await j.close().catch(() => undefined);
  });
});
