/**
 * What campaigns read (README "Lean payloads"): the attribute names upstream.trimAttributes must never drop,
 * found in every form the Rule Builder writes them, and `all` whenever the analysis cannot tell.
 */
import { describe, expect, it } from 'vitest';
import { parseRules } from '../../src/engine/ingest/rules.js';
import { readAttributes, type ReadAttributes } from '../../src/engine/read-attributes.js';
import { campaign, rulesPayload, NOW, type B } from './engine-helpers.js';

const note = { type: 'showNotification', notificationType: 'Info', title: 't', body: 'b' };

function reads(campaigns: B[], extra: B = {}): ReadAttributes {
  const { compiled, payload } = parseRules(rulesPayload(campaigns, extra));
  return readAttributes({ rules: compiled, cartItemFilters: payload.cartItemFilters, storeIntegrationId: 'store-042', known: true, now: NOW });
}

const names = (s: ReadonlySet<string> | 'all') => (s === 'all' ? 'all' : [...s].sort());

describe('attributes campaigns read', () => {
  it('finds block paths, {{expressions}}, selector steps, Talang paths (also under .| and lambdas) and cart item filters', () => {
    const r = reads(
      [
        campaign(1, [[{ type: 'checkAttribute', attribute: '$Session.Attributes.channel', operator: 'equals', value: 'pos' }, note]]),
        campaign(2, [[{ type: 'awardDiscount', name: 'd', value: '{{$Session.Attributes.bonus * 2}}', partial: false, target: { type: 'cart' } }]]),
        campaign(3, [[{ type: 'checkAttribute', attribute: '$redCount', operator: 'greaterThan', value: 0 }, note]], {
          selectors: [{ name: 'redCount', type: 'selector', source: '$Session.CartItems', steps: [
            { type: 'filter', predicate: { id: 'p', type: 'checkAttribute', attribute: '$Item.Attributes.color', operator: 'equals', value: 'red' } },
            { type: 'reduce', operator: 'count' },
          ] }],
        }),
        campaign(4, [[{ type: 'passthrough', expression: ['exists', ['.', 'Session', 'CartItems'], [['x'], ['=', ['.', 'x', 'Attributes', 'supplier'], 'ACME']]] }, note]]),
        campaign(5, [[{ type: 'passthrough', expression: ['=', ['.|', 'none', 'Item', 'Attributes', 'size'], 'L'] }, note]]),
        campaign(6, [[{ type: 'checkAttribute', attribute: '$Profile.Attributes.tier', operator: 'equals', value: 'gold' }, { type: 'checkAttribute', attribute: '$Store.Attributes.region', operator: 'equals', value: 'north' }, note]]),
        campaign(7, [[{ type: 'awardDiscount', name: 'f', value: 1, partial: false, target: { type: 'globalFilter', name: 'Organic' } }]]),
      ],
      { cartItemFilters: [{ name: 'Organic', expression: ['filter', ['.', 'Session', 'CartItems'], [['Item'], ['=', ['.', 'Item', 'Attributes', 'organic'], true]]] }] },
    );
    expect(r.known).toBe(true);
    // A lambda parameter may hold an item or the session: `supplier` counts for both.
    expect(names(r.session)).toEqual(['bonus', 'channel', 'supplier']);
    expect(names(r.cartItem)).toEqual(['color', 'organic', 'size', 'supplier']);
    expect(r.campaigns).toBe(7);
  });

  it('gives up on both entities for a running campaign that is not offline-capable, and says which', () => {
    const r = reads([
      campaign(1, [[{ type: 'checkAttribute', attribute: '$Item.Attributes.color', operator: 'equals', value: 'red' }, note]]),
      campaign(9, [[{ type: 'checkReferral' }, note]]),
    ]);
    expect(r.session).toBe('all');
    expect(r.cartItem).toBe('all');
    expect(r.why.cartItem.join(' ')).toMatch(/campaign 9 \(C9\) is not offline-capable/);
  });

  it('gives up on one entity when a path reads its whole Attributes object', () => {
    const r = reads([campaign(1, [[{ type: 'passthrough', expression: ['=', ['.', 'Item', 'Attributes'], 'x'] }, note]])]);
    expect(r.cartItem).toBe('all');
    expect(names(r.session)).toEqual([]);
  });

  it('counts scheduled and disabled campaigns of this store, not ended, archived or other stores\' ones', () => {
    const read = (id: number, attr: string, c: B) => campaign(id, [[{ type: 'checkAttribute', attribute: `$Session.Attributes.${attr}`, operator: 'exists' }, note]], { campaign: c });
    const r = reads([
      read(1, 'scheduled', { startTime: '2027-01-01T00:00:00Z' }),
      read(2, 'disabled', { state: 'disabled' }),
      read(3, 'ended', { endTime: '2026-01-01T00:00:00Z' }),
      read(4, 'archived', { state: 'archived' }),
      read(5, 'otherStore', { linkedStoreIds: [7] }),
      read(6, 'thisStore', { linkedStoreIds: [42] }),
    ]);
    expect(names(r.session)).toEqual(['disabled', 'scheduled', 'thisStore']);
  });

  it('knows nothing before the first rules data', () => {
    const { compiled } = parseRules(rulesPayload([]));
    expect(readAttributes({ rules: compiled, storeIntegrationId: 'store-042', known: false, now: NOW }).known).toBe(false);
  });
});
