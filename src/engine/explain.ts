import { compileOneBlock, type BlockEnv, type Exec } from './blocks.js';
import type { CompiledCampaign, CompiledRules } from './compile-rules.js';
import { BudgetError, EvalError, type EvalCtx } from './context.js';
import { compilePath, readPath } from './paths.js';
import type { Run } from './rule-run.js';
import type { Outcome } from './sweep.js';
import type { Block, Coupon } from './types.js';

/**
 * "Why did this promotion not apply?" (README "Why not?"): an evaluation with `explain: true` records, for each
 * campaign, whether it ran and, for each rule that failed, which block failed, why in words, and which
 * attributes it read that the session lacks. Nothing of this runs without the flag: the sweep calls
 * {@link Explainer.rule} only when one is given, and a failed rule is looked into inside {@link Run.sandbox}, so
 * the effects of an explained evaluation are those of a plain one (a test holds them byte for byte).
 */

/** Block types that give effects (a failing one is an `effectIndex`); the rest are conditions (`conditionIndex`). */
const EFFECT_BLOCKS = new Set(['awardDiscount', 'awardItem', 'showNotification', 'triggerCustomEffect']);
const ROOTS = new Set(['Session', 'Profile', 'Store', 'Item', 'Coupon', 'Application']);
const PATH_IN_TEXT = /\$([A-Za-z_][A-Za-z0-9_]{0,127})((?:\.[A-Za-z_][A-Za-z0-9_]{0,127})*)/g;

export interface BlockFailure {
  /** Position of the failing block in the rule's `blocks` (RulesetV2). */
  blockIndex: number;
  blockType: string;
  /** An effect block (the discount did not fit, …) rather than a condition. */
  effect: boolean;
  details: string;
}

export interface RuleExplanation {
  index: number;
  name: string;
  triggered: boolean;
  failed?: BlockFailure;
  /** Attribute paths the failed block reads that the session (or every cart item) lacks. */
  missingAttributes?: string[];
  /** The coupon being evaluated with this rule, if any. */
  coupon?: { id: number; value: string };
  evaluationGroupID?: number;
  evaluationGroupMode?: string;
}

export type CampaignOutcome =
  | 'triggered' | 'notTriggered' | 'notRunning' | 'otherStore' | 'notOfflineCapable' | 'notInEvaluationTree'
  | 'excluded' | 'skipped' | 'replacedByFallback' | 'fallbackIdle';

export interface CampaignExplanation {
  id: number;
  name: string;
  rulesetId: number;
  outcome: CampaignOutcome;
  /** Why, in words (null for a triggered campaign). */
  reason: string | null;
  /** A fallback promotion (configured in the shop, README "Fallback promotions"). */
  fallback?: true;
  rules: RuleExplanation[];
}

/** Talon.One's `RuleFailureReason` (Integration API). */
export interface RuleFailureReason {
  campaignID: number;
  campaignName: string;
  rulesetID: number;
  couponID?: number;
  couponValue?: string;
  ruleIndex: number;
  ruleName: string;
  conditionIndex?: number;
  effectIndex?: number;
  details?: string;
  evaluationGroupID?: number;
  evaluationGroupMode?: string;
}

export interface Explanation {
  campaigns: CampaignExplanation[];
  /** Set when fallback promotions were evaluated (README "Fallback promotions"). */
  fallback: string | null;
  /** Every missing attribute named by a failed rule, once. */
  missingAttributes: string[];
  ruleFailureReasons: RuleFailureReason[];
  /** Said when nothing is evaluated (a cancelled session). */
  note?: string;
}

const show = (v: unknown): string => {
  if (v === undefined) return 'missing';
  const t = JSON.stringify(v) ?? String(v);
  return t.length > 80 ? `${t.slice(0, 77)}...` : t;
};

/** Per-block executables of each rule, compiled on the first explanation of a campaign (then kept with it). */
const BLOCK_EXECS = new WeakMap<CompiledCampaign, Map<string, Exec>>();

function execOf(c: CompiledCampaign, b: unknown, key: string, depth: number): Exec {
  let m = BLOCK_EXECS.get(c);
  if (!m) BLOCK_EXECS.set(c, (m = new Map()));
  let e = m.get(key);
  if (!e) m.set(key, (e = compileOneBlock(b, c.env as BlockEnv, key, depth)));
  return e;
}

/** Runs one block, telling an evaluation error (with its message) from a plain false. */
function tryBlock(exec: Exec, ctx: EvalCtx): { ok: boolean; error?: string } {
  try {
    return { ok: exec(ctx) };
  } catch (e) {
    if (e instanceof EvalError) return { ok: false, error: e instanceof BudgetError ? 'evaluation budget exceeded' : e.message };
    throw e;
  }
}

/** Records the rules of an explained evaluation as the sweep runs them. */
export class Explainer {
  readonly #rules = new Map<number, RuleExplanation[]>();
  readonly missing = new Set<string>();

  /** Rule `k` of campaign `c` ran (`ok`: it triggered). Called with the run as it was before the rule. */
  rule(c: CompiledCampaign, k: number, ok: boolean, ctx: EvalCtx, run: Run, coupon: Coupon | undefined): void {
    let list = this.#rules.get(c.id);
    if (!list) this.#rules.set(c.id, (list = []));
    const env = run.env;
    const r: RuleExplanation = { index: k, name: c.rules[k]?.title ?? '', triggered: ok };
    if (coupon) r.coupon = { id: coupon.id, value: coupon.value };
    if (env.evaluationGroupID !== undefined) { r.evaluationGroupID = env.evaluationGroupID; r.evaluationGroupMode = env.evaluationGroupMode as string; }
    if (!ok) {
      const f = describeRule(c, k, ctx, run);
      r.failed = f.failure;
      if (f.missing.length > 0) { r.missingAttributes = f.missing; for (const m of f.missing) this.missing.add(m); }
    }
    // The last run of a rule counts (lowest/highestDiscount sets try their campaigns first).
    const at = list.findIndex((x) => x.index === k);
    if (at >= 0) list[at] = r; else list.push(r);
  }

  rulesOf(id: number): RuleExplanation[] {
    return (this.#rules.get(id) ?? []).sort((a, b) => a.index - b.index);
  }
}

/** Runs rule `k`'s blocks one by one in a sandbox until one fails, and says why. */
export function describeRule(c: CompiledCampaign, k: number, ctx: EvalCtx, run: Run): { failure: BlockFailure; missing: string[] } {
  const blocks = c.ruleset.promotionRules[k]?.blocks ?? [];
  const budget = ctx.budget;
  try {
    return run.sandbox(() => {
      for (let i = 0; i < blocks.length; i++) {
        const b = blocks[i] as Block;
        const r = tryBlock(execOf(c, b, `${k}/${i}`, 0), ctx);
        if (r.ok) continue;
        const missing = missingPaths(b, c, ctx);
        const details = describeBlock(c, b, `${k}/${i}`, 0, ctx, run, r.error);
        const text = missing.length > 0 && !details.includes('is missing') ? `${details} (missing: ${missing.join(', ')})` : details;
        return { failure: { blockIndex: i, blockType: b.type, effect: EFFECT_BLOCKS.has(b.type), details: text }, missing };
      }
      // Every block held: its effects overran a campaign budget (budgets.ts).
      return { failure: { blockIndex: -1, blockType: '', effect: false, details: ctx.budgets?.why(c.id) ?? 'the rule failed' }, missing: [] };
    });
  } finally {
    ctx.budget = budget;
  }
}

/** The getter of a `checkAttribute` block's attribute (compiled once per block). */
const ATTRIBUTE = new WeakMap<object, (ctx: EvalCtx) => unknown>();
function attributeOf(b: Block, c: CompiledCampaign): (ctx: EvalCtx) => unknown {
  let g = ATTRIBUTE.get(b);
  if (!g) ATTRIBUTE.set(b, (g = compilePath(b.attribute, c.env as BlockEnv, '')));
  return g;
}

/** A condition in words: `$Session.Total greaterThan 50`. */
function summary(b: Record<string, unknown>): string {
  if (b.type !== 'checkAttribute') return String(b.type);
  const op = String(b.operator);
  const operand = 'value' in b ? ` ${show(b.value)}` : 'values' in b ? ` ${show(b.values)}${typeof b.count === 'number' ? ` (count ${b.count})` : ''}` : 'min' in b ? ` ${show(b.min)}..${show(b.max)}` : 'start' in b ? ` ${show(b.start)}..${show(b.end)}` : '';
  return `${String(b.attribute)} ${op}${operand}`;
}

/** Why block `b` failed (it did, just now, in the sandbox), in words. */
function describeBlock(c: CompiledCampaign, b: Block, key: string, depth: number, ctx: EvalCtx, run: Run, error: string | undefined): string {
  const why = error ? `: ${error}` : '';
  switch (b.type) {
    case 'checkAttribute': {
      let v: unknown;
      try { v = attributeOf(b, c)(ctx); } catch { return `${summary(b)} is false${why}`; }
      if (v === undefined || v === null) return `${String(b.attribute)} is missing (${summary(b)})`;
      return `${String(b.attribute)} is ${show(v)}, not ${summary(b).slice(String(b.attribute).length + 1)}${why}`;
    }
    case 'group': {
      const kids = Array.isArray(b.blocks) ? (b.blocks as Block[]) : [];
      const parts: string[] = [];
      for (let j = 0; j < kids.length; j++) {
        const kid = kids[j] as Block;
        const kk = `${key}/${j}`;
        const m = run.mark();
        const r = tryBlock(execOf(c, kid, kk, depth + 1), ctx);
        if (b.operator === 'all' && !r.ok) return `group (all): condition ${j + 1} failed: ${describeBlock(c, kid, kk, depth + 1, ctx, run, r.error)}`;
        if (b.operator === 'none' && r.ok) { run.rollback(m); return `group (none): condition ${j + 1} holds: ${summary(kid)}`; }
        if (b.operator === 'atLeastOne') {
          if (!r.ok) parts.push(`(${j + 1}) ${describeBlock(c, kid, kk, depth + 1, ctx, run, r.error)}`);
          run.rollback(m);
        }
      }
      return b.operator === 'atLeastOne' ? `group (atLeastOne): no condition holds: ${parts.join('; ')}` : `group (${String(b.operator)}) failed${why}`;
    }
    case 'checkCoupon':
      return ctx.coupon ? `checkCoupon failed${why}` : 'the session has no valid coupon code of this campaign';
    case 'checkAudience': {
      const id = (b.audience as { id?: unknown } | undefined)?.id;
      if (ctx.bind.Profile === undefined) return `the session has no customer profile (checkAudience ${String(b.operator)} audience ${String(id)})`;
      return b.operator === 'member' ? `the customer is not a member of audience ${String(id)}` : `the customer is a member of audience ${String(id)}`;
    }
    case 'checkLoyaltyBalance': {
      const pid = (b.program as { id?: unknown } | undefined)?.id;
      const sub = typeof b.subledger === 'string' ? b.subledger : '';
      const bal = typeof pid === 'number' ? ctx.loyaltyBalance(pid, String(b.balance), sub) : undefined;
      const of = sub ? `subledger ${show(sub)} of loyalty program ${String(pid)}` : `loyalty program ${String(pid)}`;
      return bal === undefined ? `no cached ${String(b.balance)} balance of ${of} for this customer or card` : `${String(b.balance)} balance of ${of} is ${bal}, not ${String(b.operator)} ${show(b.value)}${why}`;
    }
    case 'awardDiscount':
      return `discount "${String(b.name)}" could not be given${why || ': nothing is left of what it applies to (partial discounts are off), or an additional cost it discounts is missing'}`;
    case 'awardItem':
      return `free item ${show(b.sku)} could not be given${why || ': its quantity is not a whole number from 1 to 1,000'}`;
    case 'passthrough':
      return error ? `Talang expression failed: ${error}` : 'Talang expression is false';
    default:
      return `${b.type} failed${why}`;
  }
}

/** Paths (`$Root.a.b`) a block reads: in attributes and `{{…}}` text, Talang `.` paths, and the selectors it names. */
function collectPaths(v: unknown, c: CompiledCampaign, out: Set<string>, seen: Set<string>, depth = 0): void {
  if (depth > 64) return;
  if (typeof v === 'string') {
    for (const m of v.matchAll(PATH_IN_TEXT)) {
      const root = m[1] as string;
      if (ROOTS.has(root)) { if (m[2]) out.add(`$${root}${m[2]}`); continue; }
      if (seen.has(root)) continue;
      seen.add(root);
      const sel = c.ruleset.selectors?.find((s) => s.name === root);
      if (sel) collectPaths(sel.steps, c, out, seen, depth + 1);
    }
    return;
  }
  if (Array.isArray(v)) {
    if (v[0] === '.' && v.length > 2 && ROOTS.has(v[1] as string) && v.slice(1).every((x) => typeof x === 'string')) out.add(`$${v.slice(1).join('.')}`);
    for (const x of v) collectPaths(x, c, out, seen, depth + 1);
    return;
  }
  if (v !== null && typeof v === 'object') for (const x of Object.values(v)) collectPaths(x, c, out, seen, depth + 1);
}

/** Per block (the pushed object, kept as long as its rules): the paths it reads, split into root and segments. */
const BLOCK_PATHS = new WeakMap<object, [string, string[], string][]>();

/** The paths block `b` reads that are missing: on the session (profile, store…), or on every cart item. */
function missingPaths(b: Block, c: CompiledCampaign, ctx: EvalCtx): string[] {
  let paths = BLOCK_PATHS.get(b);
  if (!paths) {
    const found = new Set<string>();
    collectPaths(b, c, found, new Set());
    paths = [...found].map((p) => { const [root, ...segs] = p.slice(1).split('.') as [string, ...string[]]; return [root, segs, p]; });
    BLOCK_PATHS.set(b, paths);
  }
  const out: string[] = [];
  for (const [root, segs, p] of paths) {
    if (root === 'Coupon' && ctx.bind.Coupon === undefined) continue;
    if (root === 'Item') {
      if (ctx.items.length === 0) continue;
      let lacking = 0;
      for (const it of ctx.items) {
        let v: unknown = it;
        for (const s of segs) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[s] : undefined;
        if (v === undefined || v === null) lacking++;
      }
      if (lacking === ctx.items.length) out.push(p);
      continue;
    }
    const saved = ctx.locals;
    ctx.locals = undefined;
    const v = readPath(ctx, root, segs);
    ctx.locals = saved;
    if (v === undefined || v === null) out.push(p);
  }
  return out.sort();
}

/** What the engine knows about one evaluation, for {@link campaignReport}. */
export interface ReportInput {
  rules: CompiledRules;
  now: number;
  storeId: number | undefined;
  storeIntegrationId: string;
  inPlan: (id: number) => boolean;
  outcome: ReadonlyMap<number, Outcome>;
  skipped: ReadonlyMap<number, string>;
  evaluated: ReadonlySet<number>;
  recorder: Explainer;
  /** Campaigns with at least one effect in the answer. */
  gave: ReadonlySet<number>;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Every campaign of the rules, with what happened to it in this evaluation and why. */
export function campaignReport(x: ReportInput): CampaignExplanation[] {
  return x.rules.list.map((c) => {
    const base = { id: c.id, name: c.name, rulesetId: c.rulesetId };
    const rules = x.recorder.rulesOf(c.id);
    const said = (outcome: CampaignOutcome, reason: string | null): CampaignExplanation => ({ ...base, outcome, reason, rules });
    if (c.campaign.state !== 'enabled') return said('notRunning', `its state is ${c.campaign.state}`);
    if (x.now < c.startMs) return said('notRunning', `it starts at ${iso(c.startMs)}`);
    if (x.now >= c.endMs) return said('notRunning', `it ended at ${iso(c.endMs)}`);
    if (c.linkedStoreIds.length > 0 && (x.storeId === undefined || !c.linkedStoreIds.includes(x.storeId))) {
      const here = x.storeId === undefined ? `this store (${x.storeIntegrationId}) is not in the rules' stores` : `this store is ${x.storeId} (${x.storeIntegrationId})`;
      return said('otherStore', `it is linked to stores ${c.linkedStoreIds.slice(0, 10).join(', ')}${c.linkedStoreIds.length > 10 ? ', …' : ''}; ${here}`);
    }
    if (!c.offlineCapable) return said('notOfflineCapable', `it cannot be evaluated in the shop: ${c.reason ?? 'not offline-capable'}`);
    if (!x.inPlan(c.id)) return said('notInEvaluationTree', 'it is not in the application\'s campaign evaluation tree');
    const skip = x.skipped.get(c.id);
    if (skip !== undefined) return said('skipped', skip);
    const o = x.outcome.get(c.id);
    if (o === 'notFirst') return said('excluded', 'an earlier campaign of its evaluation group (operator FIRST) triggered');
    const any = rules.some((r) => r.triggered);
    // A lowest/highestDiscount group tries each campaign, then runs only the one it picks: one that triggered in
    // its trial was excluded, one that did not is "not triggered" like any other.
    if (o === 'lowerDiscount' && any) return said('excluded', 'another campaign of its evaluation group gave the discount its mode (lowest/highest) picks');
    if (o !== 'lowerDiscount' && !x.evaluated.has(c.id)) return said('excluded', 'not evaluated (an earlier campaign of its evaluation group triggered)');
    if (any) return said('triggered', x.gave.has(c.id) ? null : 'its rules passed but gave no effect (e.g. a discount on cart items none of which matched)');
    const first = rules.find((r) => r.failed);
    return said('notTriggered', first?.failed ? `rule ${first.index} "${first.name}": block ${first.failed.blockIndex} (${first.failed.blockType}): ${first.failed.details}` : 'no rule triggered');
  });
}

/**
 * Talon.One's `RuleFailureReason` list: each failed rule of an evaluated campaign (with the failing block as
 * `conditionIndex` or `effectIndex`, its position in the RulesetV2 rule's `blocks`), and each running campaign of
 * this store the shop did not evaluate (not offline-capable, excluded by its evaluation group, over the work
 * budget: `ruleIndex` 0, the reason in `details`).
 */
export function ruleFailureReasons(campaigns: readonly CampaignExplanation[], rules: CompiledRules): RuleFailureReason[] {
  const out: RuleFailureReason[] = [];
  for (const c of campaigns) {
    const env = { campaignID: c.id, campaignName: c.name, rulesetID: c.rulesetId };
    if (c.outcome === 'notOfflineCapable' || c.outcome === 'excluded' || c.outcome === 'skipped') {
      out.push({ ...env, ruleIndex: 0, ruleName: rules.campaigns.get(c.id)?.firstRuleName ?? c.rules[0]?.name ?? '', details: `not evaluated offline: ${c.reason ?? c.outcome}` });
      continue;
    }
    for (const r of c.rules) {
      if (r.triggered || !r.failed) continue;
      const f: RuleFailureReason = { ...env, ruleIndex: r.index, ruleName: r.name, details: r.failed.details };
      if (r.coupon) { f.couponID = r.coupon.id; f.couponValue = r.coupon.value; }
      if (r.failed.blockIndex >= 0) { if (r.failed.effect) f.effectIndex = r.failed.blockIndex; else f.conditionIndex = r.failed.blockIndex; }
      if (r.evaluationGroupID !== undefined) { f.evaluationGroupID = r.evaluationGroupID; f.evaluationGroupMode = r.evaluationGroupMode as string; }
      out.push(f);
    }
  }
  return out;
}
