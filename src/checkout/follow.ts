import type { Clock } from '../platform/clock.js';
import type { TerminalRequest } from './checkout.js';
import { newSession, type LocalSession, type SessionUpdate } from './local-sessions.js';
import type { LocalState } from './local-state.js';

const FIELDS = ['profileId', 'couponCodes', 'referralCode', 'loyaltyCards', 'cartItems', 'additionalCosts', 'identifiers', 'attributes'] as const;

/**
 * In connected mode, keeps a light copy of each session upstream accepted, so that if the link drops
 * mid-basket the next update is answered locally on top of the whole cart, not just the delta. The request
 * body is already serialised and never touched again, so its objects are kept by reference (no deep copy on
 * the hot path); upstream is the authority, so no state-machine check is made here.
 */
export function followUpstreamSession(state: LocalState, req: TerminalRequest, status: number, clock: Clock, storeIntegrationId: string): void {
  if (status < 200 || status >= 300 || /(^|&)dry=true(&|$)/.test(req.query)) return;
  const id = req.params.customerSessionId as string;
  const update = (req.body as { customerSession?: SessionUpdate } | undefined)?.customerSession;
  if (!update) return;
  const prev = state.session(id);
  const now = clock.now();
  const at = new Date(now).toISOString();
  const next: LocalSession = prev ? { ...prev } : newSession(id, { now, terminalId: req.terminalId, storeIntegrationId });
  const target = next as unknown as Record<string, unknown>;
  for (const f of FIELDS) if (update[f] !== undefined) target[f] = update[f];
  if (update.state) next.state = update.state;
  next.updated = at;
  next.updateCount += 1;
  next.terminalId = req.terminalId;
  if (state.sessions.has(id)) state.sessions.set(id, next);
  else state.follow(next);
}
