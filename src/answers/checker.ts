import { Counter, type Registry } from 'prom-client';
import type { TerminalRequest } from '../checkout/checkout.js';
import type { Logger } from '../telemetry/logger.js';
import { checkRules, type Problem } from './rules.js';
import { AnswerSchemas } from './schema.js';

/** `upstream.checkAnswers` (README "Checked answers"). */
export interface CheckSettings {
  enabled: boolean;
  replace: boolean;
  unknownCampaigns: 'count' | 'fail';
}

export interface CheckerDeps {
  settings: CheckSettings;
  /** A campaign of the pushed rules (LocalData). */
  knownCampaign: (id: number) => boolean;
  registry: Registry;
  log: Logger;
  alert: (a: { kind: 'upstreamAnswerInvalid'; [k: string]: unknown }) => void;
  /** Monotonic ms (alerts are spaced out on it). */
  monotonic: () => number;
  /** Wall-clock ms (for `/status`). */
  now: () => number;
}

export interface CheckStatus {
  enabled: boolean;
  replace: boolean;
  unknownCampaigns: 'count' | 'fail';
  checked: number;
  failed: number;
  replaced: number;
  /** Effects naming a campaign the pushed rules do not know (newer rules upstream, or a broken answer). */
  unknownCampaignEffects: number;
  lastFailure: ({ at: string; op: string; problems: Problem[]; replaced: boolean } & Whose) | null;
}

const KEEP = Object.freeze({ replace: false });
const REPLACE = Object.freeze({ replace: true });
/** One alert per this many ms at most; the ones held back are counted in the next. */
const ALERT_SPACING_MS = 60_000;
const MAX_LISTED = 5;

/**
 * Checked answers: Talon.One's POS guide asks integrations to verify the integrity of the answers and effects
 * they get. Every 2xx answer to a terminal's call is parsed, validated against Talon.One's own schema for that
 * operation (schema.ts) and against sanity rules (rules.ts). A failing answer is logged with its session id,
 * counted, alerted on `P/alerts` (`upstreamAnswerInvalid`, at most one a minute, the others counted in it) and,
 * with `replace`, answered locally instead. The parse is the only cost, and only while checking is on: a
 * passing answer still goes to the terminal as the bytes Talon.One sent.
 */
export class AnswerChecker {
  #settings: CheckSettings;
  readonly #d: CheckerDeps;
  readonly #schemas = new AnswerSchemas();
  readonly #checked: Counter<'op' | 'outcome'>;
  readonly #problems: Counter<'rule'>;
  #counts = { checked: 0, failed: 0, replaced: 0, unknownCampaignEffects: 0 };
  #last: CheckStatus['lastFailure'] = null;
  #lastAlertAt = -Infinity;
  #heldBack = 0;

  constructor(deps: CheckerDeps) {
    this.#d = deps;
    this.#settings = deps.settings;
    const registers = [deps.registry];
    this.#checked = new Counter({
      name: 'storegate_upstream_answers_checked_total',
      help: 'Talon.One answers checked (upstream.checkAnswers), by operation and outcome: ok, unknownCampaign (passed, naming campaigns the pushed rules do not know), failed (passed to the terminal), replaced (answered locally instead).',
      labelNames: ['op', 'outcome'] as const,
      registers,
    });
    this.#problems = new Counter({
      name: 'storegate_upstream_answer_problems_total',
      help: 'Problems found in Talon.One answers, by rule: json, schema, effectType, discount, position, unknownCampaign.',
      labelNames: ['rule'] as const,
      registers,
    });
  }

  /** Compiles the schemas when checking is on (call before the first terminal call). */
  async start(): Promise<void> {
    if (this.#settings.enabled) await this.#schemas.load();
  }

  /** A pushed config changed `upstream.checkAnswers`; turned on, the schemas are compiled in the background. */
  configure(settings: CheckSettings): void {
    this.#settings = settings;
    if (settings.enabled) this.#schemas.load().catch((err: unknown) => this.#d.log.error({ err }, 'answer schemas could not be compiled'));
  }

  /** Checks one 2xx answer; `replace`: the caller answers locally instead. Never throws. */
  check(req: TerminalRequest, body: unknown, res: { status: number; contentType: string | undefined; body: Buffer }): { replace: boolean } {
    const s = this.#settings;
    if (!s.enabled || (res.status === 204 && res.body.length === 0)) return KEEP;
    let problems: Problem[];
    try {
      problems = this.#problemsOf(req.spec.op, body, res.body);
    } catch (err) {
      this.#d.log.error({ err, op: req.spec.op }, 'answer check failed (the answer is passed on)');
      return KEEP;
    }
    this.#counts.checked++;
    const unknown = problems.filter((p) => p.rule === 'unknownCampaign').length;
    this.#counts.unknownCampaignEffects += unknown;
    for (const p of problems) this.#problems.inc({ rule: p.rule });
    const failing = s.unknownCampaigns === 'fail' ? problems : problems.filter((p) => p.rule !== 'unknownCampaign');
    if (failing.length === 0) {
      this.#checked.inc({ op: req.spec.op, outcome: unknown > 0 ? 'unknownCampaign' : 'ok' });
      return KEEP;
    }
    const replaced = s.replace;
    this.#counts.failed++;
    if (replaced) this.#counts.replaced++;
    this.#checked.inc({ op: req.spec.op, outcome: replaced ? 'replaced' : 'failed' });
    const whose = whoseOf(req, body);
    const listed = failing.slice(0, MAX_LISTED);
    this.#last = { at: new Date(this.#d.now()).toISOString(), op: req.spec.op, ...whose, problems: listed, replaced };
    this.#d.log.warn({ op: req.spec.op, ...whose, terminalId: req.terminalId, problems: listed, more: failing.length - listed.length, replaced }, 'upstream answer failed its checks');
    this.#alert(req, whose, listed, replaced);
    return replaced ? REPLACE : KEEP;
  }

  #problemsOf(op: string, body: unknown, raw: Buffer): Problem[] {
    let doc: unknown;
    try {
      doc = JSON.parse(raw.toString('utf8'));
    } catch {
      return [{ rule: 'json', path: '/', message: 'the answer is not JSON' }];
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return [{ rule: 'json', path: '/', message: 'the answer is not a JSON object' }];
    const problems = this.#schemas.ready ? this.#schemas.check(op, doc) : [];
    return [...problems, ...checkRules(doc as Record<string, unknown>, body, { knownEffectType: (t) => this.#schemas.knownEffectType(t), knownCampaign: this.#d.knownCampaign })];
  }

  #alert(req: TerminalRequest, whose: Whose, problems: Problem[], replaced: boolean): void {
    const t = this.#d.monotonic();
    if (t - this.#lastAlertAt < ALERT_SPACING_MS) {
      this.#heldBack++;
      return;
    }
    this.#lastAlertAt = t;
    const heldBack = this.#heldBack;
    this.#heldBack = 0;
    this.#d.alert({ kind: 'upstreamAnswerInvalid', op: req.spec.op, ...whose, terminalId: req.terminalId, problems, replaced, heldBack });
  }

  status(): CheckStatus {
    const s = this.#settings;
    return { enabled: s.enabled, replace: s.replace, unknownCampaigns: s.unknownCampaigns, ...this.#counts, lastFailure: this.#last };
  }
}

/** Whose answer it is: the session, or (profile calls, events) the profile. */
type Whose = { sessionId: string } | { profileId: string };

function whoseOf(req: TerminalRequest, body: unknown): Whose {
  const p = req.params;
  if (p.customerSessionId !== undefined) return { sessionId: p.customerSessionId };
  if (p.integrationId !== undefined) return { profileId: p.integrationId };
  const profileId = typeof body === 'object' && body !== null ? (body as { profileId?: unknown }).profileId : undefined;
  return { profileId: typeof profileId === 'string' ? profileId : '' };
}
