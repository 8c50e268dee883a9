import { StoregateError } from '../core/errors.js';
import type { LocalData, SessionInput } from '../engine/index.js';
import type { CampaignExplanation, RuleFailureReason } from '../engine/index.js';
import type { LocalState } from './local-state.js';

/**
 * `GET /admin/explain/:id` and `storegate explain SESSION_ID` (README "Why not?"): for the last evaluation of a
 * session, which campaigns ran, which did not and why. Nothing is kept per evaluation: the session as the shop
 * last stored it (answered locally, or followed from Talon.One's answers in connected mode) is evaluated again
 * with `explain: true`, at the time of its last update unless another instant is asked for. That evaluation
 * changes nothing (the engine is pure; the ledger is only read). If the data changed since (a push), its
 * effects may differ from the answer the terminal got: `matchesLastAnswer` says so.
 */
export interface SessionExplanation {
  sessionId: string;
  /** Who answered the session's last update: the shop (`local`) or Talon.One (`upstream`, connected mode). */
  answeredBy: 'local' | 'upstream';
  state: string;
  profileId: string;
  terminalId: string;
  updateCount: number;
  /** The instant evaluated (RFC 3339): the session's last update, or `?now=`. */
  evaluatedAt: string;
  rulesVersion: number;
  catalogVersion: number;
  /** Local answers: whether this evaluation gives the effects the terminal was told (false: the data changed since). */
  matchesLastAnswer: boolean | null;
  effects: number;
  fallback: string | null;
  campaigns: CampaignExplanation[];
  missingAttributes: string[];
  ruleFailureReasons: RuleFailureReason[];
  note?: string;
}

export interface ExplainDeps {
  localData: LocalData;
  state: LocalState;
}

/** Throws `SG_ERR_NOT_FOUND` (404) for a session this shop does not hold. */
export function explainSession(d: ExplainDeps, id: string, at?: number): SessionExplanation {
  const local = d.state.localSession(id);
  const s = local ?? d.state.session(id);
  if (!s) {
    throw new StoregateError('SG_ERR_NOT_FOUND', `session "${id.slice(0, 200)}" is not known to this store (sessions are kept 3 days after their last update)`, { statusCode: 404 });
  }
  const now = at ?? (Date.parse(s.updated) || 0);
  const profile = s.profileId ? d.state.profile(s.profileId) : undefined;
  const out = d.localData.engine().evaluate({
    customerSessionId: id,
    session: s as SessionInput,
    ...(profile ? { profile } : {}),
    terminalId: s.terminalId,
    now,
    ledger: d.state.ledger,
    loyalty: d.state.loyalty,
    budgets: d.state.budgets,
    explain: true,
  });
  const x = out.explanation;
  const v = d.localData.versions();
  return {
    sessionId: id,
    answeredBy: local ? 'local' : 'upstream',
    state: s.state,
    profileId: s.profileId,
    terminalId: s.terminalId,
    updateCount: s.updateCount,
    evaluatedAt: new Date(now).toISOString(),
    rulesVersion: v.rules,
    catalogVersion: v.catalog,
    matchesLastAnswer: local ? JSON.stringify(out.effects) === JSON.stringify(s.effects) : null,
    effects: out.effects.length,
    fallback: x?.fallback ?? null,
    campaigns: x?.campaigns ?? [],
    missingAttributes: x?.missingAttributes ?? [],
    ruleFailureReasons: x?.ruleFailureReasons ?? [],
    ...(x?.note ? { note: x.note } : {}),
  };
}
