import { BudgetError, EvalError, type EvalCtx, type ItemView } from './context.js';
import { Invalid, num, Unsupported, type Getter } from './paths.js';
import { compileCheckAttribute } from './check-attribute.js';
import { compileCheckBudget } from './budgets.js';
import { compileNumber, compileText } from './template.js';
import { compileTalang } from './talang.js';
import type { CompiledSelector } from './selectors.js';
import { compileTargetDiscount, type TargetEnv } from './discount-targets.js';
import { compileUpdateAttribute, compileUpdateAudience } from './update-blocks.js';

/** Promotion block types evaluated offline. Everything else makes the campaign not offline-capable. */
export const SUPPORTED_BLOCKS = ['group', 'checkAttribute', 'checkCoupon', 'checkLoyaltyBalance', 'checkAudience', 'awardDiscount', 'awardItem', 'showNotification', 'triggerCustomEffect', 'passthrough', 'updateAttributeValue', 'updateAudienceMembership', 'checkBudget'] as const;

/** The engine runs exactly the listed types (so the list is what `npm run gen:coverage` reports). */
const SUPPORTED = new Set<string>(SUPPORTED_BLOCKS);

/** A compiled block: true = passed (conditions) / applied (effects). */
export type Exec = (ctx: EvalCtx) => boolean;

export interface BlockEnv extends TargetEnv {
  readonly selectorDefs: ReadonlyMap<string, CompiledSelector>;
  readonly globalFilters: ReadonlyMap<string, Getter>;
}

type Obj = Record<string, unknown>;

const MAX_DEPTH = 32;
/** Effects allowed in `onFailure` (failure effects): no money, no coupons. */
const FAILURE_SAFE = new Set(['showNotification', 'triggerCustomEffect']);

function obj(v: unknown, where: string): Obj {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Invalid(where, 'expected an object');
  return v as Obj;
}

function text(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new Invalid(where, 'expected a string');
  return v;
}

/** Evaluates a block, turning evaluation errors (missing attribute, type mismatch) into failure. */
function guard(f: Exec): Exec {
  return (ctx) => {
    try {
      return f(ctx);
    } catch (e) {
      if (e instanceof EvalError && !(e instanceof BudgetError)) return false;
      throw e;
    }
  };
}

/**
 * Compiles a list of blocks evaluated in order; the list fails at the first failing block.
 * `callerCatches`: the caller turns an evaluation error into "the list failed" (the rule loop of
 * `evaluate` does), so the list's own blocks need no per-block guard unless they have `onFailure`.
 */
export function compileBlocks(list: unknown, env: BlockEnv, where: string, depth = 0, failureMode = false, callerCatches = false): Exec {
  if (!Array.isArray(list)) throw new Invalid(where, 'blocks must be a list');
  const execs = list.map((b, i) => compileBlock(b, env, `${where}/${i}`, depth, failureMode, callerCatches && !failureMode));
  // Short lists (most rules have 1–3 blocks) without a loop: this runs for every rule of every campaign.
  const [e0, e1, e2] = execs;
  if (execs.length === 0) return () => true;
  if (execs.length === 1) return e0 as Exec;
  if (execs.length === 2) { const a = e0 as Exec, b = e1 as Exec; return (ctx) => a(ctx) && b(ctx); }
  if (execs.length === 3) { const a = e0 as Exec, b = e1 as Exec, c = e2 as Exec; return (ctx) => a(ctx) && b(ctx) && c(ctx); }
  return (ctx) => {
    for (let i = 0; i < execs.length; i++) if (!(execs[i] as Exec)(ctx)) return false;
    return true;
  };
}

function withFailure(b: Obj, body: Exec, env: BlockEnv, where: string, depth: number): Exec {
  if (b.onError !== undefined && b.onError !== null && Object.keys(obj(b.onError, `${where}/onError`)).length > 0) {
    throw new Unsupported('onError handlers are not supported offline');
  }
  if (!Array.isArray(b.onFailure) || b.onFailure.length === 0) return body;
  const fail = compileBlocks(b.onFailure, env, `${where}/onFailure`, depth + 1, true);
  return (ctx) => {
    if (body(ctx)) return true;
    ctx.fx.onFailure(() => { fail(ctx); });
    return false;
  };
}

function targetItems(t: Obj, env: BlockEnv, where: string): ((ctx: EvalCtx) => ItemView[]) | 'cart' {
  switch (t.type) {
    case 'cart': return 'cart';
    case 'allItems': return (ctx) => ctx.items;
    case 'globalFilter': {
      const g = env.globalFilters.get(text(t.name, `${where}/name`));
      if (!g) throw new Unsupported(`cart item filter ${String(t.name)} is not in the rules data`);
      return (ctx) => g(ctx) as ItemView[];
    }
    case 'selector': {
      const s = env.selectorDefs.get(text(t.name, `${where}/name`));
      if (!s) throw new Invalid(`${where}/name`, `unknown selector ${String(t.name)}`);
      if (!s.yieldsItems) throw new Unsupported(`selector ${s.name} does not yield cart items`);
      return (ctx) => s.get(ctx) as ItemView[];
    }
    default: throw new Unsupported(`discount target ${String(t.type)} is not supported offline`);
  }
}

function withItem<T>(ctx: EvalCtx, item: unknown, f: () => T): T {
  const saved = ctx.item;
  ctx.item = item;
  try { return f(); } finally { ctx.item = saved; }
}

/**
 * One block on its own, as the rule list runs it (an evaluation error is thrown, not turned into false, unless
 * the block has `onFailure`): `explain.ts` runs a failed rule's blocks one by one to find the one that failed.
 */
export function compileOneBlock(raw: unknown, env: BlockEnv, where: string, depth = 0): Exec {
  return compileBlock(raw, env, where, depth, false, true);
}

function compileBlock(raw: unknown, env: BlockEnv, where: string, depth: number, failureMode: boolean, callerCatches = false): Exec {
  if (depth > MAX_DEPTH) throw new Unsupported('blocks nested too deeply');
  const b = obj(raw, where);
  // An error fails the block; when it fails the whole list anyway (no onFailure to run), the caller's catch does that.
  const guarded = callerCatches && !(Array.isArray(b.onFailure) && b.onFailure.length > 0) ? (f: Exec) => f : guard;
  const type = b.type;
  if (typeof type !== 'string') throw new Invalid(`${where}/type`, 'block type must be a string');
  if (!SUPPORTED.has(type)) throw new Unsupported(`block ${type} is not supported offline`);
  if (failureMode && !FAILURE_SAFE.has(type)) throw new Unsupported(`${type} in onFailure is not supported offline`);
  switch (type) {
    case 'group': {
      if (!Array.isArray(b.blocks)) throw new Invalid(`${where}/blocks`, 'group needs blocks');
      const kids = b.blocks.map((k, i) => compileBlock(k, env, `${where}/blocks/${i}`, depth + 1, failureMode));
      let body: Exec;
      switch (b.operator) {
        case 'all':
          body = (ctx) => { const m = ctx.fx.mark(); for (let i = 0; i < kids.length; i++) if (!(kids[i] as Exec)(ctx)) { ctx.fx.rollback(m); return false; } return true; };
          break;
        case 'atLeastOne':
          body = (ctx) => { for (let i = 0; i < kids.length; i++) { const m = ctx.fx.mark(); if ((kids[i] as Exec)(ctx)) return true; ctx.fx.rollback(m); } return false; };
          break;
        case 'none':
          body = (ctx) => { for (const k of kids) { const m = ctx.fx.mark(); const r = k(ctx); ctx.fx.rollback(m); if (r) return false; } return true; };
          break;
        default: throw new Invalid(`${where}/operator`, 'group operator must be all, atLeastOne or none');
      }
      return withFailure(b, body, env, where, depth);
    }
    case 'checkAttribute': return withFailure(b, guarded(compileCheckAttribute(b, env, where)), env, where, depth);
    case 'checkCoupon': {
      if (typeof b.redeem !== 'boolean') throw new Invalid(`${where}/redeem`, 'redeem must be a boolean');
      const redeem = b.redeem;
      return withFailure(b, (ctx) => ctx.fx.couponValid(ctx, redeem), env, where, depth);
    }
    case 'checkLoyaltyBalance': {
      const prog = obj(b.program, `${where}/program`);
      const pid = num(prog.id, `${where}/program/id`);
      // `subledger` empty or absent: the program's main ledger; else that subledger's own cached balance.
      const sub = b.subledger === undefined || b.subledger === null ? '' : text(b.subledger, `${where}/subledger`);
      if (b.balance !== 'current' && b.balance !== 'pending') throw new Unsupported(`loyalty balance ${String(b.balance)} is not cached offline`);
      const kind = b.balance;
      const v = compileNumber(b.value, env, `${where}/value`);
      const cmp = ({ equals: (a: number, c: number) => a === c, 'not(equals)': (a: number, c: number) => a !== c, lessThan: (a: number, c: number) => a < c, lessThanOrEqual: (a: number, c: number) => a <= c, greaterThan: (a: number, c: number) => a > c, greaterThanOrEqual: (a: number, c: number) => a >= c } as Record<string, (a: number, c: number) => boolean>)[String(b.operator)];
      if (!cmp) throw new Invalid(`${where}/operator`, 'unknown loyalty balance operator');
      return withFailure(b, guarded((ctx) => { const bal = ctx.loyaltyBalance(pid, kind, sub); return bal !== undefined && cmp(bal, v(ctx)); }), env, where, depth);
    }
    case 'checkAudience': {
      const a = obj(b.audience, `${where}/audience`);
      if (typeof a.id !== 'number') throw new Invalid(`${where}/audience/id`, 'audience id must be a number');
      if (b.profile !== undefined && b.profile !== 'Current') throw new Unsupported('checkAudience for the advocate profile is not supported offline');
      const id = a.id;
      if (b.operator === 'member') return withFailure(b, (ctx) => ctx.audiences.has(id), env, where, depth);
      if (b.operator === 'not(member)') return withFailure(b, (ctx) => !ctx.audiences.has(id), env, where, depth);
      throw new Unsupported(`checkAudience operator ${String(b.operator)} is not supported offline`);
    }
    case 'awardDiscount': {
      const name = text(b.name, `${where}/name`);
      const partial = b.partial === true;
      const value = compileNumber(b.value, env, `${where}/value`);
      const t = obj(b.target, `${where}/target`);
      const other = compileTargetDiscount(name, t, value, partial, env, `${where}/target`, (lt, w) => targetItems(lt, env, w));
      if (other !== undefined) return guarded(other);
      const items = targetItems(t, env, `${where}/target`);
      if (items === 'cart') return guarded((ctx) => ctx.fx.cartDiscount(ctx, name, value(ctx), partial));
      if (t.prorated === true) return guarded((ctx) => ctx.fx.itemDiscounts(ctx, name, items(ctx), [], partial, { total: value(ctx) }));
      return guarded((ctx) => {
        const lines = items(ctx);
        // `$Item` set per line and restored once (same as withItem per line, without a closure per line).
        const per: number[] = [];
        const saved = ctx.item;
        try {
          for (let i = 0; i < lines.length; i++) { ctx.item = lines[i]; per.push(value(ctx)); }
        } finally { ctx.item = saved; }
        return ctx.fx.itemDiscounts(ctx, name, lines, per, partial);
      });
    }
    case 'awardItem': {
      const sku = text(b.sku, `${where}/sku`), name = text(b.name, `${where}/name`);
      const q = compileNumber(b.quantity ?? 1, env, `${where}/quantity`);
      return withFailure(b, guarded((ctx) => {
        const n = q(ctx);
        if (!Number.isInteger(n) || n < 1 || n > 1000) return false;
        ctx.fx.emit('addFreeItem', { sku, name, desiredQuantity: n });
        return true;
      }), env, where, depth);
    }
    case 'showNotification': {
      const nt = text(b.notificationType, `${where}/notificationType`);
      const title = compileText(b.title, env, `${where}/title`);
      const body = compileText(b.body, env, `${where}/body`);
      return withFailure(b, guarded((ctx) => { ctx.fx.emit('showNotification', { notificationType: nt, title: title(ctx), body: body(ctx) }); return true; }), env, where, depth);
    }
    case 'triggerCustomEffect': {
      const ce = obj(b.customEffect, `${where}/customEffect`);
      if (typeof ce.id !== 'number') throw new Invalid(`${where}/customEffect/id`, 'custom effect id must be a number');
      const effectId = ce.id, ceName = text(ce.name, `${where}/customEffect/name`);
      const params = b.params === undefined ? {} : obj(b.params, `${where}/params`);
      const getters = Object.entries(params).map(([k, v]) => [k, typeof v === 'string' ? compileText(v, env, `${where}/params/${k}`) : () => v] as const);
      const payload = (ctx: EvalCtx) => Object.fromEntries(getters.map(([k, g]) => [k, g(ctx)]));
      const t = obj(b.target ?? { type: 'cart' }, `${where}/target`);
      const items = targetItems(t, env, `${where}/target`);
      if (items === 'cart') return withFailure(b, guarded((ctx) => { ctx.fx.emit('customEffect', { effectId, name: ceName, payload: payload(ctx) }); return true; }), env, where, depth);
      return withFailure(b, guarded((ctx) => {
        for (const it of items(ctx)) withItem(ctx, it, () => ctx.fx.emit('customEffect', { effectId, name: ceName, payload: payload(ctx), cartItemPosition: it.Position }));
        return true;
      }), env, where, depth);
    }
    case 'checkBudget': return withFailure(b, compileCheckBudget(b, where), env, where, depth);
    case 'passthrough': {
      if (!Array.isArray(b.expression)) throw new Invalid(`${where}/expression`, 'expression must be a Talang array');
      const expr = b.expression.length === 1 && typeof b.expression[0] !== 'string' ? b.expression[0] : b.expression;
      const g = compileTalang(expr, env, `${where}/expression`);
      return guarded((ctx) => g(ctx) !== false);
    }
    case 'updateAttributeValue': return withFailure(b, guarded(compileUpdateAttribute(b, env, where, (t) => targetItems(t, env, `${where}/target`))), env, where, depth);
    case 'updateAudienceMembership': return withFailure(b, compileUpdateAudience(b, where), env, where, depth);
    default:
      throw new Unsupported(`block ${type} is not supported offline`);
  }
}
