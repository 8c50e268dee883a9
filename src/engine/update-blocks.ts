import { EvalError, type EvalCtx, type ItemView } from './context.js';
import { compilePath, Invalid, num, own, Unsupported, type Getter, type PathEnv } from './paths.js';
import { compileExpr } from './template.js';
import { snap } from './money.js';
import { durationMs } from './talang-time.js';
import { parseRfc3339 } from '../core/rfc3339.js';

/**
 * The "update" effects of Talon.One's Rule Builder that a shop can give as they are (src/engine/README.md,
 * "Coverage"): `updateAttributeValue` (session and cart item attributes) gives Talon.One's `set` effect
 * (`UpdateAttributeEffectProps {path, value}`), `updateAudienceMembership` (the current customer) gives
 * `addToAudience` / `removeFromAudience`. Both only tell the terminal (and, once the journalled sale is delivered,
 * Talon.One, which evaluates its rules again and applies them itself): nothing here changes the session, the
 * profile or what later rules of the same evaluation read.
 */

type Obj = Record<string, unknown>;
type Exec = (ctx: EvalCtx) => boolean;
/** The cart lines a target names (`blocks.ts`' `targetItems`), or 'cart'. */
export type ItemsOf = (target: Obj) => ((ctx: EvalCtx) => ItemView[]) | 'cart';

/** `UpdateAttributeValueBlock.operator` (Management API spec). */
export const UPDATE_ATTRIBUTE_OPERATORS = ['setTo', 'increaseBy', 'decreaseBy', 'multiplyBy', 'divideBy', 'toggle', 'laterBy', 'earlierBy'] as const;
/** `UpdateAttributeValueBlock.target.type` values given offline; the others of the spec, and why not, below. */
export const UPDATE_ATTRIBUTE_TARGETS = ['session', 'allItems', 'selector', 'globalFilter'] as const;
const NOT_OFFLINE_TARGETS: Record<string, string> = {
  profile: 'the shop\'s copy of the profile would keep the old value for the customer\'s later sessions',
  advocateProfile: 'referrals and their advocates are not synced to the shop',
  coupon: 'the coupon\'s attributes are Talon.One\'s (the shop has a copy of what was pushed)',
  referral: 'referrals are not synced to the shop',
};

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const TEMPLATE = /^\s*\{\{([\s\S]*)\}\}\s*$/;

function obj(v: unknown, where: string): Obj {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Invalid(where, 'expected an object');
  return v as Obj;
}

/** A literal, or a `{{expression}}` evaluated at run time (with `$Item` set for cart item targets). */
function operand(v: unknown, env: PathEnv, where: string): Getter {
  if (typeof v === 'string') {
    const m = TEMPLATE.exec(v);
    if (m) return compileExpr(m[1] as string, env, where);
  }
  return () => v;
}

function time(v: unknown, what: string): number {
  const ms = typeof v === 'string' ? parseRfc3339(v) : undefined;
  if (ms === undefined) throw new EvalError(`${what} is not a time`);
  return ms;
}

/** The new value from the current one (`cur`, undefined when the attribute is missing) and the block's value. */
function updater(op: string, value: Getter | undefined): (ctx: EvalCtx, cur: unknown) => unknown {
  const v = value as Getter;
  switch (op) {
    case 'setTo': return (ctx) => v(ctx);
    // Arithmetic on a missing or non-number attribute is an evaluation error: the block fails, as a Talang error would.
    case 'increaseBy': return (ctx, cur) => snap(num(cur, 'the attribute') + num(v(ctx)));
    case 'decreaseBy': return (ctx, cur) => snap(num(cur, 'the attribute') - num(v(ctx)));
    case 'multiplyBy': return (ctx, cur) => snap(num(cur, 'the attribute') * num(v(ctx)));
    case 'divideBy': return (ctx, cur) => {
      const d = num(v(ctx));
      if (d === 0) throw new EvalError('division by zero');
      return snap(num(cur, 'the attribute') / d);
    };
    case 'toggle': return (_ctx, cur) => {
      if (typeof cur !== 'boolean') throw new EvalError('the attribute is not a boolean');
      return !cur;
    };
    case 'laterBy': return (ctx, cur) => new Date(time(cur, 'the attribute') + durationMs(v(ctx))).toISOString();
    default: return (ctx, cur) => new Date(time(cur, 'the attribute') - durationMs(v(ctx))).toISOString(); // earlierBy
  }
}

/**
 * `updateAttributeValue` → one `set` effect `{path, value}`: `Session.Attributes.<name>` for the session (Talon.One's
 * own example path), and for each targeted cart line `Session.CartItems.<position>.Attributes.<name>` (a storegate
 * decision: Talon.One publishes no example of a cart item's path). Custom attributes only: a built-in one (its
 * `type` empty, per the spec) lives outside `Attributes`, under a path that is not public.
 */
export function compileUpdateAttribute(b: Obj, env: PathEnv, where: string, itemsOf: ItemsOf): Exec {
  const op = b.operator;
  if (typeof op !== 'string' || !(UPDATE_ATTRIBUTE_OPERATORS as readonly string[]).includes(op)) {
    throw new Invalid(`${where}/operator`, `operator must be one of ${UPDATE_ATTRIBUTE_OPERATORS.join(', ')}`);
  }
  const attr = obj(b.attribute, `${where}/attribute`);
  const name = attr.name;
  if (typeof name !== 'string' || name === '') throw new Invalid(`${where}/attribute/name`, 'attribute name must be a non-empty string');
  if (typeof attr.type !== 'string' || attr.type === '') throw new Unsupported(`updating built-in attribute ${name} is not supported offline`);
  if (!NAME.test(name) || FORBIDDEN.has(name)) throw new Unsupported(`attribute name ${JSON.stringify(name)} cannot be updated offline`);
  let value: Getter | undefined;
  if (op !== 'toggle') {
    if (!('value' in b) || b.value === undefined || b.value === null) throw new Invalid(`${where}/value`, `operator ${op} needs "value"`);
    value = operand(b.value, env, `${where}/value`);
    if ((op === 'laterBy' || op === 'earlierBy') && typeof b.value === 'string' && !TEMPLATE.test(b.value)) {
      try { durationMs(b.value); } catch { throw new Unsupported(`duration ${JSON.stringify(b.value)} is not supported offline (s, m, h, D, W)`); }
    }
  }
  const next = updater(op, value);
  const t = obj(b.target, `${where}/target`);
  const tt = t.type;
  if (tt === 'session') {
    const current = compilePath(`$Session.Attributes.${name}`, env, `${where}/attribute`);
    const path = `Session.Attributes.${name}`;
    return (ctx) => {
      ctx.fx.emit('set', { path, value: next(ctx, current(ctx)) });
      return true;
    };
  }
  if (typeof tt === 'string' && Object.hasOwn(NOT_OFFLINE_TARGETS, tt)) throw new Unsupported(`updating a ${tt} attribute is not supported offline: ${NOT_OFFLINE_TARGETS[tt]}`);
  if (!(UPDATE_ATTRIBUTE_TARGETS as readonly string[]).includes(String(tt))) throw new Invalid(`${where}/target/type`, `target must be one of ${UPDATE_ATTRIBUTE_TARGETS.join(', ')}, profile, advocateProfile, coupon or referral`);
  const items = itemsOf(t);
  if (items === 'cart') throw new Invalid(`${where}/target/type`, 'a cart item attribute needs cart items');
  const paths: string[] = [];
  const pathOf = (pos: number) => {
    while (paths.length <= pos && paths.length < 1024) paths.push(`Session.CartItems.${paths.length}.Attributes.${name}`);
    return paths[pos] ?? `Session.CartItems.${pos}.Attributes.${name}`;
  };
  return (ctx) => {
    const lines = items(ctx);
    // Every value first, then the effects: a line whose value cannot be computed fails the block with nothing given.
    const values: unknown[] = [];
    const saved = ctx.item;
    try {
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i] as ItemView;
        ctx.item = line;
        values.push(next(ctx, own(line.Attributes, name)));
      }
    } finally { ctx.item = saved; }
    for (let i = 0; i < lines.length; i++) ctx.fx.emit('set', { path: pathOf((lines[i] as ItemView).Position), value: values[i] });
    return true;
  };
}

/**
 * `updateAudienceMembership` of the current customer → `addToAudience` / `removeFromAudience` with the audience and
 * the profile's integration id (its internal `profileId` is Talon.One's, unknown in the shop, and optional in the
 * props). A session without a profile has no customer to add: the block fails, as a loyalty effect does.
 */
export function compileUpdateAudience(b: Obj, where: string): Exec {
  if (b.operator !== 'add' && b.operator !== 'remove') throw new Invalid(`${where}/operator`, 'operator must be add or remove');
  if (b.profile !== undefined && b.profile !== 'Current') throw new Unsupported('updating the audiences of the advocate profile is not supported offline (referrals are not synced)');
  const a = obj(b.audience, `${where}/audience`);
  if (typeof a.id !== 'number' || !Number.isSafeInteger(a.id)) throw new Invalid(`${where}/audience/id`, 'audience id must be an integer');
  const audienceId = a.id;
  const audienceName = typeof a.name === 'string' ? a.name : undefined;
  const type = b.operator === 'add' ? 'addToAudience' : 'removeFromAudience';
  return (ctx) => {
    const id = own(ctx.bind.Profile, 'IntegrationId');
    if (typeof id !== 'string' || id === '') return false;
    ctx.fx.emit(type, audienceName === undefined ? { audienceId, profileIntegrationId: id } : { audienceId, audienceName, profileIntegrationId: id });
    return true;
  };
}
