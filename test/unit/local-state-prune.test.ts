import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { LocalState } from '../../src/checkout/local-state.js';
import { newSession } from '../../src/checkout/local-sessions.js';
import { ManualClock } from '../../src/platform/clock.js';
import { MemorySnapshotStore } from '../../src/state/snapshot-store.js';

describe('LocalState pruning', () => {
  it('an abandoned open session pruned after three days releases its held codes, durably', async () => {
    const clock = new ManualClock();
    const store = new MemorySnapshotStore();
    const state = new LocalState({ store, clock, log: pino({ level: 'silent' }), maxOfflineLoyaltyDeduction: 500 });
    await state.start([]);
    const s = newSession('ABANDONED', { now: clock.now(), terminalId: 'T1', storeIntegrationId: 'store-042' });
    state.sessions.set('ABANDONED', s);
    state.ledger.apply([{ op: 'hold', code: 'ONCE', sessionId: 'ABANDONED', at: clock.now() }]);
    clock.advance(2 * 24 * 3600_000);
    await state.saveSessions();
    expect(state.ledger.heldBy('ABANDONED')).toEqual(['ONCE']);
    clock.advance(2 * 24 * 3600_000);
    await state.saveSessions();
    expect(state.sessions.has('ABANDONED')).toBe(false);
    expect(state.ledger.heldBy('ABANDONED')).toEqual([]);
    const saved = JSON.parse(store.files.get('ledger') as string) as { data: { ledger: { codes: unknown[] } } };
    expect(saved.data.ledger.codes).toEqual([]);
    await state.stop();
  });

  it('past 50,000 sessions the oldest go first, but not one still holding a code (younger than three days)', async () => {
    const clock = new ManualClock();
    const store = new MemorySnapshotStore();
    const state = new LocalState({ store, clock, log: pino({ level: 'silent' }), maxOfflineLoyaltyDeduction: 500 });
    await state.start([]);
    const ctx = { now: clock.now(), terminalId: 'T1', storeIntegrationId: 'store-042' };
    state.sessions.set('HOLDING', newSession('HOLDING', ctx));
    state.ledger.apply([{ op: 'hold', code: 'ONCE', sessionId: 'HOLDING', at: clock.now() }]);
    for (let i = 0; i < 50_001; i++) state.sessions.set(`S-${i}`, newSession(`S-${i}`, ctx));
    await state.saveSessions();
    expect(state.sessions.size).toBe(50_000);
    expect(state.sessions.has('HOLDING')).toBe(true);
    expect(state.ledger.heldBy('HOLDING')).toEqual(['ONCE']);
    expect(state.sessions.has('S-0')).toBe(false);
    expect(state.sessions.has('S-1')).toBe(false);
    expect(state.sessions.has('S-2')).toBe(true);
    await state.stop();
  });
});
