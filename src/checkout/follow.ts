import type { Clock } from '../platform/clock.js';
import type { TerminalRequest } from './checkout.js';
import { mergeUpdate, type SessionUpdate } from './local-sessions.js';
import type { LocalState } from './local-state.js';

/**
 * In connected mode, keeps the local copy of a session in step with what upstream accepted, so that if the
 * link drops mid-basket the next update is answered locally on top of the whole cart, not just the delta.
 * Runs after the answer is sent (setImmediate), off the terminal's latency.
 */
export function followUpstreamSession(state: LocalState, req: TerminalRequest, status: number, clock: Clock, storeIntegrationId: string): void {
  if (status < 200 || status >= 300 || /(^|&)dry=true(&|$)/.test(req.query)) return;
  const id = req.params.customerSessionId as string;
  const update = (req.body as { customerSession?: SessionUpdate } | undefined)?.customerSession;
  if (!update) return;
  setImmediate(() => {
    try {
      state.sessions.set(id, mergeUpdate(state.sessions.get(id), id, update, { now: clock.now(), terminalId: req.terminalId, storeIntegrationId }));
      if (update.profileId && update.profileId !== '' && !state.profiles.has(update.profileId)) state.rememberProfile({ integrationId: update.profileId });
    } catch {
      // Upstream accepted a transition we cannot replay (e.g. a session created before this gateway started): forget it.
      state.sessions.delete(id);
    }
  });
}
