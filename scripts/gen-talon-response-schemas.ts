/**
 * Generates src/answers/talon-response-schemas.json: JSON Schemas of Talon.One's 2xx answers to the seven terminal
 * operations, taken from Talon.One's own Integration API spec, for the answer checks of README "Checked answers".
 *   npx tsx scripts/gen-talon-response-schemas.ts path/to/integration.yaml
 * (download it from https://docs.talon.one/oas/integration.yaml; scripts/talon-spec.ts reads it, as for
 * scripts/gen-talon-schemas.ts and the requests).
 *
 * Differences from the request schemas, and why:
 * - every object stays open: Talon.One adds fields to its answers over time, and a new field is not a broken
 *   answer (new enum values or a missing required field are);
 * - `format`s are dropped: the checks are about shapes and money, and date-time strings are Talon.One's own;
 * - `Effect.props` is a `oneOf` of every props model in the spec, and many models overlap (`{value}` alone fits
 *   acceptCoupon, rollbackCoupon, acceptReferral…), so `oneOf` would refuse valid effects. Instead `effectTypes`
 *   maps each `effectType` to its props model and the checker validates `props` against that one. The effect
 *   types are the 42 of the `effectType` discriminator of Talon.One's generated SDKs (e.g. talon-one-ruby-sdk
 *   docs/Effect.md, `openapi_discriminator_mapping`); a type whose props model the spec lacks maps to null (its
 *   props need only be an object).
 */
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadIntegrationSpec } from './talon-spec.js';

type Json = Record<string, unknown>;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { text: specText, schemas: all } = loadIntegrationSpec('scripts/gen-talon-response-schemas.ts');

/** Operation (src/checkout/operations.ts) → the model of its 200 answer in the spec. */
const ROOTS: Record<string, string> = {
  updateSession: 'IntegrationStateV2',
  returnItems: 'IntegrationStateV2',
  reopenSession: 'ReopenSessionResponse',
  trackEvent: 'IntegrationEventV2Response',
  updateProfile: 'CustomerProfileIntegrationResponseV2',
  getInventory: 'CustomerInventory',
  getBalances: 'LoyaltyBalancesWithTiers',
};

const EFFECT_TYPES = [
  'acceptCoupon', 'acceptReferral', 'addFreeItem', 'addLoyaltyPoints', 'addNegativeLoyaltyPoints', 'addToAudience',
  'awardGiveaway', 'callApi', 'changeLoyaltyTierLevel', 'couponCreated', 'customEffect', 'deductLoyaltyPoints', 'error',
  'extendLoyaltyPointsExpiryDate', 'increaseAchievementProgress', 'joinLoyaltyProgram', 'offsetNegativeLoyaltyPoints',
  'redeemReferral', 'referralCreated', 'rejectCoupon', 'rejectReferral', 'removeFromAudience', 'reserveCoupon',
  'rollbackAddedLoyaltyPoints', 'rollbackCoupon', 'rollbackDeductedLoyaltyPoints', 'rollbackDiscount',
  'rollbackIncreasedAchievementProgress', 'rollbackReferral', 'rollbackUseReward', 'set', 'setDiscount',
  'setDiscountPerAdditionalCost', 'setDiscountPerAdditionalCostPerItem', 'setDiscountPerItem', 'setLoyaltyPointsExpiryDate',
  'showBundleMetadata', 'showNotification', 'startAchievementProgress', 'unlockReward', 'useReward', 'willAwardGiveaway',
];
/** Props models not named `<EffectType>EffectProps` (Talon.One SDK docs EffectCallApi.md, EffectSet.md, EffectCustomEffect.md). */
const PROPS_NAMES: Record<string, string> = { callApi: 'TriggerWebhookEffectProps', set: 'UpdateAttributeEffectProps', customEffect: 'CustomEffectProps' };
const DROP = new Set(['description', 'example', 'examples', 'title', 'externalDocs', 'xml', 'format', 'discriminator', 'readOnly', 'writeOnly', 'deprecated']);

const definitions: Record<string, Json> = {};
/** Deprecated property names of a converted object (see `relax`). */
const deprecatedOf = new WeakMap<Json, Set<string>>();

const refName = (ref: string): string => ref.replace('#/components/schemas/', '');

function resolve(name: string): Json {
  const s = all[name];
  if (!s) throw new Error(`spec has no schema ${name}`);
  return s;
}

function convert(node: unknown, owner: string): unknown {
  if (Array.isArray(node)) return node.map((n) => convert(n, owner));
  if (typeof node !== 'object' || node === null) return node;
  const o = node as Json;
  if (typeof o.$ref === 'string') {
    const name = refName(o.$ref);
    define(name);
    return { $ref: `#/definitions/${name}` };
  }
  if (Array.isArray(o.allOf)) return mergeAllOf(o.allOf as Json[], owner);
  const out: Json = {};
  const deprecated = new Set<string>();
  for (const [k, v] of Object.entries(o)) {
    if (DROP.has(k) || k.startsWith('x-')) continue;
    if (k === 'properties') {
      out[k] = Object.fromEntries(
        Object.entries(v as Json).map(([p, s]) => {
          if (owner === 'Effect' && p === 'props') return [p, { type: 'object' }];
          const c = convert(s, owner) as Json;
          if ((s as Json).deprecated !== true) return [p, c];
          deprecated.add(p);
          return [p, orNull(c)];
        }),
      );
    } else out[k] = convert(v, owner);
  }
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
  }
  if (deprecated.size > 0) deprecatedOf.set(out, deprecated);
  return relax(out);
}

/** A schema that also accepts null. */
function orNull(s: Json): Json {
  if (typeof s.type === 'string') return { ...s, type: [s.type, 'null'] };
  if (Array.isArray(s.type)) return s.type.includes('null') ? s : { ...s, type: [...s.type, 'null'] };
  return { anyOf: [s, { type: 'null' }] };
}

/**
 * Where the spec contradicts Talon.One's documented answers: a deprecated field ("Always returns null", e.g.
 * `CustomerProfile.loyaltyMemberships`) is typed without null, and `CustomerSessionV2` requires `coupon` and
 * `referral`, which it does not define (leftovers of the V1 session). Deprecated fields may be null or absent,
 * and only defined fields can be required.
 */
function relax(o: Json): Json {
  if (!Array.isArray(o.required)) return o;
  const props = (o.properties ?? {}) as Json;
  const gone = deprecatedOf.get(o) ?? new Set<string>();
  o.required = (o.required as string[]).filter((r) => r in props && !gone.has(r));
  if ((o.required as string[]).length === 0) delete o.required;
  return o;
}

function mergeAllOf(parts: Json[], owner: string): Json {
  const merged: Json = { type: 'object', properties: {} as Json, required: [] as string[] };
  const gone = new Set<string>();
  for (const part of parts) {
    const p = (typeof part.$ref === 'string' ? resolve(refName(part.$ref)) : part) as Json;
    const c = (Array.isArray(p.allOf) ? mergeAllOf(p.allOf as Json[], owner) : convert(p, owner)) as Json;
    Object.assign(merged.properties as Json, c.properties ?? {});
    (merged.required as string[]).push(...((c.required as string[]) ?? []));
    for (const d of deprecatedOf.get(c) ?? []) gone.add(d);
  }
  // The spec's allOf parts repeat some required names; a JSON Schema `required` list must not.
  merged.required = [...new Set(merged.required as string[])];
  if (gone.size > 0) deprecatedOf.set(merged, gone);
  return relax(merged);
}

function define(name: string): void {
  if (name in definitions) return;
  definitions[name] = {}; // placeholder breaks reference cycles
  definitions[name] = convert(resolve(name), name) as Json;
}

for (const model of Object.values(ROOTS)) define(model);
const effectTypes: Record<string, string | null> = {};
for (const type of EFFECT_TYPES) {
  const model = PROPS_NAMES[type] ?? `${type[0]?.toUpperCase()}${type.slice(1)}EffectProps`;
  if (all[model]) {
    define(model);
    effectTypes[type] = `#/definitions/${model}`;
  } else effectTypes[type] = null;
}
const out = {
  $comment: `Generated by scripts/gen-talon-response-schemas.ts from Talon.One's Integration API spec (sha256 ${createHash('sha256').update(specText).digest('hex')}). Do not edit.`,
  roots: Object.fromEntries(Object.entries(ROOTS).map(([op, model]) => [op, `#/definitions/${model}`])),
  effectTypes,
  definitions: Object.fromEntries(Object.entries(definitions).sort(([a], [b]) => a.localeCompare(b))),
};
const target = path.join(root, 'src', 'answers', 'talon-response-schemas.json');
writeFileSync(target, `${JSON.stringify(out, null, 2)}\n`);
console.log(`wrote ${path.relative(root, target)} (${Object.keys(definitions).length} definitions, ${EFFECT_TYPES.length} effect types)`);
