import type { Clock } from '../platform/clock.js';
import type { TerminalRequest } from './checkout.js';
import type { SessionState } from '../engine/index.js';
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
): void {
  if (status < 200 || status >= 300 || /(^|&)dry=true(&|$)/.test(req.query)) return;
  const id = req.params.customerSessionId as string;
  const now = clock.now();
  const local = state.sessions.get(id);
  if (local) {
    // Known from earlier local answers (all delivered since): keep that record current as a whole.
    const next = applyFields({ ...local }, fields);
    stamp(next, now, req.terminalId);
    state.sessions.set(id, next);
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
