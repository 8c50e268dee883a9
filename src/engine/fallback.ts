import { DataError, type ErrorDetail } from '../core/errors.js';
import { BudgetError, EvalError, type EvalCtx } from './context.js';
import type { CompiledCampaign, CompiledRules } from './compile-rules.js';
import { parseRules } from './ingest/rules.js';
import type { Run, RuleEnvelope } from './rule-run.js';
import type { ApplicationSettings, RulesPayload } from './types.js';

/**
 * Fallback promotions (README "Fallback promotions"): a shop's everyday discounts, configured locally in the
 * RulesetV2 shape, given when the shop cannot evaluate Talon.One's own campaigns faithfully:
 *
 * - **instead of the rules** when the rules data is empty (none pushed, or no campaign) or older than
 *   `maxRulesAgeSec` (cached promotions may have ended or changed): every fallback campaign is evaluated, the
 *   cached campaigns are not;
 * - **beside the rules** for a fallback campaign listing `replaces: [campaign ids]`, when one of those campaigns
 *   runs for this store but is not offline-capable (it is skipped offline, never half-applied): the fallback
 *   campaign stands in for it, after the cached campaigns, on what they left of the cart.
 *
 * Their effects are marked: every rule name starts with {@link FALLBACK_PREFIX}, so the terminal, the journal
 * and the reconciliation report (a `fallbackApplied` entry once Talon.One has answered) can tell them apart.
 */
export const FALLBACK_PREFIX = '[fallback] ';

export type FallbackReason = 'rulesEmpty' | 'rulesStale' | 'notOfflineCapable';

export interface FallbackRules {
  /** The fallback campaigns, compiled (rule titles carry {@link FALLBACK_PREFIX}). */
  readonly rules: CompiledRules;
  /** Fallback campaign id → the cached campaigns it stands in for (only campaigns listing `replaces`). */
  readonly replaces: ReadonlyMap<number, readonly number[]>;
  /** Rules older than this are not used (the fallback campaigns are); null = no age limit. */
  readonly maxRulesAgeMs: number | null;
  /** The payload as configured (prefixed titles), to compile again with the cached rules' application settings. */
  readonly payload: RulesPayload;
}

/**
 * Validates a fallback rule set: `{application?, evaluationTree?, campaigns: [{campaign, ruleset, replaces?}]}`
 * (a rules data file without `version`/`stores`; `campaign.state` defaults to `enabled`). Every campaign must be
 * offline-capable: a fallback that cannot be evaluated here is a configuration error. Throws {@link DataError}
 * with JSON pointers into the given value.
 */
export function parseFallback(raw: unknown, maxRulesAgeSec: number | null): FallbackRules {
  const details: ErrorDetail[] = [];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new DataError('invalid fallback promotions', [{ path: '/', message: 'must be an object {campaigns: [{campaign, ruleset, replaces?}]}' }]);
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!['application', 'evaluationTree', 'campaigns', 'cartItemFilters', 'version'].includes(k)) details.push({ path: `/${k}`, message: 'unknown key (allowed: application, evaluationTree, campaigns, cartItemFilters)' });
  const replaces = new Map<number, number[]>();
  const campaigns: unknown[] = [];
  if (!Array.isArray(r.campaigns)) details.push({ path: '/campaigns', message: 'must be a list' });
  else if (r.campaigns.length > 100) details.push({ path: '/campaigns', message: 'must have at most 100 items (fallback promotions are a small local set)' });
  else {
    r.campaigns.forEach((e, i) => {
      if (e === null || typeof e !== 'object' || Array.isArray(e)) { campaigns.push(e); return; }
      const { replaces: rep, ...entry } = e as Record<string, unknown>;
      const c = entry.campaign;
      if (c !== null && typeof c === 'object' && !Array.isArray(c)) {
        const prefixed = prefixTitles(entry.ruleset);
        campaigns.push({ ...entry, campaign: { state: 'enabled', ...(c as object) }, ...(prefixed !== undefined ? { ruleset: prefixed } : {}) });
        if (rep !== undefined) {
          const id = (c as { id?: unknown }).id;
          if (!Array.isArray(rep) || rep.length === 0 || rep.length > 1000 || !rep.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) {
            details.push({ path: `/campaigns/${i}/replaces`, message: 'must be a non-empty list of campaign ids (integers)' });
          } else if (typeof id === 'number') replaces.set(id, rep as number[]);
        }
      } else campaigns.push(entry);
    });
  }
  if (details.length > 0) throw new DataError('invalid fallback promotions', details);
  const payload = { version: 1, application: (r.application ?? {}) as ApplicationSettings, evaluationTree: r.evaluationTree ?? null, campaigns, ...(r.cartItemFilters !== undefined ? { cartItemFilters: r.cartItemFilters } : {}) };
  const { payload: parsed, compiled } = parseRules(payload);
  for (const c of compiled.list) {
    if (!c.offlineCapable) details.push({ path: `/campaigns/${compiled.list.indexOf(c)}/ruleset`, message: `campaign ${c.id} cannot be evaluated in the shop (${c.reason ?? 'not offline-capable'}): a fallback promotion must be` });
  }
  if (details.length > 0) throw new DataError('invalid fallback promotions', details);
  return { rules: compiled, replaces, maxRulesAgeMs: maxRulesAgeSec === null ? null : maxRulesAgeSec * 1000, payload: parsed };
}

/** The ruleset with every promotion rule's title prefixed (the effects' `ruleName`), or undefined if not a ruleset. */
function prefixTitles(rs: unknown): unknown {
  if (rs === null || typeof rs !== 'object' || Array.isArray(rs)) return undefined;
  const rules = (rs as { promotionRules?: unknown }).promotionRules;
  if (!Array.isArray(rules)) return undefined;
  return {
    ...(rs as object),
    promotionRules: rules.map((rule: unknown) => {
      if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) return rule;
      const t = (rule as { title?: unknown }).title;
      return typeof t === 'string' && !t.startsWith(FALLBACK_PREFIX) ? { ...rule, title: `${FALLBACK_PREFIX}${t}` } : rule;
    }),
  };
}

/** Whether the fallback campaign `c` runs at `now` (its state and window; store links do not apply: it is this shop's). */
export function fallbackRunning(c: CompiledCampaign, now: number): boolean {
  return c.campaign.state === 'enabled' && now >= c.startMs && now < c.endMs;
}

/**
 * Runs stand-in campaigns on the main evaluation's run (their discounts cascade on what the cached campaigns
 * left), each rule all-or-nothing as in the sweep. A campaign over the work budget is skipped with nothing of it
 * applied. Returns the ids evaluated and, per campaign, whether it triggered.
 */
export function runStandIns(list: readonly CompiledCampaign[], run: Run, ctx: EvalCtx, skipped: Map<number, string>, onRule?: (c: CompiledCampaign, ruleIndex: number, ok: boolean) => void): { evaluated: number[]; triggered: number[] } {
  const evaluated: number[] = [];
  const triggered: number[] = [];
  for (const c of list) {
    const campaignMark = run.mark();
    const start = run.out.length;
    let any = false;
    try {
      for (const r of c.rules) {
        run.env = r.env as RuleEnvelope;
        run.couponUse = undefined;
        const m = run.mark();
        let ok: boolean;
        try { ok = r.exec(ctx); } catch (e) { if (e instanceof EvalError && !(e instanceof BudgetError)) ok = false; else throw e; }
        if (ok) run.release(m); else run.rollback(m, true);
        run.flushFailures();
        onRule?.(c, r.index, ok);
        any = any || ok;
      }
    } catch (e) {
      if (!(e instanceof BudgetError)) throw e;
      run.rollback(campaignMark);
      run.out.length = start;
      skipped.set(c.id, 'evaluation budget exceeded');
      continue;
    }
    run.release(campaignMark);
    evaluated.push(c.id);
    if (any) triggered.push(c.id);
  }
  return { evaluated, triggered };
}
