/**
 * `awardDiscount` targets beyond the cart and lists of items (Management API `AwardDiscountTarget`):
 * `additionalCost` (`AwardDiscountAdditionalCostTarget`: `additionalCost {id, name, title}` and a `target` of
 * `cart`, `allItems`, `globalFilter` or `selector`) and `bundle` (`AwardDiscountBundleTarget`: `name`, `item`,
 * `prorated`). blocks.ts hands them here; the arithmetic is in cost-discounts.ts and bundles.ts.
 */
import type { EvalCtx, ItemView } from './context.js';
import { awardBundle, compileBundle, compilePick, type ItemsOf } from './bundles.js';
import { itemCostDiscounts, sessionCostDiscount } from './cost-discounts.js';
import { Invalid, Unsupported, type PathEnv } from './paths.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What the target compilers need of blocks.ts: the ruleset's bundle definitions and its list targets. */
export interface TargetEnv extends PathEnv {
  /** Raw bundle definitions of the ruleset by name (`bundleDefs`). */
  readonly bundles?: ReadonlyMap<string, unknown>;
}

/**
 * The discount of an `additionalCost` or `bundle` target, or undefined for other targets. `itemsOf` resolves an
 * `allItems`/`globalFilter`/`selector` target (blocks.ts `targetItems`); `value` is the block's compiled value.
 */
export function compileTargetDiscount(name: string, t: Obj, value: (ctx: EvalCtx) => number, partial: boolean, env: TargetEnv, where: string, itemsOf: (target: Obj, where: string) => ItemsOf | 'cart'): ((ctx: EvalCtx) => boolean) | undefined {
  if (t.type === 'additionalCost') {
    const ac = t.additionalCost;
    if (!isObj(ac)) throw new Invalid(`${where}/additionalCost`, 'additionalCost must be an object with id and name');
    if (typeof ac.id !== 'number' || !Number.isInteger(ac.id)) throw new Invalid(`${where}/additionalCost/id`, 'additional cost id must be an integer');
    if (typeof ac.name !== 'string' || ac.name === '') throw new Invalid(`${where}/additionalCost/name`, 'additional cost name must be a string');
    const cost = { id: ac.id, name: ac.name };
    if (!isObj(t.target)) throw new Invalid(`${where}/target`, 'an additionalCost target needs a target (cart, allItems, globalFilter or selector)');
    if (t.target.type === 'additionalCost' || t.target.type === 'bundle') throw new Unsupported(`an additionalCost discount on a ${String(t.target.type)} target is not supported offline`);
    if (t.target.prorated === true) throw new Unsupported('a prorated additionalCost discount is not supported offline');
    const items = itemsOf(t.target, `${where}/target`);
    if (items === 'cart') return (ctx) => sessionCostDiscount(ctx, name, cost, value(ctx), partial);
    return (ctx) => {
      const lines = items(ctx);
      const per: number[] = [];
      const saved = ctx.item;
      try {
        for (let i = 0; i < lines.length; i++) { ctx.item = lines[i] as ItemView; per.push(value(ctx)); }
      } finally { ctx.item = saved; }
      return itemCostDiscounts(ctx, name, cost, lines, per, partial);
    };
  }
  if (t.type === 'bundle') {
    if (typeof t.name !== 'string') throw new Invalid(`${where}/name`, 'a bundle target needs the bundle name');
    const bundle = compileBundle(t.name, env.bundles, env, (lt, w) => {
      const r = itemsOf(lt, w);
      if (r === 'cart') throw new Unsupported(`bundle ${String(t.name)}: a list must be allItems, globalFilter or selector`);
      return r;
    });
    const pick = compilePick(t.item, bundle.size, env, `${where}/item`);
    const prorated = t.prorated === true;
    if (prorated && pick.type !== 'all') throw new Unsupported('a prorated discount of one item per bundle is not supported offline');
    return (ctx) => awardBundle(ctx, name, bundle, pick, prorated, value, partial);
  }
  return undefined;
}
