/**
 * Coalescing of one key's pending journal records into one upstream send (README "Durability and the journal").
 *
 * Rule: starting at the key's head record, a run of `updateSession` records whose `state` is `open`,
 * followed by one more `updateSession` (`open` or `closed`), collapses into one send of the *last*
 * record's body. Each `updateSession` record holds the full merged session (see `src/checkout/records.ts`),
 * so sending only the last one gives upstream the same session as sending each in turn; the final
 * (closed) state is what counts. A run never crosses:
 * - a `returnItems` / `reopenSession` / `trackEvent` / `updateProfile` record (each is sent alone),
 * - a `cancelled` (or `partially_returned`) state (sent alone: a cancel needs the session to exist upstream),
 * - a closing record: the first `closed` ends the run (it is its last member),
 * - a record that replaces a live call (`replacesLiveCall`): it ends the run too, so it is sent under its own id,
 *   the Idempotency-Key that call carried; if the call still reaches Talon.One, one of the two is a duplicate,
 * - a change of query string (records sent with different query parameters are not merged).
 */
import type { JournalRecord } from '../checkout/records.js';
import type { JournalEntry } from '../journal/index.js';

/** Upper bound on records merged into one send (keeps one delivery batch and its cursor write small). */
export const MAX_GROUP = 500;

/**
 * The records to send together from the head of one key's queue (in seq order). Always at least one
 * record when `queue` is non-empty; the send uses the last record's body and id.
 */
export function coalesceHead(queue: readonly JournalEntry[], max = MAX_GROUP): JournalEntry[] {
  const head = queue[0];
  if (!head) return [];
  const group: JournalEntry[] = [head];
  const first = head.payload as JournalRecord;
  if (first.kind !== 'updateSession' || first.state !== 'open' || first.replacesLiveCall) return group;
  for (let i = 1; i < queue.length && group.length < max; i++) {
    const e = queue[i] as JournalEntry;
    const r = e.payload as JournalRecord;
    if (r.kind !== 'updateSession' || r.sessionId !== first.sessionId || r.query !== first.query) break;
    if (r.state !== 'open' && r.state !== 'closed') break;
    group.push(e);
    if (r.state === 'closed' || r.replacesLiveCall) break;
  }
  return group;
}
