import type { Clock } from '../platform/clock.js';
import type { TerminalRequest } from './checkout.js';
import type { LedgerOp, SessionState } from '../engine/index.js';
import { newSession, type LocalSession } from './local-sessions.js';
import type { LocalState } from './local-state.js';

/** The `customerSession` fields a PUT replaces when it names them (Talon.One's update semantics). */
const FIELDS = ['profileId', 'couponCodes', 'referralCode', 'loyaltyCards', 'cartItems', 'additionalCosts', 'identifiers', 'attributes', 'state'];

/**
 * A session upstream answered, as the shop follows it: the last JSON text of each `customerSession` field a
 * terminal sent. Kept as text rather than objects: a followed cart lives for hundreds of requests, and as
 * objects every update would move a whole parsed cart into V8's old generation for the GC to trace (that was
 * ~10% of the gateway's CPU and ~8 MB of its RSS under load); flat strings cost the GC nothing to keep.
 */
export interface FollowedSession {
  readonly integrationId: string;
  readonly storeIntegrationId: string;
  readonly created: number;
  updated: number;
  updateCount: number;
  terminalId: string;
  readonly fields: Record<string, string>;
}

/**
 * Serialises an update body, field by field, into exactly the text `JSON.stringify(body)` gives, and hands back
 * each `customerSession` field's own text for following. Bodies here are parsed JSON (no `undefined`, no
 * `toJSON`), so the concatenation matches JSON.stringify byte for byte.
 */
export function stringifySessionUpdate(body: Record<string, unknown>): { json: string; fields: [string, string][] } {
  const fields: [string, string][] = [];
  let out = '';
  for (const key of Object.keys(body)) {
    const value = body[key];
    let text: string;
    if (key === 'customerSession' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const session = value as Record<string, unknown>;
      let inner = '';
      for (const f of Object.keys(session)) {
        const t = JSON.stringify(session[f]) as string | undefined;
        if (t === undefined) continue;
        inner += `${inner === '' ? '' : ','}${JSON.stringify(f)}:${t}`;
        fields.push([f, t]);
      }
      text = `{${inner}}`;
    } else {
      const t = JSON.stringify(value) as string | undefined;
      if (t === undefined) continue;
      text = t;
    }
    out += `${out === '' ? '' : ','}${JSON.stringify(key)}:${text}`;
  }
  return { json: `{${out}}`, fields };
}

/**
 * In connected mode, follows each session upstream accepted, so that if the link drops mid-basket the next
 * update is answered locally on top of the whole cart, not just the delta. Upstream is the authority, so no
 * state-machine check is made here.
 */
export function followUpstreamSession(
  state: LocalState,
  req: TerminalRequest,
  status: number,
  fields: readonly [string, string][],
  clock: Clock,
  storeIntegrationId: string,
  answer?: Buffer | object,
  unlimited: (code: string) => boolean = () => false,
): void {
  if (status < 200 || status >= 300 || /(^|&)dry=true(&|$)/.test(req.query)) return;
  const id = req.params.customerSessionId as string;
  const now = clock.now();
  followCoupons(state, id, req.terminalId, fields, answer, now, unlimited);
  const local = state.localSession(id);
  if (local) {
    // Known from earlier local answers (all delivered since): keep that record current as a whole.
    const next = applyFields({ ...local }, fields);
    stamp(next, now, req.terminalId);
    state.replaceSession(next);
    return;
  }
  const prev = state.followed.get(id);
  const f: FollowedSession = prev ?? { integrationId: id, storeIntegrationId, created: now, updated: now, updateCount: 0, terminalId: req.terminalId, fields: {} };
  for (const [name, text] of fields) if (FIELDS.includes(name)) f.fields[name] = text;
  f.updated = now;
  f.updateCount += 1;
  f.terminalId = req.terminalId;
  state.follow(f);
}

/**
 * Codes Talon.One accepted for a session the shop only follows still count in the store ledger: held while the
 * session is open, used once it closes, released when dropped or cancelled. Otherwise, if the link drops, another
 * terminal answered locally could accept the same single-use code. The upstream answer is parsed only when the
 * session sends codes or holds some, so coupon-free baskets cost nothing here.
 */
function followCoupons(state: LocalState, id: string, terminalId: string, fields: readonly [string, string][], answer: Buffer | object | undefined, at: number, unlimited: (code: string) => boolean): void {
  const held = state.ledger.heldBy(id);
  const sent = fields.find(([name]) => name === 'couponCodes')?.[1];
  if (held.length === 0 && (sent === undefined || sent === '[]')) return;
  let effects: { effectType?: string; props?: { value?: unknown } }[] = [];
  try {
    const doc = (Buffer.isBuffer(answer) ? JSON.parse(answer.toString('utf8')) : answer) as { effects?: typeof effects } | undefined;
    effects = Array.isArray(doc?.effects) ? doc.effects : [];
  } catch {
    return; // not a JSON answer: nothing to learn
  }
  const accepted = new Set(effects.filter((e) => e.effectType === 'acceptCoupon' && typeof e.props?.value === 'string').map((e) => e.props?.value as string));
  const stateText = fields.find(([name]) => name === 'state')?.[1];
  const entry = { sessionId: id, terminalId, at };
  const ops: LedgerOp[] = [];
  if (stateText === '"cancelled"') {
    for (const code of held) ops.push({ op: 'release', code, ...entry });
  } else {
    for (const code of held) if (!accepted.has(code)) ops.push({ op: 'release', code, ...entry });
    const used = new Set(state.ledger.usedBy(id));
    for (const code of accepted) {
      // An unlimited code limits nothing (the local engine keeps no uses of one either: src/engine/evaluate.ts).
      if (used.has(code) || unlimited(code)) continue;
      if (stateText === '"closed"') {
        const hold = state.ledger.holdOf(code, id);
        // Talon.One's own answer: the use is confirmed at once (a coupons push will count it).
        ops.push({ op: 'redeem', code, ...entry, confirmedAt: at, ...(hold ? { fromHold: hold } : {}) });
      } else if (!held.includes(code)) ops.push({ op: 'hold', code, ...entry });
    }
  }
  if (ops.length === 0) return;
  state.ledger.apply(ops);
  state.ledgerChanged();
}

/** The followed session as a full local session (parsed on demand: only a fallback needs it). */
export function materialize(f: FollowedSession): LocalSession {
  const s = newSession(f.integrationId, { now: f.created, terminalId: f.terminalId, storeIntegrationId: f.storeIntegrationId });
  applyFields(s, Object.entries(f.fields));
  s.updated = new Date(f.updated).toISOString();
  s.updateCount = f.updateCount;
  return s;
}

function applyFields(s: LocalSession, fields: Iterable<readonly [string, string]>): LocalSession {
  const target = s as unknown as Record<string, unknown>;
  for (const [name, text] of fields) {
    if (!FIELDS.includes(name)) continue;
    if (name === 'state') s.state = JSON.parse(text) as SessionState;
    else target[name] = JSON.parse(text);
  }
  return s;
}

function stamp(s: LocalSession, now: number, terminalId: string): void {
  s.updated = new Date(now).toISOString();
  s.updateCount += 1;
  s.terminalId = terminalId;
}
