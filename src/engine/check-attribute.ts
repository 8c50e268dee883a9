import type { EvalCtx } from './context.js';
import { compilePath, Invalid, Unsupported, type Getter, type PathEnv } from './paths.js';
import { compileExpr } from './template.js';
import { compileInCollection } from './collections.js';
import { safeRegex, MAX_MATCH_INPUT } from './regex-guard.js';
import { parseRfc3339 } from '../core/rfc3339.js';

/** Operators of `checkAttribute` (RulesetV2 `CheckAttributeBlockBase`); `inCollection`/`not(inCollection)` read the store's collections (collections.ts). */
export const SCALAR_OPS = ['equals', 'not(equals)', 'lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual', 'contains', 'not(contains)', 'matchesRegexp', 'startsWith', 'endsWith', 'oneOf', 'not(oneOf)', 'inCollection', 'not(inCollection)', 'after', 'before'] as const;
export const RANGE_OPS = ['between', 'within', 'not(within)'] as const;
export const LIST_OPS = ['containsOneOf', 'containsNoneOf', 'containsAllOf', 'containsAtLeast', 'containsExactly'] as const;
export const UNARY_OPS = ['empty', 'not(empty)', 'exists', 'not(exists)', 'isTrue', 'isFalse'] as const;
/** Every operator run offline: the engine runs exactly these (so the list is what `npm run gen:coverage` reports). */
export const SUPPORTED_OPERATORS: readonly string[] = [...SCALAR_OPS, ...RANGE_OPS, ...LIST_OPS, ...UNARY_OPS];
const SUPPORTED = new Set<string>(SUPPORTED_OPERATORS);

export type Pred = (ctx: EvalCtx) => boolean;

const TEMPLATE = /^\s*\{\{([\s\S]*)\}\}\s*$/;

/** A comparison value: a literal, or a `{{expression}}` evaluated at run time. */
function operand(v: unknown, env: PathEnv, where: string): Getter {
  if (typeof v === 'string') {
    const m = TEMPLATE.exec(v);
    if (m) return compileExpr(m[1] as string, env, where);
  }
  return () => v;
}

function time(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  // A string without an offset is not a time (it would mean another instant in each shop's time zone).
  if (typeof v === 'string') return parseRfc3339(v);
  return undefined;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const same = (a: unknown, b: unknown) => a === b;

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function asList(v: unknown): unknown[] | undefined {
  return Array.isArray(v) ? v : undefined;
}

/** A Set of the list's elements, built once per evaluation per list (lists are never mutated while evaluating). */
function setOf(ctx: EvalCtx, a: unknown[]): ReadonlySet<unknown> {
  let s = ctx.memo.get(a) as Set<unknown> | undefined;
  if (!s) ctx.memo.set(a, (s = new Set(a)));
  return s;
}

/** Distinct members of `wanted` found in `have`. */
function hits(have: unknown[], wanted: ReadonlySet<unknown>): number {
  const found = new Set<unknown>();
  for (let i = 0; i < have.length; i++) if (wanted.has(have[i])) found.add(have[i]);
  return found.size;
}

/** Compiles a `checkAttribute` block (or selector predicate) into a predicate. Missing values fail. */
export function compileCheckAttribute(b: Record<string, unknown>, env: PathEnv, where: string): Pred {
  const op = b.operator;
  if (typeof op !== 'string') throw new Invalid(`${where}/operator`, 'operator must be a string');
  if (!SUPPORTED.has(op)) {
    throw new Unsupported(`checkAttribute operator ${op} is not supported offline`);
  }
  const attr = compilePath(b.attribute, env, `${where}/attribute`);
  const need = (k: string) => {
    if (!(k in b)) throw new Invalid(`${where}/${k}`, `operator ${op} needs "${k}"`);
    return operand(b[k], env, `${where}/${k}`);
  };
  switch (op) {
    case 'equals': {
      const v = need('value');
      const lit = b.value;
      // A literal value (the usual case) is compared directly: no operand call per campaign.
      if (!(typeof lit === 'string' && TEMPLATE.test(lit))) return (ctx) => { const a = attr(ctx); return present(a) && a === lit; };
      return (ctx) => { const a = attr(ctx); return present(a) && same(a, v(ctx)); };
    }
    case 'not(equals)': { const v = need('value'); return (ctx) => { const a = attr(ctx); return present(a) && !same(a, v(ctx)); }; }
    case 'lessThan': case 'lessThanOrEqual': case 'greaterThan': case 'greaterThanOrEqual': {
      const v = need('value');
      const c = b.value;
      if (isNum(c)) {
        // Literal bound: the comparison inline (no operand or comparator call per campaign).
        if (op === 'lessThan') return (ctx) => { const a = attr(ctx); return isNum(a) && a < c; };
        if (op === 'lessThanOrEqual') return (ctx) => { const a = attr(ctx); return isNum(a) && a <= c; };
        if (op === 'greaterThan') return (ctx) => { const a = attr(ctx); return isNum(a) && a > c; };
        return (ctx) => { const a = attr(ctx); return isNum(a) && a >= c; };
      }
      const cmp = op === 'lessThan' ? (a: number, c: number) => a < c : op === 'lessThanOrEqual' ? (a: number, c: number) => a <= c : op === 'greaterThan' ? (a: number, c: number) => a > c : (a: number, c: number) => a >= c;
      return (ctx) => { const a = attr(ctx), c = v(ctx); return isNum(a) && isNum(c) && cmp(a, c); };
    }
    case 'contains': case 'not(contains)': {
      const v = need('value');
      const neg = op === 'not(contains)';
      return (ctx) => {
        const a = attr(ctx), c = v(ctx);
        let r: boolean;
        if (typeof a === 'string' && typeof c === 'string') r = a.includes(c);
        else if (Array.isArray(a)) r = a.some((x) => same(x, c));
        else return false;
        return neg ? !r : r;
      };
    }
    case 'matchesRegexp': {
      const re = safeRegex(b.value);
      return (ctx) => { const a = attr(ctx); return typeof a === 'string' && a.length <= MAX_MATCH_INPUT && re.test(a); };
    }
    case 'startsWith': case 'endsWith': {
      const v = need('value');
      return (ctx) => { const a = attr(ctx), c = v(ctx); return typeof a === 'string' && typeof c === 'string' && (op === 'startsWith' ? a.startsWith(c) : a.endsWith(c)); };
    }
    case 'oneOf': case 'not(oneOf)': {
      if (!Array.isArray(b.value)) throw new Invalid(`${where}/value`, `${op} needs a list value`);
      const set = new Set(b.value as unknown[]);
      const neg = op === 'not(oneOf)';
      return (ctx) => { const a = attr(ctx); return present(a) && set.has(a) !== neg; };
    }
    case 'after': case 'before': {
      const v = need('value');
      return (ctx) => { const a = time(attr(ctx)), c = time(v(ctx)); return a !== undefined && c !== undefined && (op === 'after' ? a > c : a < c); };
    }
    case 'between': {
      const lo = need('min'), hi = need('max');
      return (ctx) => { const a = attr(ctx), l = lo(ctx), h = hi(ctx); return isNum(a) && isNum(l) && isNum(h) && a >= l && a <= h; };
    }
    case 'within': case 'not(within)': {
      if (b.timezoneInsensitive === true) throw new Unsupported('within with timezoneInsensitive is not supported offline');
      const s = need('start'), e = need('end');
      const si = b.startInclusive !== false, ei = b.endInclusive !== false;
      const neg = op === 'not(within)';
      return (ctx) => {
        const a = time(attr(ctx)), lo = time(s(ctx)), hi = time(e(ctx));
        if (a === undefined || lo === undefined || hi === undefined) return false;
        const r = (si ? a >= lo : a > lo) && (ei ? a <= hi : a < hi);
        return neg ? !r : r;
      };
    }
    case 'containsOneOf': case 'containsNoneOf': case 'containsAllOf': case 'containsAtLeast': case 'containsExactly': {
      if (!Array.isArray(b.values)) throw new Invalid(`${where}/values`, `${op} needs a list "values"`);
      const vals = b.values as unknown[];
      let count = 0;
      if (op === 'containsAtLeast' || op === 'containsExactly') {
        if (typeof b.count !== 'number' || !Number.isInteger(b.count) || b.count < 0) throw new Invalid(`${where}/count`, `${op} needs an integer "count"`);
        count = b.count;
      }
      const wanted = new Set(vals);
      if (op === 'containsOneOf' || op === 'containsNoneOf') {
        const none = op === 'containsNoneOf';
        const few = [...wanted];
        return (ctx) => {
          const a = asList(attr(ctx));
          if (!a) return false;
          if (a.length > 8 && a.length > few.length) {
            // "some element of a is wanted" = "some wanted value is in a": with a per-evaluation set of a long
            // list (a selector result shared by many campaigns, e.g. the cart's SKUs), a few lookups instead of a scan.
            const have = setOf(ctx, a);
            for (let i = 0; i < few.length; i++) if (have.has(few[i])) return !none;
            return none;
          }
          for (let i = 0; i < a.length; i++) if (wanted.has(a[i])) return !none;
          return none;
        };
      }
      return (ctx) => {
        const a = asList(attr(ctx));
        if (!a) return false;
        const n = hits(a, wanted);
        switch (op) {
          case 'containsAllOf': return n === wanted.size;
          case 'containsAtLeast': return n >= count;
          default: return n === count;
        }
      };
    }
    case 'empty': case 'not(empty)': {
      const neg = op === 'not(empty)';
      return (ctx) => {
        const a = attr(ctx);
        const e = a === undefined || a === null || a === '' || (Array.isArray(a) && a.length === 0);
        return neg ? !e : e;
      };
    }
    case 'exists': return (ctx) => present(attr(ctx));
    case 'not(exists)': return (ctx) => !present(attr(ctx));
    case 'isTrue': return (ctx) => attr(ctx) === true;
    case 'isFalse': return (ctx) => attr(ctx) === false;
    case 'inCollection': case 'not(inCollection)':
      if (!('value' in b)) throw new Invalid(`${where}/value`, `operator ${op} needs "value" (the collection)`);
      return compileInCollection(op, b.value, attr, env.collections, env.campaignId);
    default:
      throw new Unsupported(`checkAttribute operator ${op} is not supported offline`);
  }
}
