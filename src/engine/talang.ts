import { EvalError, BudgetError, spend, lookupLocal, NOT_FOUND, type EvalCtx, type Local } from './context.js';
import { checkSegments, Invalid, num, own, reader, sharedGetter, Unsupported, type Getter, type PathEnv } from './paths.js';
import { snap } from './money.js';
import { safeRegex, MAX_MATCH_INPUT } from './regex-guard.js';
import { TTime, toTime, parts, durationMs } from './talang-time.js';
import { cartLinesWith, eqHints } from './talang-index.js';

/**
 * A compiler for the Talang subset storegate evaluates offline. Expressions are JSON arrays
 * `[fn, arg…]`; blocks (lambdas) are `[["Item"], body]`. List iterations spend the evaluation
 * budget (one unit per element visited), lists are capped, and an unknown function name makes the campaign not
 * offline-capable ({@link Unsupported}) at ingestion, never at checkout.
 */

export const TALANG_FUNCTIONS = [
  '+', '-', '*', '/', 'mod', 'ceil', 'floor',
  '=', '!=', '<', '<=', '>', '>=',
  'and', 'or', 'not',
  '.', '.|', 'catch', 'noop',
  'list', 'append', 'push', 'head', 'tail', 'item', 'count', 'isEmpty', 'reverse', 'sort', 'sortByNumber', 'sortByString',
  'max', 'min', 'sum', 'filter', 'map', 'every', 'exists',
  'concat', 'contains', 'notContains', 'startsWith', 'endsWith', '~', 'split', 'join', 'toString',
  'parseTime', 'after', 'before', 'between', 'addDuration', 'subDuration', 'daysBetween',
  'hour', 'minute', 'month', 'monthDay', 'weekday', 'year',
  'setDiscount', 'couponValid', 'addLoyaltyPoints', 'deductLoyaltyPoints',
] as const;
const KNOWN = new Set<string>(TALANG_FUNCTIONS);

const MAX_LIST = 10_000;
const MAX_DEPTH = 64;
const ROOTS = new Set(['Session', 'Profile', 'Store', 'Item', 'Coupon', 'Application']);

interface Lambda {
  readonly params: readonly string[];
  /** `params[0] !== undefined` and `params[0] === 'Item'`, inline (read on every call). */
  readonly bindIt: boolean;
  readonly isItem: boolean;
  readonly body: Getter;
  /** Reused binding cell: a lambda site is never re-entered while active (Talang has no recursion). */
  readonly slot: { name: string; value: unknown; up: Local | undefined };
}

interface Scope {
  readonly env: PathEnv;
  readonly locals: ReadonlySet<string>;
  readonly depth: number;
  readonly where: string;
}

function isLambda(x: unknown): x is [string[], unknown] {
  return Array.isArray(x) && x.length === 2 && Array.isArray(x[0]) && x[0].every((p) => typeof p === 'string');
}

function list(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  throw new EvalError('not a list');
}

function str(v: unknown): string {
  if (typeof v === 'string') return v;
  throw new EvalError('not a string');
}

function bool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  throw new EvalError('not a boolean');
}

function cmpVal(v: unknown): number | string {
  if (v instanceof TTime) return v.ms;
  if (typeof v === 'number' || typeof v === 'string') return v;
  throw new EvalError('not comparable');
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' && typeof b !== 'object') return false;
  if (a instanceof TTime || b instanceof TTime) return toTime(a).ms === toTime(b).ms;
  return false;
}

function capped(xs: unknown[]): unknown[] {
  if (xs.length > MAX_LIST) throw new BudgetError('list too long');
  return xs;
}

/** Calls a lambda with its parameter(s) bound. `Item` also becomes `$Item`. */
function call(ctx: EvalCtx, fn: Lambda, arg: unknown): unknown {
  const saved = ctx.locals;
  const savedItem = ctx.item;
  const p0 = fn.params[0];
  if (p0 !== undefined) {
    const slot = fn.slot;
    slot.value = arg;
    slot.up = saved;
    ctx.locals = slot;
  }
  if (p0 === 'Item') ctx.item = arg;
  try {
    return fn.body(ctx);
  } finally {
    ctx.locals = saved;
    ctx.item = savedItem;
  }
}

const ITER_FILTER = 0, ITER_MAP = 1, ITER_EVERY = 2, ITER_EXISTS = 3;

/**
 * `filter`/`map`/`every`/`exists` over a list: the same bindings as {@link call} per element, but the
 * scope is saved and restored once per list instead of once per element (a lambda never re-enters
 * itself and nested calls restore what they change, so the state between elements is the same).
 */
function iterate(ctx: EvalCtx, fn: Lambda, l: unknown[], mode: number): unknown {
  const saved = ctx.locals;
  const savedItem = ctx.item;
  const bindIt = fn.bindIt;
  const isItem = fn.isItem;
  const slot = fn.slot;
  const body = fn.body;
  if (bindIt) slot.up = saved;
  const out: unknown[] | undefined = mode === ITER_FILTER || mode === ITER_MAP ? [] : undefined;
  try {
    for (let i = 0; i < l.length; i++) {
      const it = l[i];
      if (bindIt) { slot.value = it; ctx.locals = slot; }
      if (isItem) ctx.item = it;
      const r = body(ctx);
      if (mode === ITER_MAP) (out as unknown[]).push(r);
      else if (mode === ITER_FILTER) { if (bool(r)) (out as unknown[]).push(it); }
      else if (mode === ITER_EVERY) { if (!bool(r)) return false; }
      else if (bool(r)) return true;
    }
  } finally {
    ctx.locals = saved;
    ctx.item = savedItem;
  }
  return out ?? mode === ITER_EVERY;
}

/** Compiles a Talang expression; throws {@link Unsupported} for anything outside the subset. */
export function compileTalang(expr: unknown, env: PathEnv, where: string, locals: ReadonlySet<string> = new Set()): Getter {
  return node(expr, { env, locals, depth: 0, where });
}

function node(x: unknown, sc: Scope): Getter {
  if (sc.depth > MAX_DEPTH) throw new Unsupported('Talang expression nested too deeply');
  if (x === null || typeof x === 'number' || typeof x === 'boolean') return () => x;
  if (typeof x === 'string') return () => x;
  if (!Array.isArray(x)) throw new Unsupported('Talang maps are not supported');
  if (x.length === 0) throw new Invalid(sc.where, 'empty Talang expression');
  const [fn, ...rawArgs] = x;
  if (typeof fn !== 'string') throw new Unsupported('Talang list literals / lambdas outside list functions are not supported');
  if (!KNOWN.has(fn)) throw new Unsupported(`Talang function "${fn}" is not supported offline`);
  const sub: Scope = { ...sc, depth: sc.depth + 1 };
  if (fn === '.') return dot(rawArgs, sub);
  if (fn === '.|') {
    if (rawArgs.length < 2) throw new Invalid(sc.where, '.| needs a default and a path');
    const dflt = node(rawArgs[0], sub);
    const rest = rawArgs.length === 2 && Array.isArray(rawArgs[1]) && rawArgs[1][0] === '.' ? rawArgs[1].slice(1) : rawArgs.slice(1);
    const g = dot(rest, sub);
    return (ctx) => { const v = g(ctx); return v === undefined || v === null ? dflt(ctx) : v; };
  }
  const lambdaAt = (i: number): Lambda | undefined => {
    const a = rawArgs[i];
    if (!isLambda(a)) return undefined;
    const params = a[0];
    return { params, bindIt: params[0] !== undefined, isItem: params[0] === 'Item', body: node(a[1], { ...sub, locals: new Set([...sub.locals, ...params]) }), slot: { name: params[0] ?? '', value: undefined, up: undefined } };
  };
  const LIST_FNS = new Set(['filter', 'map', 'every', 'exists', 'sum', 'max', 'min', 'sortByNumber', 'sortByString', 'sort']);
  const lam = LIST_FNS.has(fn) ? lambdaAt(1) : undefined;
  const args = rawArgs.map((a, i) => (lam && i === 1 ? (() => undefined) : node(a, sub)));
  const arity = (min: number, max = min) => {
    if (args.length < min || args.length > max) throw new Invalid(sc.where, `Talang ${fn} takes ${min === max ? min : `${min}..${max}`} arguments, got ${args.length}`);
  };
  const a0 = args[0] as Getter, a1 = args[1] as Getter, a2 = args[2] as Getter;
  const nums = (ctx: EvalCtx) => args.map((g) => num(g(ctx)));
  const g = ((): Getter => {
    switch (fn) {
      case '+':
        arity(1, 64);
        return (ctx) => {
          const vs = args.map((g) => g(ctx));
          if (vs.every((v) => typeof v === 'number')) return snap((vs as number[]).reduce((p, c) => p + c, 0));
          if (vs.every((v) => typeof v === 'string')) return (vs as string[]).join('');
          throw new EvalError('+ needs numbers or strings');
        };
      case '-':
        arity(1, 64);
        return (ctx) => { const v = nums(ctx); return v.length === 1 ? -(v[0] as number) : snap(v.slice(1).reduce((p, c) => p - c, v[0] as number)); };
      case '*':
        arity(1, 64);
        return (ctx) => snap(nums(ctx).reduce((p, c) => p * c, 1));
      case '/':
        arity(2, 64);
        return (ctx) => { const v = nums(ctx); return snap(v.slice(1).reduce((p, c) => { if (c === 0) throw new EvalError('division by zero'); return p / c; }, v[0] as number)); };
      case 'mod':
        arity(2);
        return (ctx) => { const d = num(a1(ctx)); if (d === 0) throw new EvalError('division by zero'); return snap(num(a0(ctx)) % d); };
      case 'ceil': arity(1); return (ctx) => Math.ceil(num(a0(ctx)));
      case 'floor': arity(1); return (ctx) => Math.floor(num(a0(ctx)));
      case '=': {
        arity(2);
        const lit = rawArgs[1];
        if (typeof lit === 'string' || typeof lit === 'number' || typeof lit === 'boolean') {
          const lp = localField(rawArgs[0], sub);
          if (lp) {
            // `Item.Field = literal` inside a lambda (the usual list predicate): path read fused in, one call less per element.
            const [root, s0] = lp;
            const r0 = reader(s0);
            return (ctx) => {
              const top = ctx.locals;
              const o = top !== undefined && top.name === root ? top.value : lookupLocal(top, root);
              const v = o === NOT_FOUND ? undefined : r0(o);
              return v === lit || (typeof v === 'object' && equal(v, lit));
            };
          }
          return (ctx) => { const v = a0(ctx); return v === lit || (typeof v === 'object' && equal(v, lit)); };
        }
        return (ctx) => equal(a0(ctx), a1(ctx));
      }
      case '!=': arity(2); return (ctx) => !equal(a0(ctx), a1(ctx));
      case '<': arity(2); return (ctx) => cmpVal(a0(ctx)) < cmpVal(a1(ctx));
      case '<=': arity(2); return (ctx) => cmpVal(a0(ctx)) <= cmpVal(a1(ctx));
      case '>': arity(2); return (ctx) => cmpVal(a0(ctx)) > cmpVal(a1(ctx));
      case '>=': arity(2); return (ctx) => cmpVal(a0(ctx)) >= cmpVal(a1(ctx));
      case 'and':
        arity(0, 64);
        if (args.length === 2) return (ctx) => bool(a0(ctx)) && bool(a1(ctx));
        return (ctx) => { for (let i = 0; i < args.length; i++) if (!bool((args[i] as Getter)(ctx))) return false; return true; };
      case 'or':
        arity(0, 64);
        if (args.length === 2) return (ctx) => bool(a0(ctx)) || bool(a1(ctx));
        return (ctx) => { for (let i = 0; i < args.length; i++) if (bool((args[i] as Getter)(ctx))) return true; return false; };
      case 'not': arity(1); return (ctx) => !bool(a0(ctx));
      case 'catch':
        arity(2);
        return (ctx) => { try { return a1(ctx); } catch (e) { if (e instanceof BudgetError || !(e instanceof EvalError)) throw e; return a0(ctx); } };
      case 'noop': arity(0); return () => null;
      case 'list': arity(0, 1000); return (ctx) => args.map((g) => g(ctx));
      case 'append': case 'push': arity(2, 64); return (ctx) => capped([...list(a0(ctx)), ...args.slice(1).map((g) => g(ctx))]);
      case 'head': arity(1); return (ctx) => { const l = list(a0(ctx)); if (l.length === 0) throw new EvalError('head of empty list'); return l[0]; };
      case 'tail': arity(1); return (ctx) => list(a0(ctx)).slice(1);
      case 'item': arity(2); return (ctx) => { const l = list(a0(ctx)); const i = num(a1(ctx)); if (!Number.isInteger(i) || i < 0 || i >= l.length) throw new EvalError('index out of range'); return l[i]; };
      case 'count': arity(1); return (ctx) => list(a0(ctx)).length;
      case 'isEmpty': arity(1); return (ctx) => { const v = a0(ctx); if (typeof v === 'string') return v.length === 0; return list(v).length === 0; };
      case 'reverse': arity(1); return (ctx) => [...list(a0(ctx))].reverse();
      case 'filter': case 'map': case 'every': case 'exists': {
        arity(2);
        if (!lam) throw new Invalid(sc.where, `${fn} needs a [["Item"], body] block`);
        // One closure per function (no per-evaluation branching on `fn`): these loops are the hottest Talang code.
        const mode = fn === 'filter' ? ITER_FILTER : fn === 'map' ? ITER_MAP : fn === 'every' ? ITER_EVERY : ITER_EXISTS;
        const hint = mode === ITER_EXISTS || mode === ITER_FILTER ? eqHints(rawArgs[1]) : undefined;
        if (hint) {
          return (ctx) => {
            const l = list(a0(ctx));
            spend(ctx, l.length);
            return iterate(ctx, lam, l === ctx.items ? (cartLinesWith(ctx, hint) as unknown[]) : l, mode);
          };
        }
        return (ctx) => {
          const l = list(a0(ctx));
          spend(ctx, l.length);
          return iterate(ctx, lam, l, mode);
        };
      }
      case 'sum': case 'max': case 'min': {
        if (!lam && args.length !== 1) {
          if (fn === 'sum') throw new Invalid(sc.where, 'sum takes a list and an optional block');
          arity(2, 64);
          return (ctx) => (fn === 'max' ? Math.max : Math.min)(...nums(ctx));
        }
        arity(1, 2);
        return (ctx) => {
          const l = list(a0(ctx));
          spend(ctx, l.length);
          const vs = l.map((it) => num(lam ? call(ctx, lam, it) : it));
          if (fn === 'sum') return snap(vs.reduce((p, c) => p + c, 0));
          if (vs.length === 0) throw new EvalError(`${fn} of empty list`);
          return fn === 'max' ? Math.max(...vs) : Math.min(...vs);
        };
      }
      case 'sort': case 'sortByNumber': case 'sortByString': {
        arity(1, 3);
        if (fn !== 'sort' && !lam) throw new Invalid(sc.where, `${fn} needs a block`);
        const desc = args[2];
        return (ctx) => {
          const l = list(a0(ctx));
          spend(ctx, l.length * 2);
          const keyed = l.map((it, i) => ({ it, i, k: lam ? call(ctx, lam, it) : it }));
          for (const e of keyed) if (fn === 'sortByString' ? typeof e.k !== 'string' : fn === 'sortByNumber' ? typeof e.k !== 'number' : typeof e.k !== 'number' && typeof e.k !== 'string') throw new EvalError('bad sort key');
          const d = desc ? (bool(desc(ctx)) ? -1 : 1) : 1;
          keyed.sort((x, y) => ((x.k as number) < (y.k as number) ? -d : (x.k as number) > (y.k as number) ? d : x.i - y.i));
          return keyed.map((e) => e.it);
        };
      }
      case 'concat': arity(1, 64); return (ctx) => args.map((g) => str(g(ctx))).join('');
      case 'contains': case 'notContains': {
        arity(2, 64);
        const neg = fn === 'notContains';
        return (ctx) => {
          const v = a0(ctx);
          const rest = args.slice(1).map((g) => g(ctx));
          const r = Array.isArray(v) ? rest.every((x) => v.some((y) => equal(x, y))) : rest.every((x) => str(v).includes(str(x)));
          return neg ? !r : r;
        };
      }
      case 'startsWith': arity(2); return (ctx) => str(a0(ctx)).startsWith(str(a1(ctx)));
      case 'endsWith': arity(2); return (ctx) => str(a0(ctx)).endsWith(str(a1(ctx)));
      case '~': {
        arity(2);
        const re = safeRegex(rawArgs[1]);
        return (ctx) => { const s = str(a0(ctx)); if (s.length > MAX_MATCH_INPUT) throw new EvalError('string too long for a regular expression'); return re.test(s); };
      }
      case 'split': arity(2); return (ctx) => capped(str(a0(ctx)).split(str(a1(ctx)), MAX_LIST + 1));
      case 'join': arity(2); return (ctx) => list(a0(ctx)).map((v) => (typeof v === 'string' || typeof v === 'number' ? String(v) : str(v))).join(str(a1(ctx)));
      case 'toString': arity(1); return (ctx) => { const v = a0(ctx); if (v instanceof TTime) return new Date(v.ms).toISOString(); if (typeof v === 'object' && v !== null) throw new EvalError('toString of a structure'); return String(v); };
      case 'parseTime': arity(1); return (ctx) => toTime(str(a0(ctx)));
      case 'after': arity(2); return (ctx) => toTime(a0(ctx)).ms > toTime(a1(ctx)).ms;
      case 'before': arity(2); return (ctx) => toTime(a0(ctx)).ms < toTime(a1(ctx)).ms;
      case 'between': arity(3); return (ctx) => { const t = toTime(a0(ctx)).ms; return t >= toTime(a1(ctx)).ms && t <= toTime(a2(ctx)).ms; };
      case 'addDuration': arity(2); return (ctx) => new TTime(toTime(a0(ctx)).ms + durationMs(a1(ctx)));
      case 'subDuration': arity(2); return (ctx) => new TTime(toTime(a0(ctx)).ms - durationMs(a1(ctx)));
      case 'daysBetween': arity(2); return (ctx) => Math.floor((toTime(a1(ctx)).ms - toTime(a0(ctx)).ms) / 86_400_000);
      case 'hour': case 'minute': case 'month': case 'monthDay': case 'weekday': case 'year': {
        arity(1);
        const key = ({ hour: 'hour', minute: 'minute', month: 'month', monthDay: 'day', weekday: 'weekday', year: 'year' } as const)[fn];
        return (ctx) => parts(toTime(a0(ctx)).ms, ctx.timezone)[key];
      }
      case 'setDiscount':
        arity(2, 3);
        return (ctx) => {
          const ok = ctx.fx.cartDiscount(ctx, str(a0(ctx)), num(a1(ctx)), false);
          if (!ok) throw new EvalError('discount could not be applied');
          return null;
        };
      case 'couponValid': arity(0); return (ctx) => ctx.fx.couponValid(ctx, true);
      case 'addLoyaltyPoints': case 'deductLoyaltyPoints': {
        // (programId, name, points[, subledgerId]): the optional fourth argument names a subledger ("" or none: the main ledger).
        arity(3, 4);
        const a3 = args[3] as Getter | undefined;
        return (ctx) => {
          if (!ctx.fx.loyalty(ctx, fn === 'addLoyaltyPoints' ? 'add' : 'deduct', num(a0(ctx)), str(a1(ctx)), num(a2(ctx)), a3 === undefined ? '' : str(a3(ctx)))) throw new EvalError('loyalty points could not be changed');
          return null;
        };
      }
      default:
        throw new Unsupported(`Talang function "${fn}" is not supported offline`);
    }
  })();
  // No per-node charge: an expression's size is bounded at ingestion and Talang has no recursion, so
  // only list iterations (charged above) can multiply the work.
  return g;
}

/** `[".", local, seg]` with `local` a lambda parameter in scope: its root and segment, else undefined. */
function localField(x: unknown, sc: Scope): [string, string] | undefined {
  if (!Array.isArray(x) || x.length !== 3 || x[0] !== '.' || typeof x[1] !== 'string' || typeof x[2] !== 'string') return undefined;
  if (!sc.locals.has(x[1])) return undefined;
  checkSegments(x[1], [x[2]]);
  return [x[1], x[2]];
}

/** A binding path of a root (`Item`: the current item), read the same way whatever the scope. */
function rootPath(root: string, segs: readonly string[]): Getter {
  const rs = segs.map(reader);
  if (root === 'Item') return (ctx) => { let v = ctx.item; for (let i = 0; i < rs.length; i++) v = (rs[i] as (o: unknown) => unknown)(v); return v; };
  const r0 = reader(root);
  if (rs.length === 1) { const g0 = rs[0] as (o: unknown) => unknown; return (ctx) => g0(r0(ctx.bind)); }
  return (ctx) => { let v = r0(ctx.bind); for (let i = 0; i < rs.length; i++) v = (rs[i] as (o: unknown) => unknown)(v); return v; };
}

/** `[".", "Root", "Seg", …]`: a binding path. */
function dot(args: unknown[], sc: Scope): Getter {
  if (args.length === 0 || !args.every((a) => typeof a === 'string')) throw new Unsupported('dynamic Talang paths are not supported');
  const [root, ...segs] = args as [string, ...string[]];
  checkSegments(root, segs);
  if (sc.locals.has(root)) {
    if (segs.length === 1) {
      const r0 = reader(segs[0] as string);
      return (ctx) => {
        // Innermost binding first without a call (the common case: the lambda's own parameter).
        const top = ctx.locals;
        if (top !== undefined && top.name === root) return r0(top.value);
        const l = lookupLocal(top, root);
        return l === NOT_FOUND ? undefined : r0(l);
      };
    }
    return (ctx) => { const l = lookupLocal(ctx.locals, root); let v = l === NOT_FOUND ? undefined : l; for (let i = 0; i < segs.length; i++) v = own(v, segs[i] as string); return v; };
  }
  if (ROOTS.has(root)) return sharedGetter(JSON.stringify(args), () => rootPath(root, segs)); // (segments may hold dots)
  const sel = sc.env.selectors.get(root);
  if (!sel) throw new Unsupported(`unknown Talang binding ${root}`);
  return (ctx) => { let v = sel(ctx); for (const s of segs) v = own(v, s); return v; };
}
