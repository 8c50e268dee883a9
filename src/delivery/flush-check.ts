/**
 * The flusher's look at a session's upstream state (`GET /v2/customer_sessions/:id`), used before
 * replaying a record older than 23 h and after a 400 to an update that closes a session (Talon.One answers
 * 400 to a replayed close), and the rules that decide whether a record is already applied upstream.
 */
import type { JournalRecord } from '../checkout/records.js';
import type { Effect } from '../engine/index.js';
import { isRetryableStatus } from '../platform/backoff.js';
import { type UpstreamClient, UpstreamUnavailableError } from '../upstream/client.js';

/** Upstream states in which a session can no longer take a plain update. */
export const FINAL_STATES: ReadonlySet<string> = new Set(['closed', 'partially_returned', 'cancelled']);

export type UpstreamSession =
  | { found: true; state: string; effects: Effect[]; cartItems: { returnedQuantity?: number }[] }
  | { found: false }
  /** The check could not be made now (network, 5xx, 429, 401): try again later. */
  | { retry: string };

/** Reads a session upstream (one attempt; the flusher retries on its own schedule). */
export async function getUpstreamSession(upstream: UpstreamClient, sessionId: string): Promise<UpstreamSession> {
  let res;
  try {
    res = await upstream.request({ op: 'getSession', method: 'GET', path: `/v2/customer_sessions/${encodeURIComponent(sessionId)}`, attempts: 1 });
  } catch (err) {
    if (err instanceof UpstreamUnavailableError) return { retry: err.kind };
    throw err;
  }
  if (res.status === 200) {
    try {
      const body = JSON.parse(res.body.toString('utf8')) as { customerSession?: { state?: unknown; cartItems?: unknown }; effects?: unknown };
      const s = body.customerSession;
      return {
        found: true,
        state: typeof s?.state === 'string' ? s.state : 'unknown',
        effects: Array.isArray(body.effects) ? (body.effects as Effect[]) : [],
        cartItems: Array.isArray(s?.cartItems) ? (s.cartItems as { returnedQuantity?: number }[]) : [],
      };
    } catch {
      return { retry: 'bad_json' };
    }
  }
  if (isRetryableStatus(res.status) || res.status === 408) return { retry: `http_${res.status >= 500 ? '5xx' : res.status}` };
  if (res.status === 401 || res.status === 403) return { retry: 'auth' };
  // 404 (unknown upstream) or another 4xx: nothing there to compare with; the record is sent.
  return { found: false };
}

/**
 * Whether `rec` is already reflected by the upstream session (so replaying it is unnecessary):
 * - `updateSession` to `open`/`closed`: upstream is `closed`, `partially_returned` or `cancelled`
 *   (scripts/talon-emulator/README.md, "Session state machine"). For a closing record that is the close
 *   itself having been delivered (its acknowledgement lost to a crash or timeout); for an `open` record it
 *   is superseded by a later close.
 * - `updateSession` to `cancelled`: only an upstream `cancelled` (a closed session still needs the cancel).
 * - `returnItems`: upstream `cancelled` (a return is moot), or `partially_returned` with at least this
 *   record's quantity already returned at every position it names (heuristic: an earlier return of the
 *   same lines also satisfies it; an upstream `closed` means the return is missing and it is sent).
 * - `reopenSession`: upstream `open` (later records of the session are not sent yet, so it is this reopen).
 * - Profile records are not checked.
 */
export function alreadyApplied(rec: JournalRecord, s: UpstreamSession): boolean {
  if (!('found' in s) || !s.found) return false;
  switch (rec.kind) {
    case 'updateSession':
      if (rec.state === 'open' || rec.state === 'closed') return FINAL_STATES.has(s.state);
      if (rec.state === 'cancelled') return s.state === 'cancelled';
      return false;
    case 'returnItems':
      if (s.state === 'cancelled') return true;
      if (s.state !== 'partially_returned') return false;
      return rec.body.return.returnedCartItems.every((it) => {
        if (typeof it.position !== 'number') return false;
        const line = s.cartItems[it.position];
        return line !== undefined && (line.returnedQuantity ?? 0) >= (it.quantity ?? 1);
      });
    case 'reopenSession':
      return s.state === 'open';
    default:
      return false;
  }
}

export function sessionIdOf(rec: JournalRecord): string | undefined {
  return rec.kind === 'updateSession' || rec.kind === 'returnItems' || rec.kind === 'reopenSession' ? rec.sessionId : undefined;
}
