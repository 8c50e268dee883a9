import { BudgetError, EvalError, spend, type EvalCtx, type ItemView } from './context.js';
import { compilePath, Invalid, num, Unsupported, type Getter, type PathEnv } from './paths.js';
import { compileCheckAttribute, type Pred } from './check-attribute.js';
import { compileTalang } from './talang.js';
import { snap } from './money.js';
import type { CartItemFilterDef, SelectorDef } from './types.js';

/** Selector step types implemented offline (`filterAndMapValues` needs value maps: not synced). */
export const SELECTOR_STEPS = ['filter', 'sort', 'select', 'map', 'reduce', 'reverse'] as const;

/** Compiles a selector predicate block (`checkAttribute`, `group`, `passthrough`) evaluated per `$Item`. */
export function compileItemPredicate(b: unknown, env: PathEnv, where: string, depth = 0): Pred {
  if (depth > 32) throw new Unsupported('selector predicate nested too deeply');
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw new Invalid(where, 'predicate must be an object');
  const blk = b as Record<string, unknown>;
  switch (blk.type) {
    case 'checkAttribute': return compileCheckAttribute(blk, env, where);
    case 'group': {
      if (!Array.isArray(blk.blocks)) throw new Invalid(`${where}/blocks`, 'group needs blocks');
      const kids = blk.blocks.map((k, i) => compileItemPredicate(k, env, `${where}/blocks/${i}`, depth + 1));
      switch (blk.operator) {
        case 'all': return (ctx) => kids.every((k) => k(ctx));
        case 'atLeastOne': return (ctx) => kids.some((k) => k(ctx));
        case 'none': return (ctx) => !kids.some((k) => k(ctx));
        default: throw new Invalid(`${where}/operator`, 'group operator must be all, atLeastOne or none');
      }
    }
    case 'passthrough': {
      const g = compileTalang(blk.expression, env, `${where}/expression`);
      return (ctx) => { try { return g(ctx) === true; } catch (e) { if (e instanceof EvalError && !(e instanceof BudgetError)) return false; throw e; } };
    }
    default: throw new Unsupported(`selector predicate type ${String(blk.type)} is not supported offline`);
  }
}

function withItem<T>(ctx: EvalCtx, item: unknown, f: () => T): T {
  const saved = ctx.item;
  ctx.item = item;
  try { return f(); } finally { ctx.item = saved; }
}

type Step = (ctx: EvalCtx, xs: unknown[]) => unknown[] | unknown;

function compileStep(st: Record<string, unknown>, env: PathEnv, where: string): { run: Step; yieldsItems: boolean; terminal: boolean } {
  switch (st.type) {
    case 'filter': {
      const p = compileItemPredicate(st.predicate, env, `${where}/predicate`);
      return { yieldsItems: true, terminal: false, run: (ctx, xs) => { spend(ctx, xs.length); return xs.filter((it) => withItem(ctx, it, () => p(ctx))); } };
    }
    case 'sort': {
      if (!Array.isArray(st.fields) || st.fields.length === 0) throw new Invalid(`${where}/fields`, 'sort needs fields');
      const fields = st.fields.map((f, i) => {
        const fo = f as Record<string, unknown>;
        if (fo.direction !== 'asc' && fo.direction !== 'desc') throw new Invalid(`${where}/fields/${i}/direction`, 'direction must be asc or desc');
        return { get: compilePath(fo.expression, env, `${where}/fields/${i}/expression`), d: fo.direction === 'desc' ? -1 : 1 };
      });
      return {
        yieldsItems: true, terminal: false,
        run: (ctx, xs) => {
          spend(ctx, xs.length * 2);
          const keyed = xs.map((it, i) => ({ it, i, k: fields.map((f) => withItem(ctx, it, () => f.get(ctx))) }));
          keyed.sort((a, b) => {
            for (let j = 0; j < fields.length; j++) {
              const x = a.k[j], y = b.k[j], d = (fields[j] as { d: number }).d;
              if (x === y) continue;
              if (x === undefined || x === null) return 1;
              if (y === undefined || y === null) return -1;
              return ((x as number) < (y as number) ? -1 : 1) * d;
            }
            return a.i - b.i;
          });
          return keyed.map((k) => k.it);
        },
      };
    }
    case 'select': {
      const int = (k: string) => { const v = st[k]; if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Invalid(`${where}/${k}`, `${k} must be a non-negative integer`); return v; };
      if (st.operator === 'one') { const i = int('index'); return { yieldsItems: true, terminal: false, run: (_c, xs) => { if (i >= xs.length) throw new EvalError('select one: index out of range'); return [xs[i]]; } }; }
      if (st.operator === 'between') { const f = int('from'), t = int('to'); return { yieldsItems: true, terminal: false, run: (_c, xs) => xs.slice(f, t) }; }
      if (st.operator === 'many') {
        const n = int('count');
        if (st.from !== 'start' && st.from !== 'end') throw new Invalid(`${where}/from`, 'from must be start or end');
        const fromEnd = st.from === 'end';
        return { yieldsItems: true, terminal: false, run: (_c, xs) => (fromEnd ? xs.slice(Math.max(0, xs.length - n)) : xs.slice(0, n)) };
      }
      throw new Invalid(`${where}/operator`, 'select operator must be many, between or one');
    }
    case 'map': {
      const g = compilePath(st.expression, env, `${where}/expression`);
      return { yieldsItems: false, terminal: false, run: (ctx, xs) => { spend(ctx, xs.length); return xs.map((it) => withItem(ctx, it, () => g(ctx))); } };
    }
    case 'reduce': {
      const op = st.operator;
      const vals = (xs: unknown[]) => xs.map((x) => num(typeof x === 'object' && x !== null && 'Price' in x ? (x as ItemView).Price : x, 'reduced value'));
      switch (op) {
        case 'count': return { yieldsItems: false, terminal: true, run: (_c, xs) => xs.length };
        case 'empty': return { yieldsItems: false, terminal: true, run: (_c, xs) => xs.length === 0 };
        case 'sum': return { yieldsItems: false, terminal: true, run: (_c, xs) => snap(vals(xs).reduce((a, b) => a + b, 0)) };
        case 'max': case 'min': return { yieldsItems: false, terminal: true, run: (_c, xs) => { const v = vals(xs); if (v.length === 0) throw new EvalError(`${op} of nothing`); return op === 'max' ? Math.max(...v) : Math.min(...v); } };
        default: throw new Invalid(`${where}/operator`, 'reduce operator must be max, min, sum, count or empty');
      }
    }
    case 'reverse': return { yieldsItems: true, terminal: false, run: (_c, xs) => [...xs].reverse() };
    default: throw new Unsupported(`selector step ${String(st.type)} is not supported offline`);
  }
}

export interface CompiledSelector {
  readonly name: string;
  readonly get: Getter;
  /** true when the result is a list of cart items (usable as a discount target). */
  readonly yieldsItems: boolean;
}

/** Compiles a ruleset selector (`source` must be `$Session.CartItems`). Results are memoised per evaluation. */
export function compileSelector(def: SelectorDef, env: PathEnv, where: string): CompiledSelector {
  if (def.source !== '$Session.CartItems') throw new Unsupported(`selector source ${String(def.source)} is not supported offline`);
  if (!Array.isArray(def.steps)) throw new Invalid(`${where}/steps`, 'steps must be a list');
  const steps = def.steps.map((s, i) => compileStep(s as Record<string, unknown>, env, `${where}/steps/${i}`));
  let yieldsItems = true;
  steps.forEach((s, i) => {
    if (s.terminal && i !== steps.length - 1) throw new Unsupported('selector step after reduce');
    yieldsItems = s.yieldsItems && yieldsItems;
  });
  const key = {};
  const get: Getter = (ctx) => {
    if (ctx.memo.has(key)) return ctx.memo.get(key);
    let cur: unknown = ctx.items;
    for (const s of steps) cur = s.run(ctx, cur as unknown[]);
    ctx.memo.set(key, cur);
    return cur;
  };
  return { name: def.name, get, yieldsItems };
}

/** Application cart item filter: a Talang expression over `Session.CartItems` returning items. */
export function compileGlobalFilter(def: CartItemFilterDef, where: string): Getter {
  const g = compileTalang(def.expression, { selectors: new Map() }, `${where}/expression`);
  const key = {};
  return (ctx) => {
    if (ctx.memo.has(key)) return ctx.memo.get(key);
    const v = g(ctx);
    if (!Array.isArray(v)) throw new EvalError(`cart item filter ${def.name} did not return a list`);
    ctx.memo.set(key, v);
    return v;
  };
}
