import { compileBlocks, type BlockEnv, type Exec } from './blocks.js';
import { campaignBudget, type CampaignBudget } from './budgets.js';
import type { CollectionIndex } from './collections.js';
import { compileGlobalFilter, compileSelector, type CompiledSelector } from './selectors.js';
import { bundleDefs } from './bundles.js';
import { Invalid, Unsupported, type Getter } from './paths.js';
import { currency, type Currency } from './money.js';
import { PathSlots, precheck } from './precheck.js';
import type { RuleEnvelope } from './rule-run.js';
import type { ApplicationSettings, Campaign, CampaignSetNode, RulesPayload, RulesetV2, StoreRecord } from './types.js';

export interface CompiledRule {
  readonly index: number;
  readonly title: string;
  readonly exec: Exec;
  /** Effect envelope of this rule (without evaluation group fields). */
  readonly env: RuleEnvelope;
  /** Leading pure equality checks (`precheck.ts`), or undefined. */
  readonly pre: readonly unknown[] | undefined;
}

export interface CompiledCampaign {
  readonly id: number;
  readonly name: string;
  readonly campaign: Campaign;
  readonly rulesetId: number;
  /** ms; -Infinity/Infinity when open */
  readonly startMs: number;
  readonly endMs: number;
  readonly linkedStoreIds: readonly number[];
  readonly offlineCapable: boolean;
  readonly reason: string | null;
  readonly rules: readonly CompiledRule[];
  /** Title of the first rule (used in coupon rejection envelopes). */
  readonly firstRuleName: string;
  /** The ruleset as pushed and the compile environment (selectors): `explain.ts` compiles its blocks one by one. */
  readonly ruleset: RulesetV2;
  readonly env: BlockEnv | undefined;
  /** Its limits the shop enforces offline (src/engine/budgets.ts), or undefined: none. */
  readonly budget?: CampaignBudget | undefined;
}

/** Evaluation plan node (from the evaluation tree, or one ALL/stackable set of all campaigns). */
export type PlanNode =
  | { kind: 'campaign'; id: number }
  | { kind: 'set'; operator: 'ALL' | 'FIRST'; mode: string; groupId: number | undefined; children: PlanNode[] };

export interface CompiledRules {
  readonly version: number;
  readonly app: ApplicationSettings;
  readonly cur: Currency;
  readonly timezone: string;
  readonly campaigns: ReadonlyMap<number, CompiledCampaign>;
  readonly list: readonly CompiledCampaign[];
  readonly plan: PlanNode;
  readonly stores: readonly StoreRecord[];
  /** Cart-level paths used by the rules' prechecks. */
  readonly slots: PathSlots;
  /**
   * Some rule may read a cart item's `Attributes` or `ProductName` (what the catalog completes): when none can,
   * evaluation skips the completion (it could change nothing) and asks the catalog for prices only.
   */
  readonly readsItemDetails: boolean;
}

const ts = (s: string | null | undefined, dflt: number) => (typeof s === 'string' ? Date.parse(s) : dflt);

/** Selectors shared by campaigns when their pipelines are identical and depend on the cart only. */
type SelectorCache = Map<string, CompiledSelector>;
const SHAREABLE = /\$(?!Session\b|Item\b|Profile\b|Store\b|Application\b)|"passthrough"|Coupon|inCollection/;

function compileCampaign(entry: RulesPayload['campaigns'][number], filters: ReadonlyMap<string, Getter>, where: string, setReason: string | undefined, shared: SelectorCache, slots: PathSlots, collections?: CollectionIndex): CompiledCampaign {
  const c = entry.campaign;
  const rs = entry.ruleset;
  const base = {
    id: c.id, name: c.name, campaign: c, rulesetId: rs.id,
    startMs: ts(c.startTime, -Infinity), endMs: ts(c.endTime, Infinity),
    linkedStoreIds: c.linkedStoreIds ?? [],
    firstRuleName: rs.promotionRules[0]?.title ?? '',
    ruleset: rs,
  };
  try {
    if (setReason) throw new Unsupported(setReason);
    const budget = campaignBudget(c);
    const selectors = new Map<string, Getter>();
    const defs = new Map<string, CompiledSelector>();
    const env: BlockEnv = { selectors, selectorDefs: defs, globalFilters: filters, bundles: bundleDefs(rs.bundles), campaignId: c.id, ...(collections ? { collections } : {}) };
    (rs.selectors ?? []).forEach((s, i) => {
      const key = JSON.stringify([s.source, s.steps]);
      const shareable = !SHAREABLE.test(key);
      let cs = shareable ? shared.get(key) : undefined;
      if (!cs) {
        cs = compileSelector(s, env, `${where}/ruleset/selectors/${i}`);
        if (shareable) shared.set(key, cs);
      }
      selectors.set(s.name, cs.get);
      defs.set(s.name, { ...cs, name: s.name });
    });
    const rules = rs.promotionRules.map((r, i) => {
      const exec = compileBlocks(r.blocks, env, `${where}/ruleset/promotionRules/${i}/blocks`, 0, false, true); // evaluate catches
      return { index: i, title: r.title, exec, env: { campaignId: c.id, rulesetId: rs.id, ruleIndex: i, ruleName: r.title }, pre: undefined as readonly unknown[] | undefined, blocks: r.blocks };
    });
    // Prechecks only once every rule compiled (a campaign that is not offline-capable registers no paths).
    for (const r of rules) r.pre = precheck(r.blocks, env, slots);
    return { ...base, offlineCapable: true, reason: null, rules: rules.map(({ blocks: _b, ...r }) => r), env, budget };
  } catch (e) {
    if (e instanceof Unsupported) return { ...base, offlineCapable: false, reason: e.message, rules: [], env: undefined };
    throw e;
  }
}

/** Campaign ids of a tree, and the set-level reasons that make its campaigns not offline-capable. */
function planFromTree(node: CampaignSetNode, reasons: Map<number, string>, where: string, depth = 0): PlanNode {
  if (depth > 16) throw new Invalid(where, 'evaluation tree nested too deeply');
  if (node.type === 'CAMPAIGN') {
    if (typeof node.campaignId !== 'number') throw new Invalid(`${where}/campaignId`, 'campaignId must be a number');
    return { kind: 'campaign', id: node.campaignId };
  }
  if (node.type !== 'SET') throw new Invalid(`${where}/type`, 'node type must be SET or CAMPAIGN');
  if (!Array.isArray(node.elements)) throw new Invalid(`${where}/elements`, 'elements must be a list');
  const children = node.elements.map((e, i) => planFromTree(e, reasons, `${where}/elements/${i}`, depth + 1));
  const mode = node.evaluationMode ?? 'stackable';
  const op = node.operator === 'FIRST' ? 'FIRST' : 'ALL';
  let reason: string | undefined;
  if (!['stackable', 'listOrder', 'lowestDiscount', 'highestDiscount'].includes(mode)) reason = `evaluation mode ${mode} is not supported offline`;
  else if ((mode === 'lowestDiscount' || mode === 'highestDiscount') && node.evaluationScope === 'cartItem') reason = `evaluation mode ${mode} with cartItem scope is not supported offline`;
  else if ((mode === 'lowestDiscount' || mode === 'highestDiscount') && children.some((c) => c.kind === 'set')) reason = `evaluation mode ${mode} over nested sets is not supported offline`;
  if (reason) {
    const mark = (p: PlanNode) => { if (p.kind === 'campaign') reasons.set(p.id, reason as string); else p.children.forEach(mark); };
    children.forEach(mark);
  }
  return { kind: 'set', operator: op, mode, groupId: node.groupId, children };
}

const NOT_ITEM_ROOTS = new Set(['Session', 'Profile', 'Store', 'Application', 'Coupon']);
const DETAIL = /^(Attributes|ProductName)$/;
const DETAIL_IN_TEXT = /\$([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)/g;

/**
 * Whether `v` (a ruleset, a cart item filter) may read a cart item's `Attributes` or `ProductName`. Conservative:
 * any path ending a segment so whose root is not `$Session`/`$Profile`/`$Store`/`$Application`/`$Coupon` (an item,
 * a selector's items, a lambda's parameter) counts, in `{{…}}` text, attribute fields and Talang `.` paths alike.
 */
export function readsItemDetails(v: unknown, depth = 0): boolean {
  if (depth > 200) return true;
  if (typeof v === 'string') {
    for (const m of v.matchAll(DETAIL_IN_TEXT)) {
      if (NOT_ITEM_ROOTS.has(m[1] as string)) continue;
      if ((m[2] ?? '').split('.').some((seg) => DETAIL.test(seg))) return true;
    }
    return false;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === 'string' && DETAIL.test(x) && i > 0 && !(typeof v[i - 1] === 'string' && NOT_ITEM_ROOTS.has(v[i - 1] as string) && i === 2)) return true;
      if (readsItemDetails(x, depth + 1)) return true;
    }
    return false;
  }
  if (v !== null && typeof v === 'object') {
    // A cart item attribute update reads each line's current value (`update-blocks.ts`), completed from the catalog
    // as Talon.One does, though the block names the attribute without a `$Item` path.
    const o = v as Record<string, unknown>;
    if (o.type === 'updateAttributeValue' && o.target !== null && typeof o.target === 'object' && (o.target as Record<string, unknown>).type !== 'session') return true;
    for (const x of Object.values(v)) if (readsItemDetails(x, depth + 1)) return true;
  }
  return false;
}

/**
 * Compiles a validated rules payload. Unsupported blocks/operators/functions make their campaign
 * `offlineCapable: false` (with the reason); malformed content throws {@link Invalid}.
 */
export function compileRules(p: RulesPayload, opts: { collections?: CollectionIndex } = {}): CompiledRules {
  const filters = new Map<string, Getter>();
  (p.cartItemFilters ?? []).forEach((f, i) => {
    try {
      filters.set(f.name, compileGlobalFilter(f, `/cartItemFilters/${i}`));
    } catch (e) {
      if (!(e instanceof Unsupported)) throw e; // unsupported filter: campaigns using it become not offline-capable
    }
  });
  const reasons = new Map<number, string>();
  const plan: PlanNode = p.evaluationTree
    ? planFromTree(p.evaluationTree.set, reasons, '/evaluationTree/set')
    : { kind: 'set', operator: 'ALL', mode: 'stackable', groupId: undefined, children: p.campaigns.map((c) => ({ kind: 'campaign' as const, id: c.campaign.id })) };
  const shared: SelectorCache = new Map();
  const slots = new PathSlots();
  const list = p.campaigns.map((c, i) => compileCampaign(c, filters, `/campaigns/${i}`, reasons.get(c.campaign.id), shared, slots, opts.collections));
  const campaigns = new Map(list.map((c) => [c.id, c]));
  return {
    version: p.version,
    app: p.application,
    cur: currency(p.application.currency),
    timezone: p.application.timezone ?? 'UTC',
    campaigns,
    list,
    plan,
    stores: p.stores ?? [],
    slots,
    readsItemDetails: p.campaigns.some((c) => readsItemDetails(c.ruleset)) || (p.cartItemFilters ?? []).some((f) => readsItemDetails(f.expression)),
  };
}
