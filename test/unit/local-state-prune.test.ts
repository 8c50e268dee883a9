import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { LocalState } from '../../src/checkout/local-state.js';
import { newSession } from '../../src/checkout/local-sessions.js';
import { ManualClock } from '../../src/platform/clock.js';
import { MemorySnapshotStore } from '../../src/state/snapshot-store.js';
import { MemoryKeyedStore } from '../../src/state/memory-keyed-store.js';

const newState = (clock: ManualClock, store = new MemorySnapshotStore(), caps: { maxSessions?: number; maxProfiles?: number } = {}) =>
  new LocalState({ store, sessions: new MemoryKeyedStore(), profiles: new MemoryKeyedStore(), clock, log: pino({ level: 'silent' }), maxOfflineLoyaltyDeduction: 500, ...caps });

describe('LocalState retention', () => {
  it('an abandoned open session dropped after three days releases its held codes, durably', async () => {
    const clock = new ManualClock();
    const store = new MemorySnapshotStore();
    const state = newState(clock, store);
    await state.start([]);
    state.replaceSession(newSession('ABANDONED', { now: clock.now(), terminalId: 'T1', storeIntegrationId: 'store-042' }));
    state.ledger.apply([{ op: 'hold', code: 'ONCE', sessionId: 'ABANDONED', at: clock.now() }]);
    clock.advance(2 * 24 * 3600_000);
    await state.upkeep();
    expect(state.ledger.heldBy('ABANDONED')).toEqual(['ONCE']);
    expect(state.localSession('ABANDONED')).toBeDefined();
    clock.advance(2 * 24 * 3600_000);
    await state.upkeep();
    expect(state.localSession('ABANDONED')).toBeUndefined();
    expect(state.ledger.heldBy('ABANDONED')).toEqual([]);
    const saved = JSON.parse(store.files.get('ledger') as string) as { data: { ledger: { codes: unknown[] } } };
    expect(saved.data.ledger.codes).toEqual([]);
    await state.stop();
  });

  it('past the cap the least recently updated sessions go first, but not one still holding a code (younger than three days)', async () => {
    const clock = new ManualClock();
    const state = newState(clock, undefined, { maxSessions: 100 });
    await state.start([]);
    const ctx = { now: clock.now(), terminalId: 'T1', storeIntegrationId: 'store-042' };
    state.replaceSession(newSession('HOLDING', ctx));
    state.ledger.apply([{ op: 'hold', code: 'ONCE', sessionId: 'HOLDING', at: clock.now() }]);
    for (let i = 0; i < 101; i++) state.replaceSession(newSession(`S-${i}`, ctx));
    await state.upkeep();
    expect(state.sizes().sessions).toBe(100);
    expect(state.localSession('HOLDING')).toBeDefined();
    expect(state.ledger.heldBy('HOLDING')).toEqual(['ONCE']);
    expect(state.localSession('S-0')).toBeUndefined();
    expect(state.localSession('S-1')).toBeUndefined();
    expect(state.localSession('S-2')).toBeDefined();
    await state.stop();
  });

  it('profiles past their cap go least recently seen first', async () => {
    const clock = new ManualClock();
    const state = newState(clock, undefined, { maxProfiles: 3 });
    await state.start([]);
    for (const id of ['a', 'b', 'c', 'd']) state.rememberProfile({ integrationId: id, attributes: { id } });
    state.rememberProfile({ integrationId: 'a', attributes: { seen: 2 } });
    await state.upkeep();
    expect(state.profile('b')).toBeUndefined();
    expect(state.profile('a')?.attributes).toEqual({ id: 'a', seen: 2 });
    expect(state.profile('d')).toBeDefined();
    await state.stop();
  });
});
