/** The sanity rules of checked answers, and the checker's alert spacing, on answers built by hand. */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { checkRules } from '../../src/answers/rules.js';
import { AnswerChecker } from '../../src/answers/checker.js';
import { OPERATIONS } from '../../src/checkout/operations.js';
import type { TerminalRequest } from '../../src/checkout/checkout.js';
import { createLogger } from '../../src/telemetry/logger.js';

const ctx = { knownEffectType: (t: string) => ['setDiscount', 'setDiscountPerItem', 'acceptCoupon'].includes(t), knownCampaign: (id: number) => id === 1 };
const fx = (effectType: string, props: Record<string, unknown>, campaignId = 1) => ({ campaignId, rulesetId: 1, ruleIndex: 0, ruleName: 'r', effectType, props });
const request = { customerSession: { cartItems: [{ sku: 'A', quantity: 2, price: 10 }, { sku: 'B', quantity: 1, price: 5 }] } };
const rules = (effects: unknown[], answer: Record<string, unknown> = {}, req: unknown = request) => checkRules({ effects, ...answer }, req, ctx).map((p) => `${p.rule} ${p.path}`);

describe('answer rules', () => {
  it('accepts discounts up to what they apply to (half a cent of rounding allowed)', () => {
    expect(rules([fx('setDiscount', { name: 'd', value: 25 }), fx('setDiscountPerItem', { name: 'p', value: 9.999, position: 0, subPosition: 0 })])).toEqual(['discount /effects']);
    expect(rules([fx('setDiscount', { name: 'd', value: 25.004 })])).toEqual([]);
    expect(rules([fx('setDiscountPerItem', { name: 'p', value: 20.004, position: 0 }), fx('setDiscountPerItem', { name: 'p', value: 5, position: 1 })])).toEqual([]);
  });

  it('refuses a line discounted past its value, a line that does not exist, and a scoped discount past its scope', () => {
    expect(rules([fx('setDiscountPerItem', { name: 'p', value: 3, position: 1 }), fx('setDiscountPerItem', { name: 'q', value: 3, position: 1 })])).toEqual(['discount /effects/1/props/value']);
    expect(rules([fx('setDiscountPerItem', { name: 'p', value: 1, position: 2 })])).toEqual(['position /effects/0/props/position']);
    expect(rules([fx('setDiscount', { name: 'd', value: 8, scope: 'cartItems' })], { customerSession: { total: 30, cartItemTotal: 7, additionalCostTotal: 23 } })).toEqual(['discount /effects/0/props/value']);
  });

  it('measures an update without a cart on the session Talon.One answers with', () => {
    const answer = { customerSession: { total: 12, cartItems: [{ sku: 'A', quantity: 1, price: 12 }] } };
    expect(rules([fx('setDiscount', { name: 'd', value: 13 })], answer, { customerSession: { couponCodes: ['X'] } })).toEqual(['discount /effects/0/props/value']);
    expect(rules([fx('setDiscountPerItem', { name: 'p', value: 1, position: 1 })], answer, { customerSession: {} })).toEqual(['position /effects/0/props/position']);
  });

  it('does not guess: no cart known, or a line without a price (a catalog item), bounds nothing', () => {
    expect(rules([fx('setDiscount', { name: 'd', value: 1e6 })], {}, { customerSession: {} })).toEqual([]);
    expect(rules([fx('setDiscountPerItem', { name: 'p', value: 500, position: 0 })], {}, { customerSession: { cartItems: [{ sku: 'CAT', quantity: 1 }] } })).toEqual([]);
  });

  it('names unknown effect types and campaigns; campaign -1 belongs to none', () => {
    expect(rules([fx('teleport', {}), fx('acceptCoupon', { value: 'X' }, 77), fx('acceptCoupon', { value: 'Y' }, -1)])).toEqual(['effectType /effects/0/effectType', 'unknownCampaign /effects/1/campaignId']);
  });
});

describe('answer checker alerts', () => {
  it('alerts the first failure at once and at most one a minute after, counting the ones held back', async () => {
    let t = 0;
    const alerts: Record<string, unknown>[] = [];
    const checker = new AnswerChecker({
      settings: { enabled: true, replace: false, unknownCampaigns: 'count' },
      knownCampaign: () => true,
      registry: new Registry(),
      log: createLogger('silent'),
      alert: (a) => alerts.push(a),
      monotonic: () => t,
      now: () => 0,
    });
    await checker.start();
    const spec = OPERATIONS.find((o) => o.op === 'updateSession');
    if (!spec) throw new Error('no updateSession spec');
    const req = (id: string): TerminalRequest => ({ spec, terminalId: 'T1', params: { customerSessionId: id }, query: '', body: {} });
    const bad = { status: 200, contentType: 'application/json', body: Buffer.from('not json') };
    for (const [at, id] of [[0, 'a'], [10_000, 'b'], [59_000, 'c'], [60_000, 'd'], [61_000, 'e']] as const) {
      t = at;
      checker.check(req(id), {}, bad);
    }
    expect(alerts.map((a) => [a.sessionId, a.heldBack])).toEqual([['a', 0], ['d', 2]]);
    expect(checker.status()).toMatchObject({ checked: 5, failed: 5, replaced: 0, lastFailure: { sessionId: 'e', problems: [{ rule: 'json' }] } });
  });
});
