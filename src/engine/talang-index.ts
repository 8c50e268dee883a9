import type { EvalCtx } from './context.js';
import { reader } from './paths.js';

/**
 * Cart-line index for Talang list predicates of the form `[[P], ["and", ["=", [".", P, F], literal], …]]`
 * (or just the `=`), run with `exists`/`filter` over `Session.CartItems`. Such a predicate is false — without
 * error or effect — for every line whose field `F` is not the literal, so only the lines the index gives
 * for the literal need the full predicate, in cart order: same result, same first error. Campaigns that scan
 * the cart for "a line of category X and SKU Y" then cost a map lookup instead of one call per line.
 */
export interface EqHint {
  readonly field: string;
  readonly literal: string | number | boolean;
  /** Per-evaluation memo key of this field's index (shared by every predicate on the field). */
  readonly key: object;
}

const KEYS = new Map<string, object>();

/**
 * The hints of a lambda `[[P, …], body]`: one per leading `=` conjunct of the form above (each of them is
 * evaluated before any later conjunct and cannot fail, so a line outside any one's index is false), or
 * undefined when the body does not start that way.
 */
export function eqHints(lambda: unknown): readonly EqHint[] | undefined {
  if (!Array.isArray(lambda) || lambda.length !== 2 || !Array.isArray(lambda[0])) return undefined;
  const p = lambda[0][0];
  const body: unknown = lambda[1];
  if (typeof p !== 'string' || !Array.isArray(body)) return undefined;
  const conj: unknown[] = body[0] === 'and' ? body.slice(1) : [body];
  const out: EqHint[] = [];
  for (const c of conj) {
    const h = eqHint(p, c);
    if (!h) break;
    out.push(h);
  }
  return out.length > 0 ? out : undefined;
}

function eqHint(p: string, body: unknown): EqHint | undefined {
  if (!Array.isArray(body) || body.length !== 3 || body[0] !== '=') return undefined;
  const path: unknown = body[1];
  const literal: unknown = body[2];
  if (typeof literal !== 'string' && typeof literal !== 'number' && typeof literal !== 'boolean') return undefined;
  if (!Array.isArray(path) || path.length !== 3 || path[0] !== '.' || path[1] !== p || typeof path[2] !== 'string') return undefined;
  return fieldHint(path[2], literal);
}

/** The hint "field `field` of the line is `literal`" (shared per-evaluation index per field). */
export function fieldHint(field: string, literal: string | number | boolean): EqHint {
  let key = KEYS.get(field);
  if (!key) KEYS.set(field, (key = { field }));
  return { field, literal, key };
}

/**
 * Lines of the cart whose `field` is `literal` (SameValueZero, which equals `===` for the JSON literals a
 * rule can hold; cart line fields are plain JSON values, so Talang's time equality never applies).
 */
export function cartLinesWith(ctx: EvalCtx, hs: readonly EqHint[]): readonly unknown[] {
  // The shortest candidate list (cart order) of the conjuncts: e.g. the SKU's lines rather than the category's.
  let best: readonly unknown[] | undefined;
  for (let k = 0; k < hs.length; k++) {
    const lines = linesWith(ctx, hs[k] as EqHint);
    if (best === undefined || lines.length < best.length) best = lines;
  }
  return best ?? NONE;
}

function linesWith(ctx: EvalCtx, h: EqHint): readonly unknown[] {
  let idx = ctx.memo.get(h.key) as Map<unknown, unknown[]> | undefined;
  if (!idx) {
    idx = new Map();
    const read = reader(h.field);
    const items = ctx.items;
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      const v = read(it);
      const at = idx.get(v);
      if (at) at.push(it); else idx.set(v, [it]);
    }
    ctx.memo.set(h.key, idx);
  }
  return idx.get(h.literal) ?? NONE;
}

const NONE: readonly unknown[] = Object.freeze([]);
