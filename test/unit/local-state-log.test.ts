import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { LocalState } from '../../src/checkout/local-state.js';
import type { UpdateSessionRecord } from '../../src/checkout/records.js';
import { ManualClock } from '../../src/platform/clock.js';
import { MemorySnapshotStore } from '../../src/state/snapshot-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function logFile(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'sg-statelog-'));
  dirs.push(d);
  return path.join(d, 'state', 'sessions.log');
}

const lineCount = (file: string): number => readFileSync(file, 'utf8').split('\n').filter(Boolean).length;

/** The n-th update of session `id`: a cart of n lines (the journal record as a local answer writes it). */
function update(id: string, n: number, at: string): UpdateSessionRecord {
  return {
    kind: 'updateSession',
    terminalId: 'T1',
    query: '',
    sessionId: id,
    body: { customerSession: { profileId: 'P-1', storeIntegrationId: 'store-042', cartItems: Array.from({ length: n }, (_, i) => ({ sku: `S${i}`, quantity: 1, price: 10 })) } },
    state: 'open',
    local: { effects: [], acceptedCoupons: [], loyaltyPoints: {} },
    meta: { created: at, updated: at, updateCount: n },
    ledgerOps: [],
    loyaltyOps: [],
  };
}

function newState(store: MemorySnapshotStore, clock: ManualClock, stateLogFile: string, compactMinLines?: number): LocalState {
  return new LocalState({ store, clock, log: pino({ level: 'silent' }), maxOfflineLoyaltyDeduction: 500, stateLogFile, ...(compactMinLines !== undefined ? { compactMinLines } : {}) });
}

/** 10 sessions × 30 updates, each record delivered on its own (one sessions.log line each), never a timed snapshot. */
async function deliverMany(state: LocalState, clock: ManualClock): Promise<void> {
  let seq = 0;
  for (let n = 1; n <= 30; n++) {
    for (let s = 0; s < 10; s++) {
      seq++;
      state.commit(seq, update(`S-${s}`, n, new Date(clock.now()).toISOString()));
      await state.beforeDelivered([seq]);
    }
  }
}

const carts = (state: LocalState) => new Map([...state.sessions].map(([id, s]) => [id, s.cartItems.length]));

describe('sessions.log stays bounded without the timed snapshot', () => {
  it('is folded into a sessions snapshot once it holds more lines than the snapshot would, while delivering', async () => {
    const clock = new ManualClock();
    const store = new MemorySnapshotStore();
    const file = logFile();
    const state = newState(store, clock, file, 50);
    await state.start([]);
    await deliverMany(state, clock);
    // 300 lines were appended; compaction runs in the background after an append that passes 50.
    await vi.waitFor(() => expect(lineCount(file)).toBeLessThanOrEqual(50));
    expect(store.files.has('sessions')).toBe(true);
    // What a restart (kill -9: no stop()) rebuilds from the snapshot and the short log is the same state.
    const again = newState(store, clock, file, 50);
    await again.start([]);
    expect(carts(again)).toEqual(carts(state));
    expect(carts(again).get('S-3')).toBe(30);
  });

  it('a start that finds a long log (earlier runs too short to snapshot) compacts it before answering', async () => {
    const clock = new ManualClock();
    const store = new MemorySnapshotStore();
    const file = logFile();
    const first = newState(store, clock, file, 1_000_000); // never compacts: the log keeps all 300 lines
    await first.start([]);
    await deliverMany(first, clock);
    expect(lineCount(file)).toBe(300);
    expect(store.files.has('sessions')).toBe(false);

    const second = newState(store, clock, file, 50);
    await second.start([]);
    expect(carts(second)).toEqual(carts(first));
    expect(store.files.has('sessions')).toBe(true);
    expect(lineCount(file)).toBe(0); // everything it held is in the snapshot now

    const third = newState(store, clock, file, 50);
    await third.start([]);
    expect(carts(third)).toEqual(carts(first));
  });
});
