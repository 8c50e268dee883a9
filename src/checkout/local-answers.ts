import type { Journal } from '../journal/index.js';
import type { LocalData, Effect, SessionInput } from '../engine/index.js';
import { holderKey } from '../engine/loyalty.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import { StoregateError } from '../core/errors.js';
import type { TerminalAnswer, TerminalRequest } from './checkout.js';
import { applyReopen, applyReturn, mergeUpdate, toUpstreamSession, type SessionUpdate } from './local-sessions.js';
import type { LocalState } from './local-state.js';
import { customerProfileJson, integrationState, rollbackEffects } from './responses.js';
import { profileKey, sessionKey, type JournalRecord, type LocalOutcome } from './records.js';
import { requestHash, type ReplayCache } from './replay-cache.js';

/** The replay context of one call: its key and request hash. */
type Replay = { key: string; hash: string } | null;
const MUTATING = new Set(['updateSession', 'returnItems', 'reopenSession', 'trackEvent', 'updateProfile']);

export interface LocalAnswersDeps {
  /** Answers to calls with the terminal's own `Idempotency-Key` (absent in tests of the bare engine path). */
  replay?: ReplayCache;
  localData: LocalData;
  journal: Journal;
  state: LocalState;
  clock: Clock;
  storeIntegrationId: string;
  log: Logger;
}

type Query = URLSearchParams;

/**
 * Answers terminals from the shop's own data: the engine evaluates, the journal records the answer durably,
 * and only then does the terminal get it (README "Durability and the journal"). Calls on one session are
 * serialised so successive updates build on each other; the coupon ledger is reserved during evaluation and
 * released again if the journal cannot take the record, so a failed write never leaves a coupon used.
 */
export class LocalAnswers {
  readonly #d: LocalAnswersDeps;
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Calls with a terminal key being answered right now: a concurrent retry waits for the first answer. */
  readonly #inFlight = new Map<string, Promise<unknown>>();

  constructor(deps: LocalAnswersDeps) {
    this.#d = deps;
  }

  /** `idempotencyKey` becomes the record id, i.e. the `Idempotency-Key` the flusher sends upstream. */
  answer(req: TerminalRequest, idempotencyKey: string): Promise<TerminalAnswer> {
    const q = new URLSearchParams(req.query);
    const own = req.idempotencyKey;
    if (own !== undefined && this.#d.replay && MUTATING.has(req.spec.op) && q.get('dry') !== 'true') {
      return this.#withReplay(req, q, own);
    }
    return this.#dispatch(req, q, idempotencyKey, null);
  }

  /**
   * A call carrying the terminal's own key: the same key and request again get the first answer (same body,
   * same journal seq) and journal nothing; the same key with another request is a conflict (409). Talon.One does
   * not document what it does for the latter; refusing is the answer that can never apply a wrong call.
   */
  async #withReplay(req: TerminalRequest, q: Query, key: string): Promise<TerminalAnswer> {
    const hash = requestHash(req.spec.op, req.params, req.query, req.body);
    for (;;) {
      const hit = this.#d.replay?.get(key);
      if (hit) {
        if (hit.hash !== hash) {
          throw new StoregateError('SG_ERR_IDEMPOTENCY_CONFLICT', `Idempotency-Key "${key.slice(0, 100)}" was already used for a different request`, {
            statusCode: 409,
            details: [{ path: '/', message: 'send a new Idempotency-Key for a new request' }],
          });
        }
        if (hit.status === 0) return { ...(await this.#dispatch(req, q, key, null, true)), journalSeq: hit.seq }; // from the current state
        return { status: hit.status, body: Buffer.from(hit.body), contentType: 'application/json', source: 'local', journalSeq: hit.seq };
      }
      const running = this.#inFlight.get(key);
      if (!running) break;
      await running.catch(() => undefined);
    }
    const run = this.#dispatch(req, q, key, { key, hash });
    this.#inFlight.set(key, run);
    try {
      return await run;
    } finally {
      this.#inFlight.delete(key);
    }
  }

  #dispatch(req: TerminalRequest, q: Query, idempotencyKey: string, rp: Replay, replayed = false): Promise<TerminalAnswer> {
    switch (req.spec.op) {
      case 'updateSession':
        return this.#serial(sessionKey(this.#sid(req)), () => this.#updateSession(req, q, idempotencyKey, rp));
      case 'returnItems':
        return this.#serial(sessionKey(this.#sid(req)), () => this.#returnItems(req, q, idempotencyKey, rp));
      case 'reopenSession':
        return this.#serial(sessionKey(this.#sid(req)), () => this.#reopen(req, q, idempotencyKey, rp));
      case 'trackEvent':
        return this.#trackEvent(req, q, idempotencyKey, rp);
      case 'updateProfile':
        if (replayed) q.set('dry', 'true'); // the profile as it is now, without a second record
        return this.#updateProfile(req, q, idempotencyKey, rp);
      case 'getInventory':
        return Promise.resolve(this.#inventory(req, q));
      case 'getBalances':
        return Promise.resolve(this.#balances(req, q));
    }
  }

  #sid(req: TerminalRequest): string {
    return req.params.customerSessionId as string;
  }

  async #serial<T>(key: string, f: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(key) ?? Promise.resolve();
    const run = prev.then(f, f);
    const tail = run.catch(() => undefined);
    this.#locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    }
  }

  async #updateSession(req: TerminalRequest, q: Query, idem: string, rp: Replay): Promise<TerminalAnswer> {
    const { state, clock } = this.#d;
    const id = this.#sid(req);
    const body = req.body as { customerSession: SessionUpdate; responseContent?: string[] };
    const now = clock.now();
    const dry = q.get('dry') === 'true';
    const ctx = { now, terminalId: req.terminalId, storeIntegrationId: this.#d.storeIntegrationId };
    // A dry run considers only the payload sent, and changes nothing (Talon.One Integration API, `dry`).
    const next = mergeUpdate(dry ? undefined : state.session(id), id, body.customerSession, ctx);
    const profile = next.profileId ? state.profile(next.profileId) : undefined;
    const out = this.#d.localData.engine().evaluate({
      customerSessionId: id,
      session: next as SessionInput,
      ...(profile ? { profile } : {}),
      terminalId: req.terminalId,
      now: dry && q.get('now') ? Date.parse(q.get('now') as string) || now : now,
      ledger: state.ledger,
      loyalty: state.loyalty,
      budgets: state.budgets,
      // Why campaigns did not apply is worked out only when the terminal asks for it.
      explain: body.responseContent?.includes('ruleFailureReasons') === true,
    });
    next.effects = out.effects;
    const respond = (seq?: number): TerminalAnswer => ({
      status: 200,
      body: integrationState(out.effects, {
        ...(body.responseContent ? { responseContent: body.responseContent } : {}),
        session: next,
        profile: customerProfileJson(profile, next.profileId, now),
        ...(out.explanation ? { ruleFailureReasons: out.explanation.ruleFailureReasons } : {}),
      }),
      source: 'local',
      ...(seq === undefined ? {} : { journalSeq: seq }),
    });
    if (dry) return respond();

    // Applied now, so a concurrent answer already sees the code taken; history only once journaled.
    const pending = state.applyPending(out.ledgerOps, out.loyaltyOps, out.budgetOps);
    q.delete('dry');
    const record: JournalRecord = {
      kind: 'updateSession',
      terminalId: req.terminalId,
      query: q.toString(),
      sessionId: id,
      body: { customerSession: toUpstreamSession(next), ...(body.responseContent ? { responseContent: body.responseContent } : {}) },
      state: next.state,
      local: outcome(out.effects, out.fallback),
      meta: { created: next.created, updated: next.updated, updateCount: next.updateCount },
      ledgerOps: out.ledgerOps,
      loyaltyOps: out.loyaltyOps,
      ...(out.budgetOps.length > 0 ? { budgetOps: out.budgetOps } : {}),
    };
    const answer = respond();
    this.#stamp(req, record, rp, answer, now);
    const seq = await this.#journal(sessionKey(id), record, idem, (s) => state.commit(s, record, next, pending), () => state.revertPending(pending));
    return { ...answer, journalSeq: seq };
  }

  /**
   * Puts the answer into the record (the same fsync makes both durable) when the call has its own key, and
   * marks a record that replaces a failed live call.
   */
  #stamp(req: TerminalRequest, record: JournalRecord, rp: Replay, answer: TerminalAnswer | null, now: number): void {
    if (req.replacesLiveCall) record.replacesLiveCall = true;
    if (!rp) return;
    const body = answer === null || answer.body === undefined ? '' : JSON.stringify(answer.body);
    record.replay = { key: rp.key, hash: rp.hash, status: answer?.status ?? 0, body, at: now };
  }

  #remember(record: JournalRecord, seq: number): void {
    if (record.replay) this.#d.replay?.remember({ ...record.replay, seq });
  }

  async #returnItems(req: TerminalRequest, q: Query, idem: string, rp: Replay): Promise<TerminalAnswer> {
    const { state, clock } = this.#d;
    const id = this.#sid(req);
    const body = req.body as { return: { returnedCartItems: { position?: number; quantity?: number; sku?: string }[] }; responseContent?: string[] };
    const prev = state.session(id);
    const now = clock.now();
    const next = applyReturn(prev, id, body.return.returnedCartItems, now);
    const positions = new Set(body.return.returnedCartItems.map((r) => r.position ?? next.cartItems.findIndex((c) => c.sku === r.sku)));
    const effects = rollbackEffects(prev?.effects ?? [], positions);
    if (q.get('dry') === 'true') return { status: 200, body: integrationState(effects, { session: next, ...rc(body) }), source: 'local' };
    q.delete('dry');
    const record: JournalRecord = { kind: 'returnItems', terminalId: req.terminalId, query: q.toString(), sessionId: id, body, local: outcome(effects) };
    const ret = {
      id: 0,
      created: new Date(now).toISOString(),
      applicationId: 0,
      accountId: 0,
      returnedCartItems: body.return.returnedCartItems,
      eventId: 0,
      sessionId: 0,
      sessionIntegrationId: id,
      profileIntegrationId: next.profileId,
    };
    const answer: TerminalAnswer = { status: 200, body: integrationState(effects, { session: next, ...rc(body), extra: { return: ret } }), source: 'local' };
    this.#stamp(req, record, rp, answer, now);
    const seq = await this.#journal(sessionKey(id), record, idem, (s) => state.commit(s, record, next));
    return { ...answer, journalSeq: seq };
  }

  async #reopen(req: TerminalRequest, q: Query, idem: string, rp: Replay): Promise<TerminalAnswer> {
    const { state, clock } = this.#d;
    const id = this.#sid(req);
    const prev = state.session(id);
    const now = clock.now();
    const next = applyReopen(prev, id, now);
    const effects = rollbackEffects(prev?.effects ?? []);
    q.delete('dry');
    const record: JournalRecord = { kind: 'reopenSession', terminalId: req.terminalId, query: q.toString(), sessionId: id, local: outcome(effects) };
    const answer: TerminalAnswer = { status: 200, body: { effects }, source: 'local' };
    this.#stamp(req, record, rp, answer, now);
    const seq = await this.#journal(sessionKey(id), record, idem, (s) => state.commit(s, record, next));
    return { ...answer, journalSeq: seq };
  }

  async #trackEvent(req: TerminalRequest, q: Query, idem: string, rp: Replay): Promise<TerminalAnswer> {
    const body = req.body as { profileId?: string; type: string; attributes?: Record<string, unknown>; storeIntegrationId?: string };
    const profileId = body.profileId ?? '';
    const silent = (q.get('silent') ?? 'yes') !== 'no';
    const now = this.#d.clock.now();
    const answer = this.#eventAnswer(body, profileId, silent, now);
    if (q.get('dry') === 'true') return answer;
    const record: JournalRecord = { kind: 'trackEvent', terminalId: req.terminalId, query: q.toString(), profileId, body: body as Record<string, unknown> };
    this.#stamp(req, record, rp, answer, now);
    const seq = await this.#journal(profileKey(profileId), record, idem, (s) => this.#d.state.commit(s, record));
    return { ...answer, journalSeq: seq };
  }

  #eventAnswer(body: { type: string; attributes?: Record<string, unknown> }, profileId: string, silent: boolean, now: number): TerminalAnswer {
    if (silent) return { status: 204, body: undefined, source: 'local' };
    const event = {
      id: 0,
      created: new Date(now).toISOString(),
      applicationId: 0,
      profileId,
      storeIntegrationId: this.#d.storeIntegrationId,
      type: body.type,
      attributes: body.attributes ?? {},
      effects: [],
    };
    return { status: 200, body: { effects: [], createdCoupons: [], createdReferrals: [], event }, source: 'local' };
  }

  async #updateProfile(req: TerminalRequest, q: Query, idem: string, rp: Replay): Promise<TerminalAnswer> {
    const id = req.params.integrationId as string;
    const body = req.body as { attributes?: Record<string, unknown>; audiencesChanges?: { adds: number[]; deletes: number[] } };
    const now = this.#d.clock.now();
    const { state } = this.#d;
    let seq: number | undefined;
    if (q.get('dry') !== 'true') {
      const record: JournalRecord = { kind: 'updateProfile', terminalId: req.terminalId, query: q.toString(), profileId: id, body: body as Record<string, unknown> };
      // A retry is answered with the profile as it is then (a profile update applied twice changes nothing more).
      this.#stamp(req, record, rp, null, now);
      seq = await this.#journal(profileKey(id), record, idem, (s) => {
        state.commit(s, record);
        const prev = state.profile(id)?.audienceMemberships ?? [];
        const deletes = new Set(body.audiencesChanges?.deletes ?? []);
        const audiences = [...prev.filter((a) => !deletes.has(a.id)), ...(body.audiencesChanges?.adds ?? []).map((a) => ({ id: a }))];
        state.rememberProfile({ integrationId: id, audienceMemberships: audiences }, s);
      });
    }
    const profile = customerProfileJson(state.profile(id) ?? { integrationId: id, attributes: body.attributes ?? {} }, id, now);
    return {
      status: 200,
      body: { customerProfile: profile, effects: [], createdCoupons: [], createdReferrals: [] },
      source: 'local',
      ...(seq === undefined ? {} : { journalSeq: seq }),
    };
  }

  /** Reads need no journal record: they change nothing, so they carry no `X-Storegate-Journal-Seq`. */
  #inventory(req: TerminalRequest, q: Query): TerminalAnswer {
    const id = req.params.integrationId as string;
    const { state } = this.#d;
    const known = state.profile(id);
    const loyalty = this.#loyaltyOf(id);
    if (!known && Object.keys(loyalty).length === 0) {
      throw new StoregateError('SG_ERR_NOT_FOUND', `customer profile "${id}" is not known to this store`, { statusCode: 404 });
    }
    const body: Record<string, unknown> = {};
    if (q.get('profile') === 'true') body.profile = customerProfileJson(known, id, this.#d.clock.now());
    if (q.get('loyalty') === 'true') body.loyalty = { programs: loyalty };
    if (q.get('coupons') === 'true') body.coupons = [];
    if (q.get('referrals') === 'true') body.referrals = [];
    if (q.get('giveaways') === 'true') body.giveaways = [];
    if (q.get('achievements') === 'true') body.achievements = [];
    return { status: 200, body, source: 'local' };
  }

  #balances(req: TerminalRequest, q: Query): TerminalAnswer {
    const programId = Number(req.params.loyaltyProgramId);
    const id = req.params.integrationId as string;
    const b = this.#balance(programId, id);
    if (!b) throw new StoregateError('SG_ERR_NOT_FOUND', `no cached loyalty balance for "${id}" in program ${programId}`, { statusCode: 404 });
    // `?subledgerId=` filters the data to one subledger (Integration API `getLoyaltyBalances`).
    const only = q.get('subledgerId');
    const subledgerBalances: Record<string, unknown> = {};
    for (const [sub, s] of this.#subledgers(programId, id)) if (only === null || only === sub) subledgerBalances[sub] = { activePoints: s.active, pendingPoints: s.pending, spentPoints: s.spent, expiredPoints: 0, negativePoints: 0 };
    return {
      status: 200,
      body: { balance: { activePoints: b.active, pendingPoints: b.pending, spentPoints: b.spent, expiredPoints: 0, negativePoints: 0 }, subledgerBalances },
      source: 'local',
    };
  }

  /** Cached balance (of the main ledger, or a subledger) minus what this store spent offline since it was pushed. */
  #balance(programId: number, profileId: string, subledgerId?: string): { active: number; pending: number; spent: number } | undefined {
    const holder = holderKey(programId, 'p', profileId, subledgerId);
    const cached = this.#d.localData.engine().data.loyalty.balances.get(holder);
    if (!cached) return undefined;
    const spent = this.#d.state.loyalty.spentExcluding(holder, '');
    return { active: Math.max(0, cached.activePoints - spent), pending: cached.pendingPoints ?? 0, spent };
  }

  /** The cached subledger balances of a profile in a program, each as {@link #balance} gives it. */
  #subledgers(programId: number, profileId: string): [string, { active: number; pending: number; spent: number }][] {
    const subs = this.#d.localData.engine().data.loyalty.subledgers.get(holderKey(programId, 'p', profileId)) ?? [];
    const out: [string, { active: number; pending: number; spent: number }][] = [];
    for (const s of subs) {
      const b = s.subledgerId ? this.#balance(programId, profileId, s.subledgerId) : undefined;
      if (b && s.subledgerId) out.push([s.subledgerId, b]);
    }
    return out;
  }

  #loyaltyOf(profileId: string): Record<string, unknown> {
    const programs: Record<string, unknown> = {};
    for (const [pid, program] of this.#d.localData.engine().data.loyalty.programs) {
      const b = this.#balance(pid, profileId);
      if (!b) continue;
      programs[String(pid)] = {
        id: pid,
        title: program.title ?? program.name ?? String(pid),
        name: program.name ?? String(pid),
        ledger: { currentBalance: b.active, pendingBalance: b.pending, tentativeCurrentBalance: b.active, expiredBalance: 0, spentBalance: 0 },
      };
      const subs = this.#subledgers(pid, profileId);
      if (subs.length > 0) {
        (programs[String(pid)] as Record<string, unknown>).subLedgers = Object.fromEntries(subs.map(([sub, s]) => [sub, { currentBalance: s.active, pendingBalance: s.pending, tentativeCurrentBalance: s.active, expiredBalance: 0, spentBalance: 0 }]));
      }
    }
    return programs;
  }

  /**
   * Journals a record, then commits it to the local state (`commit`) and to the replay cache in the same turn
   * its append resolves; `failed` undoes what the answer applied early. Every operation goes through here, at
   * the same depth of awaits, because that is what keeps commits in seq order: the journal resolves a batch's
   * appends in seq order, and one more `await` on one path let a later record (a session update) commit before
   * an earlier one (a profile update, a return) — while the disk-backed stores must write their lines in seq
   * order (src/state/keyed-store.ts: a power cut tearing their tail must lose only records newer than the rest).
   */
  async #journal(key: string, record: JournalRecord, idem: string, commit: (seq: number) => void, failed?: () => void): Promise<number> {
    let seq: number;
    try {
      seq = (await this.#d.journal.append({ key, kind: record.kind, payload: record, id: idem })).seq;
    } catch (err) {
      failed?.();
      throw unavailable(err);
    }
    commit(seq);
    this.#remember(record, seq);
    return seq;
  }
}

function rc(body: { responseContent?: string[] }): { responseContent?: string[] } {
  return body.responseContent ? { responseContent: body.responseContent } : {};
}

/** What the terminal was told, summarised for reconciliation after the flush. */
function outcome(effects: readonly Effect[], fallback?: string): LocalOutcome {
  const acceptedCoupons: string[] = [];
  const loyaltyPoints: Record<string, number> = {};
  for (const e of effects) {
    if (e.effectType === 'acceptCoupon') acceptedCoupons.push(String(e.props.value));
    if (e.effectType === 'addLoyaltyPoints' || e.effectType === 'deductLoyaltyPoints') {
      const k = String(e.props.programId);
      const v = Number(e.props.value) * (e.effectType === 'deductLoyaltyPoints' ? -1 : 1);
      loyaltyPoints[k] = Math.round(((loyaltyPoints[k] ?? 0) + v) * 100) / 100;
    }
  }
  return { effects: [...effects], acceptedCoupons, loyaltyPoints, ...(fallback !== undefined ? { fallback } : {}) };
}

/** A journal that cannot take the record means no answer: 503 with the reason, never an unrecorded success. */
function unavailable(err: unknown): StoregateError {
  if (err instanceof StoregateError && err.statusCode === 503) return err;
  return new StoregateError('SG_ERR_JOURNAL_WRITE', `cannot record the transaction: ${(err as Error).message}`, { statusCode: 503, retryable: true, cause: err });
}
