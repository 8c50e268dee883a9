import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pino } from 'pino';
import { followUpstreamSession, stringifySessionUpdate } from '../../src/checkout/follow.js';
import { LocalState } from '../../src/checkout/local-state.js';
import type { TerminalRequest } from '../../src/checkout/checkout.js';
import { OPERATIONS } from '../../src/checkout/operations.js';
import { ManualClock } from '../../src/platform/clock.js';
import { MemoryKeyedStore } from '../../src/state/memory-keyed-store.js';
import { FileSnapshotStore } from '../../src/state/snapshot-store.js';

const dir = mkdtempSync(path.join(tmpdir(), 'sg-follow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const spec = OPERATIONS.find((o) => o.op === 'updateSession')!;

function update(state: LocalState, clock: ClockLike, id: string, body: Record<string, unknown>, opts: { status?: number; query?: string; terminalId?: string } = {}): string {
  const req: TerminalRequest = { spec, terminalId: opts.terminalId ?? 'T1', params: { customerSessionId: id }, query: opts.query ?? '', body };
  const { json, fields } = stringifySessionUpdate(body);
  followUpstreamSession(state, req, opts.status ?? 200, fields, clock.clock, 'store-042');
  return json;
}

interface ClockLike {
  clock: ManualClock;
}

function fresh(): { state: LocalState; c: ClockLike } {
  const clock = new ManualClock(Date.parse('2026-11-26T10:00:00Z'));
  const state = new LocalState({ store: new FileSnapshotStore(dir), sessions: new MemoryKeyedStore(), profiles: new MemoryKeyedStore(), clock, log: pino({ level: 'silent' }), maxOfflineLoyaltyDeduction: 0 });
  return { state, c: { clock } };
}

const item = (n: number) => ({ sku: `SKU-${n}`, quantity: 1, price: n + 0.99, attributes: { colour: 'red' } });

describe('following upstream-answered sessions', () => {
  it('serialises an update body to exactly what JSON.stringify gives', () => {
    const jsonValue = fc.jsonValue({ maxDepth: 3 });
    fc.assert(
      fc.property(fc.dictionary(fc.string(), jsonValue), fc.dictionary(fc.string(), jsonValue), (session, rest) => {
        const body = { ...rest, customerSession: session, ...rest };
        expect(stringifySessionUpdate(body).json).toBe(JSON.stringify(body));
      }),
      { numRuns: 300 },
    );
    const odd = { responseContent: ['customerSession'], customerSession: { '1': 'x', cartItems: [item(1)], profileId: 'p' } };
    expect(stringifySessionUpdate(odd).json).toBe(JSON.stringify(odd));
    expect(stringifySessionUpdate({ customerSession: [1, 2] }).json).toBe(JSON.stringify({ customerSession: [1, 2] }));
  });

  it('keeps the whole session across partial updates (a field sent replaces it, an omitted field stays)', () => {
    const { state, c } = fresh();
    update(state, c, 'S1', { customerSession: { profileId: 'cust-1', cartItems: [item(1)], couponCodes: ['WELCOME10'] } });
    c.clock.advance(1000);
    update(state, c, 'S1', { customerSession: { cartItems: [item(1), item(2)], attributes: { lane: 3 } } }, { terminalId: 'T2' });
    c.clock.advance(1000);
    update(state, c, 'S1', { customerSession: { couponCodes: [] } });
    const s = state.session('S1')!;
    expect(s).toMatchObject({
      integrationId: 'S1',
      storeIntegrationId: 'store-042',
      profileId: 'cust-1',
      cartItems: [item(1), item(2)],
      couponCodes: [],
      attributes: { lane: 3 },
      state: 'open',
      updateCount: 3,
      terminalId: 'T1',
      created: '2026-11-26T10:00:00.000Z',
      updated: '2026-11-26T10:00:02.000Z',
    });
  });

  it('follows the state a terminal sets, and ignores failed and dry updates', () => {
    const { state, c } = fresh();
    update(state, c, 'S2', { customerSession: { cartItems: [item(1)] } });
    update(state, c, 'S2', { customerSession: { cartItems: [item(9)] } }, { status: 409 });
    update(state, c, 'S2', { customerSession: { cartItems: [item(8)] } }, { query: 'dry=true' });
    expect(state.session('S2')?.cartItems).toEqual([item(1)]);
    update(state, c, 'S2', { customerSession: { state: 'closed' } });
    expect(state.session('S2')?.state).toBe('closed');
    expect(state.session('nope')).toBeUndefined();
  });

  it('keeps only the most recently updated sessions', () => {
    const { state, c } = fresh();
    for (let i = 0; i < 1005; i++) update(state, c, `B-${i}`, { customerSession: { cartItems: [item(i)] } });
    expect(state.followed.size).toBe(1000);
    expect(state.session('B-0')).toBeUndefined();
    expect(state.session('B-1004')?.cartItems).toEqual([item(1004)]);
  });
});
