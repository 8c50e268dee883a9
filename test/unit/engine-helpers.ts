import { CouponLedger } from '../../src/engine/coupon-ledger.js';
import { LoyaltyLimits } from '../../src/engine/loyalty.js';
import { parseRules } from '../../src/engine/ingest/rules.js';
import { Engine, type EvaluateInput, type EvaluateOutput } from '../../src/engine/evaluate.js';
import { PriceBook } from '../../src/engine/pricebook.js';
import { CouponIndex } from '../../src/engine/coupons.js';
import { LoyaltyIndex } from '../../src/engine/loyalty.js';
import type { Coupon, LoyaltyBalance, LoyaltyProgram, SessionInput, ProfileInput, Effect } from '../../src/engine/types.js';

export const NOW = Date.parse('2026-06-01T10:00:00Z');

export type B = Record<string, unknown>;

/** A campaign entry with one or more rules (each a list of blocks). */
export function campaign(id: number, rules: B[][], extra: { campaign?: B; selectors?: B[]; ruleset?: B } = {}): B {
  return {
    campaign: { id, name: `C${id}`, state: 'enabled', ...extra.campaign },
    ruleset: { id: id * 10, created: '2026-01-01T00:00:00Z', userId: 1, strikethroughRules: [], selectors: extra.selectors ?? [], promotionRules: rules.map((blocks, i) => ({ id: `r${i}`, title: `R${id}.${i}`, blocks: blocks.map((b, j) => ({ id: `b${j}`, ...b })) })), ...extra.ruleset },
  };
}

export function rulesPayload(campaigns: B[], extra: B = {}): B {
  return { version: 1, application: { currency: 'EUR', timezone: 'UTC' }, evaluationTree: null, campaigns, stores: [{ id: 42, integrationId: 'store-042' }], ...extra };
}

export function engine(rules: B, opts: { coupons?: Coupon[]; programs?: LoyaltyProgram[]; balances?: LoyaltyBalance[]; prices?: PriceBook; budget?: number } = {}): Engine {
  const { compiled } = parseRules(rules);
  return new Engine({
    rules: compiled, prices: opts.prices ?? new PriceBook(), coupons: new CouponIndex(opts.coupons ?? []), loyalty: new LoyaltyIndex(opts.programs ?? [], opts.balances ?? []),
    store: { id: 42, integrationId: 'store-042', attributes: { region: 'north' } },
  }, opts.budget !== undefined ? { budget: opts.budget } : {});
}

export function evaluate(e: Engine, session: SessionInput, more: Partial<EvaluateInput> & { profile?: ProfileInput } = {}): EvaluateOutput {
  return e.evaluate({ customerSessionId: 's1', session, now: NOW, ledger: new CouponLedger(), loyalty: new LoyaltyLimits(500), ...more });
}

/** Effects reduced to type + props (for compact expectations). */
export function fx(out: EvaluateOutput): { type: string; props: Record<string, unknown>; campaignId: number }[] {
  return out.effects.map((e: Effect) => ({ type: e.effectType, props: e.props, campaignId: e.campaignId }));
}

export const cart = (...items: [sku: string, price: number, qty?: number, extra?: B][]) => items.map(([sku, price, quantity = 1, extra = {}]) => ({ sku, price, quantity, ...extra }));

/** One campaign, one rule: condition blocks + a notification marker. */
export function triggers(blocks: B[], session: SessionInput, more: Partial<EvaluateInput> & { profile?: ProfileInput } = {}, extra: { selectors?: B[]; rulesExtra?: B } = {}): boolean {
  const e = engine(rulesPayload([campaign(1, [[...blocks, { type: 'showNotification', notificationType: 'Info', title: 'marker' }]], { selectors: extra.selectors ?? [] })], extra.rulesExtra));
  const out = evaluate(e, session, more);
  return out.effects.some((x) => x.effectType === 'showNotification' && x.props.title === 'marker');
}
