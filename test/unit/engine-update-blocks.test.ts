/**
 * `updateAttributeValue` and `updateAudienceMembership` offline. Sources: Talon.One Integration API spec,
 * `UpdateAttributeEffectProps` ("You should update the value of the attribute in your system based on the content
 * of the returned effect"; example `{path: "Session.Attributes.loyaltyTier", value: "Gold"}`), the SDKs' `EffectSet`
 * (effect type `set`), `AddToAudienceEffectProps`; Management API spec, `UpdateAttributeValueBlock`,
 * `UpdateAudienceMembershipBlock`.
 */
import { describe, expect, it } from 'vitest';
import { campaign, cart, engine, evaluate, fx, rulesPayload, NOW, type B } from './engine-helpers.js';
import { Engine } from '../../src/engine/evaluate.js';
import { parseRules } from '../../src/engine/ingest/rules.js';
import { readsItemDetails } from '../../src/engine/compile-rules.js';
import { mergeCatalog, Catalog } from '../../src/engine/catalog.js';
import { PriceBook } from '../../src/engine/pricebook.js';
import { CouponIndex } from '../../src/engine/coupons.js';
import { LoyaltyIndex, LoyaltyLimits } from '../../src/engine/loyalty.js';
import { CouponLedger } from '../../src/engine/coupon-ledger.js';

const attr = (name: string, type = 'string') => ({ id: 100, entity: 'CustomerSession', name, title: name, type });
const upd = (operator: string, name: string, value: unknown, target: B = { type: 'session' }, type = 'string') =>
  ({ type: 'updateAttributeValue', operator, attribute: attr(name, type), ...(value === undefined ? {} : { value }), target });
const disc = (name: string, value: number) => ({ type: 'awardDiscount', name, value, partial: false, target: { type: 'cart' } });
const one = (blocks: B[], session: Record<string, unknown>, extra: { selectors?: B[] } = {}) => evaluate(engine(rulesPayload([campaign(1, [blocks], extra)])), { cartItems: cart(['A', 20], ['B', 30, 2, { category: 'Shoes', attributes: { points: 4 } }]), ...session });

describe('updateAttributeValue', () => {
  it('setTo on the session gives Talon.One\'s `set` effect with the session attribute\'s path', () => {
    const out = one([upd('setTo', 'loyaltyTier', 'Gold')], {});
    expect(out.skippedCampaigns).toEqual([]);
    expect(out.effects).toEqual([{ campaignId: 1, rulesetId: 10, ruleIndex: 0, ruleName: 'R1.0', effectType: 'set', props: { path: 'Session.Attributes.loyaltyTier', value: 'Gold' } }]);
  });

  it('computes from the current value: increaseBy, decreaseBy, multiplyBy, divideBy (no binary noise), toggle, laterBy, earlierBy', () => {
    const s = { attributes: { visits: 0.1, flag: false, due: '2026-06-01T10:00:00Z' } };
    const v = (block: B) => one([block], s).effects[0]?.props.value;
    expect(v(upd('increaseBy', 'visits', 0.2, undefined, 'number'))).toBe(0.3);
    expect(v(upd('decreaseBy', 'visits', 1, undefined, 'number'))).toBe(-0.9);
    expect(v(upd('multiplyBy', 'visits', 3, undefined, 'number'))).toBe(0.3);
    expect(v(upd('divideBy', 'visits', 4, undefined, 'number'))).toBe(0.025);
    expect(v(upd('toggle', 'flag', undefined, undefined, 'boolean'))).toBe(true);
    expect(v(upd('laterBy', 'due', '2D', undefined, 'time'))).toBe('2026-06-03T10:00:00.000Z');
    expect(v(upd('earlierBy', 'due', '30m', undefined, 'time'))).toBe('2026-06-01T09:30:00.000Z');
    expect(v(upd('setTo', 'visits', '{{$Session.Total * 2}}', undefined, 'number'))).toBe(160);
  });

  it('a value that cannot be computed (missing attribute, wrong type, division by zero) fails the rule: nothing of it is given', () => {
    const s = { attributes: { visits: 'many', flag: 'yes' } };
    for (const block of [upd('increaseBy', 'absent', 1, undefined, 'number'), upd('increaseBy', 'visits', 1, undefined, 'number'), upd('divideBy', 'visits', 0, undefined, 'number'), upd('toggle', 'flag', undefined, undefined, 'boolean')]) {
      const out = one([disc('first', 5), block], s);
      expect(out.skippedCampaigns).toEqual([]);
      expect(out.effects).toEqual([]);
    }
  });

  it('later rules of the same evaluation read the session as the terminal sent it (the effect changes nothing locally)', () => {
    const e = engine(rulesPayload([
      campaign(1, [[upd('setTo', 'tier', 'Gold')]]),
      campaign(2, [[{ type: 'checkAttribute', attribute: '$Session.Attributes.tier', operator: 'equals', value: 'Gold' }, disc('gold', 5)]]),
      campaign(3, [[{ type: 'checkAttribute', attribute: '$Session.Attributes.tier', operator: 'equals', value: 'Silver' }, disc('silver', 1)]]),
    ]));
    const out = evaluate(e, { cartItems: cart(['A', 20]), attributes: { tier: 'Silver' } });
    expect(fx(out)).toEqual([
      { type: 'set', campaignId: 1, props: { path: 'Session.Attributes.tier', value: 'Gold' } },
      { type: 'setDiscount', campaignId: 3, props: { name: 'silver', value: 1 } },
    ]);
  });

  it('cart item targets give one effect per targeted line, with `$Item` in the value, by position', () => {
    const shoes = { name: 'shoes', type: 'selector', source: '$Session.CartItems', steps: [{ type: 'filter', predicate: { type: 'checkAttribute', attribute: '$Item.Category', operator: 'equals', value: 'Shoes' } }] };
    const out = one([upd('setTo', 'promo', '{{$Item.Price * 0.5}}', { type: 'selector', name: 'shoes' }, 'number')], {}, { selectors: [shoes] });
    expect(fx(out)).toEqual([{ type: 'set', campaignId: 1, props: { path: 'Session.CartItems.1.Attributes.promo', value: 15 } }]);
    const all = one([upd('increaseBy', 'points', 1, { type: 'allItems' }, 'number')], { cartItems: cart(['A', 20, 1, { attributes: { points: 1 } }], ['B', 30, 2, { attributes: { points: 4 } }]) });
    expect(fx(all).map((e) => e.props)).toEqual([{ path: 'Session.CartItems.0.Attributes.points', value: 2 }, { path: 'Session.CartItems.1.Attributes.points', value: 5 }]);
    // One line whose value cannot be computed: no effect for any line, the rule fails.
    const partial = one([disc('first', 5), upd('increaseBy', 'points', 1, { type: 'allItems' }, 'number')], {});
    expect(partial.effects).toEqual([]);
  });

  it('a cart item\'s current value comes from the catalog when the line lacks it, as Talon.One completes items', () => {
    expect(readsItemDetails(upd('increaseBy', 'points', 1, { type: 'allItems' }, 'number'))).toBe(true);
    expect(readsItemDetails(upd('increaseBy', 'points', 1, { type: 'session' }, 'number'))).toBe(false);
    const { compiled } = parseRules(rulesPayload([campaign(1, [[upd('increaseBy', 'points', 1, { type: 'allItems' }, 'number')]])]));
    const catalog = mergeCatalog(new Catalog(), true, [{ sku: 'A', catalogid: 1, version: 1, attributes: [{ attributeid: 1, name: 'points', value: 10 }] }]).catalog;
    const e = new Engine({ rules: compiled, prices: new PriceBook(), coupons: new CouponIndex([]), loyalty: new LoyaltyIndex(), catalog, store: { id: 42, integrationId: 'store-042', attributes: {} } });
    const out = e.evaluate({ customerSessionId: 's', session: { cartItems: cart(['A', 20]) }, now: NOW, ledger: new CouponLedger(), loyalty: new LoyaltyLimits() });
    expect(fx(out).map((x) => x.props)).toEqual([{ path: 'Session.CartItems.0.Attributes.points', value: 11 }]);
  });

  it('a later block of the rule that fails takes the effect back (rules are all-or-nothing)', () => {
    const out = one([upd('setTo', 'tier', 'Gold'), { type: 'checkAttribute', attribute: '$Session.Total', operator: 'greaterThan', value: 1000 }], {});
    expect(out.effects).toEqual([]);
  });

  it.each([
    [{ type: 'profile' }, 'updating a profile attribute is not supported offline'],
    [{ type: 'advocateProfile' }, 'updating a advocateProfile attribute is not supported offline'],
    [{ type: 'coupon' }, 'updating a coupon attribute is not supported offline'],
    [{ type: 'referral' }, 'updating a referral attribute is not supported offline'],
  ])('target %j is not offline: the campaign is skipped whole', (target, reason) => {
    const out = one([disc('first', 5), upd('setTo', 'x', 1, target)], {});
    expect(out.skippedCampaigns[0]?.reason).toContain(reason);
    expect(out.effects).toEqual([]);
  });

  it('built-in attributes (empty type), month durations and odd names are not offline; malformed blocks are refused with their path', () => {
    expect(one([upd('setTo', 'Name', 'x', undefined, '')], {}).skippedCampaigns[0]?.reason).toBe('updating built-in attribute Name is not supported offline');
    expect(one([upd('laterBy', 'due', '1M', undefined, 'time')], {}).skippedCampaigns[0]?.reason).toMatch(/duration "1M" is not supported offline/);
    expect(one([upd('setTo', 'my attr', 1)], {}).skippedCampaigns[0]?.reason).toMatch(/cannot be updated offline/);
    expect(() => one([upd('renameTo', 'x', 1)], {})).toThrow(/invalid rules data/);
    expect(() => one([upd('setTo', 'x', undefined)], {})).toThrow(/invalid rules data/);
    expect(() => one([upd('setTo', 'x', 1, { type: 'everything' })], {})).toThrow(/invalid rules data/);
    expect(() => one([{ type: 'updateAttributeValue', operator: 'setTo', value: 1, target: { type: 'session' } }], {})).toThrow(/invalid rules data/);
  });

  it('`__proto__` and friends cannot be read or written', () => {
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      for (const target of [{ type: 'session' }, { type: 'allItems' }]) {
        expect(one([upd('increaseBy', name, 1, target, 'number')], {}).skippedCampaigns[0]?.reason).toBe(`attribute name "${name}" cannot be updated offline`);
      }
    }
  });
});

describe('updateAudienceMembership', () => {
  const aud = (operator: string, profile = 'Current') => ({ type: 'updateAudienceMembership', operator, profile, audience: { id: 42, name: 'Travel audience' } });

  it('adds or removes the current customer: addToAudience / removeFromAudience with the profile\'s integration id', () => {
    expect(fx(one([aud('add')], { profileId: 'cust-1' }))).toEqual([{ type: 'addToAudience', campaignId: 1, props: { audienceId: 42, audienceName: 'Travel audience', profileIntegrationId: 'cust-1' } }]);
    expect(fx(one([aud('remove')], { profileId: 'cust-1' }))).toEqual([{ type: 'removeFromAudience', campaignId: 1, props: { audienceId: 42, audienceName: 'Travel audience', profileIntegrationId: 'cust-1' } }]);
  });

  it('an anonymous session has no customer to add: the rule fails', () => {
    expect(one([disc('first', 5), aud('add')], {}).effects).toEqual([]);
  });

  it('the advocate profile is not offline; a bad operator is refused', () => {
    expect(one([aud('add', 'Advocate')], { profileId: 'c' }).skippedCampaigns[0]?.reason).toMatch(/advocate/);
    expect(() => one([aud('join')], { profileId: 'c' })).toThrow(/invalid rules data/);
  });
});
