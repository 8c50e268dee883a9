import { DataError } from '../../core/errors.js';
import { compileRules, type CompiledRules } from '../compile-rules.js';
import { Invalid } from '../paths.js';
import { validTimeZone } from '../talang-time.js';
import type { CollectionIndex } from '../collections.js';
import type { RulesPayload } from '../types.js';
import { checkBudgetShares } from './budget-shares.js';
import { Check } from './check.js';

const MAX_CAMPAIGNS = 10_000;

function checkBlocks(c: Check, v: unknown, path: string): void {
  if (!c.arr(v, path, 1000)) return;
  v.forEach((b, i) => {
    const p = `${path}/${i}`;
    if (!c.obj(b, p)) return;
    c.str(b.type, `${p}/type`, 1);
  });
}

/** Validates a rules payload (README "Local data") and compiles it; throws {@link DataError} with JSON pointers. */
export function parseRules(payload: unknown, opts: { collections?: CollectionIndex } = {}): { payload: RulesPayload; compiled: CompiledRules } {
  const c = new Check();
  if (!c.obj(payload, '')) throw new DataError('invalid rules data', c.errors);
  c.version(payload);
  if (c.obj(payload.application, '/application')) {
    const a = payload.application;
    if (a.currency !== undefined && !(typeof a.currency === 'string' && /^[A-Za-z]{3}$/.test(a.currency))) c.fail('/application/currency', 'must be an ISO 4217 code');
    if (a.timezone !== undefined && !(typeof a.timezone === 'string' && validTimeZone(a.timezone))) c.fail('/application/timezone', 'must be an IANA time zone');
    c.oneOf(a.caseSensitivity, '/application/caseSensitivity', ['sensitive', 'insensitive-uppercase', 'insensitive-lowercase']);
    c.oneOf(a.defaultDiscountScope, '/application/defaultDiscountScope', ['sessionTotal', 'cartItems', 'additionalCosts']);
    for (const k of ['enableCascadingDiscounts', 'enablePartialDiscounts'] as const) if (a[k] !== undefined) c.bool(a[k], `/application/${k}`);
    c.optObj(a.attributes, '/application/attributes');
  }
  if (payload.evaluationTree !== null && payload.evaluationTree !== undefined && c.obj(payload.evaluationTree, '/evaluationTree')) {
    c.obj(payload.evaluationTree.set, '/evaluationTree/set');
  }
  const ids = new Set<number>();
  if (c.arr(payload.campaigns, '/campaigns', MAX_CAMPAIGNS)) {
    payload.campaigns.forEach((e, i) => {
      const p = `/campaigns/${i}`;
      if (!c.obj(e, p)) return;
      if (c.obj(e.campaign, `${p}/campaign`)) {
        const k = e.campaign;
        if (c.int(k.id, `${p}/campaign/id`, 0)) {
          if (ids.has(k.id)) c.fail(`${p}/campaign/id`, `duplicate campaign id ${k.id}`);
          ids.add(k.id);
        }
        c.str(k.name, `${p}/campaign/name`);
        c.str(k.state, `${p}/campaign/state`, 1);
        c.time(k.startTime, `${p}/campaign/startTime`);
        c.time(k.endTime, `${p}/campaign/endTime`);
        if (k.linkedStoreIds !== undefined && k.linkedStoreIds !== null && c.arr(k.linkedStoreIds, `${p}/campaign/linkedStoreIds`, 100_000)) {
          k.linkedStoreIds.forEach((s, j) => c.int(s, `${p}/campaign/linkedStoreIds/${j}`));
        }
      }
      if (c.obj(e.ruleset, `${p}/ruleset`)) {
        const r = e.ruleset;
        c.int(r.id, `${p}/ruleset/id`, 0);
        if (c.arr(r.promotionRules, `${p}/ruleset/promotionRules`, 1000)) {
          r.promotionRules.forEach((rule, j) => {
            const rp = `${p}/ruleset/promotionRules/${j}`;
            if (!c.obj(rule, rp)) return;
            c.str(rule.title, `${rp}/title`);
            checkBlocks(c, rule.blocks, `${rp}/blocks`);
          });
        }
        if (r.selectors !== undefined && r.selectors !== null && c.arr(r.selectors, `${p}/ruleset/selectors`, 1000)) {
          r.selectors.forEach((s, j) => {
            const sp = `${p}/ruleset/selectors/${j}`;
            if (!c.obj(s, sp)) return;
            c.str(s.name, `${sp}/name`, 1);
            c.str(s.source, `${sp}/source`, 1);
            c.arr(s.steps, `${sp}/steps`, 100);
          });
        }
      }
    });
  }
  if (payload.stores !== undefined && c.arr(payload.stores, '/stores', 100_000)) {
    payload.stores.forEach((s, i) => {
      if (!c.obj(s, `/stores/${i}`)) return;
      c.int(s.id, `/stores/${i}/id`, 0);
      c.str(s.integrationId, `/stores/${i}/integrationId`, 1);
      c.optObj(s.attributes, `/stores/${i}/attributes`);
    });
  }
  if (payload.cartItemFilters !== undefined && c.arr(payload.cartItemFilters, '/cartItemFilters', 1000)) {
    payload.cartItemFilters.forEach((f, i) => {
      if (!c.obj(f, `/cartItemFilters/${i}`)) return;
      c.str(f.name, `/cartItemFilters/${i}/name`, 1);
      c.arr(f.expression, `/cartItemFilters/${i}/expression`);
    });
  }
  if (payload.budgets !== undefined) checkBudgetShares(c, payload.budgets, ids);
  if (!c.ok) throw new DataError('invalid rules data', c.errors);
  const p = { ...(payload as unknown as RulesPayload), evaluationTree: (payload.evaluationTree ?? null) as RulesPayload['evaluationTree'] };
  try {
    return { payload: p, compiled: compileRules(p, opts) };
  } catch (e) {
    if (e instanceof Invalid) throw new DataError('invalid rules data', [{ path: e.path, message: e.message }]);
    throw e;
  }
}
