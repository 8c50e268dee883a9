import { BudgetError, EvalError, spend, type EvalCtx, type ItemView } from './context.js';
import { compilePath, Invalid, num, Unsupported, type Getter, type PathEnv } from './paths.js';
import { compileCheckAttribute, type Pred } from './check-attribute.js';
import { compileTalang } from './talang.js';
import { cartLinesWith, fieldHint, type EqHint } from './talang-index.js';
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
        // (Index loops: `every`/`some` with a callback per kid, per cart line, per selector.)
        case 'all': return (ctx) => { for (let i = 0; i < kids.length; i++) if (!(kids[i] as Pred)(ctx)) return false; return true; };
        case 'atLeastOne': return (ctx) => { for (let i = 0; i < kids.length; i++) if ((kids[i] as Pred)(ctx)) return true; return false; };
        case 'none': return (ctx) => { for (let i = 0; i < kids.length; i++) if ((kids[i] as Pred)(ctx)) return false; return true; };
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

const ITEM_FIELD = /^\$Item\.([A-Za-z_][A-Za-z0-9_]{0,127})$/;
const TEMPLATE = /^\s*\{\{([\s\S]*)\}\}\s*$/;

/**
 * The check `$Item.F equals literal` when it leads a (compiled) predicate: the predicate itself, or the
 * first block of an `all` group, recursively. A line whose `F` is not the literal then fails the predicate
 * at that check, before anything else runs (such a check never throws), so a filter over the cart needs to
 * run the predicate only on the lines the per-evaluation field index gives for the literal (`===`, which
 * is the index's SameValueZero for JSON values), in cart order.
 */
function leadingEq(b: unknown, depth = 0): EqHint[] | undefined {
  if (!b || typeof b !== 'object' || Array.isArray(b) || depth > 32) return undefined;
  const o = b as Record<string, unknown>;
  if (o.type === 'group') return o.operator === 'all' && Array.isArray(o.blocks) && o.blocks.length > 0 ? leadingEq(o.blocks[0], depth + 1) : undefined;
  if (o.type !== 'checkAttribute' || o.operator !== 'equals' || typeof o.attribute !== 'string') return undefined;
  const m = ITEM_FIELD.exec(o.attribute);
  const v = o.value;
  if (!m || !((typeof v === 'string' && !TEMPLATE.test(v)) || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean')) return undefined;
  return [fieldHint(m[1] as string, v)];
}

/**
 * `$Item` bound to each element in turn, restored once at the end (or on a throw): the same values as
 * binding and restoring it around each element (what a step reads nested inside restores what it changes),
 * without a closure per element.
 */
function eachItem(ctx: EvalCtx, xs: readonly unknown[], f: (it: unknown, i: number) => void): void {
  const saved = ctx.item;
  try {
    for (let i = 0; i < xs.length; i++) { const it = xs[i]; ctx.item = it; f(it, i); }
  } finally { ctx.item = saved; }
}

type Step = (ctx: EvalCtx, xs: unknown[]) => unknown[] | unknown;

function compileStep(st: Record<string, unknown>, env: PathEnv, where: string): { run: Step; yieldsItems: boolean; terminal: boolean } {
  switch (st.type) {
    case 'filter': {
      const p = compileItemPredicate(st.predicate, env, `${where}/predicate`);
      const hint = leadingEq(st.predicate);
      return {
        yieldsItems: true, terminal: false,
        run: (ctx, xs) => {
          spend(ctx, xs.length);
          const ls = hint !== undefined && xs === ctx.items ? cartLinesWith(ctx, hint) : xs;
          const out: unknown[] = [];
          const saved = ctx.item;
          try {
            for (let i = 0; i < ls.length; i++) { const it = ls[i]; ctx.item = it; if (p(ctx)) out.push(it); }
          } finally { ctx.item = saved; }
          return out;
        },
      };
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
          const keyed: { it: unknown; i: number; k: unknown[] }[] = [];
          eachItem(ctx, xs, (it, i) => {
            const k: unknown[] = [];
            for (let j = 0; j < fields.length; j++) k.push((fields[j] as { get: Getter }).get(ctx));
            keyed.push({ it, i, k });
          });
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
      return { yieldsItems: false, terminal: false, run: (ctx, xs) => { spend(ctx, xs.length); const out: unknown[] = []; eachItem(ctx, xs, () => { out.push(g(ctx)); }); return out; } };
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
  // One lookup per read: a result is never undefined (lists, numbers, booleans).
  const get: Getter = (ctx) => {
    const seen = ctx.memo.get(key);
    if (seen !== undefined) return seen;
    let cur: unknown = ctx.items;
    for (let i = 0; i < steps.length; i++) cur = (steps[i] as { run: Step }).run(ctx, cur as unknown[]);
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
    const seen = ctx.memo.get(key);
    if (seen !== undefined) return seen;
    const v = g(ctx);
    if (!Array.isArray(v)) throw new EvalError(`cart item filter ${def.name} did not return a list`);
    ctx.memo.set(key, v);
    return v;
  };
}
