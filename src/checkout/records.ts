import type { Effect, SessionState } from '../engine/index.js';

/**
 * What a local answer writes to the journal before the terminal sees it. Each record is self-contained:
 * the flusher replays it upstream without any other state, and on restart the local session state, coupon
 * ledger and loyalty limits are rebuilt from it. The journal entry's `id` is the upstream `Idempotency-Key`;
 * its `key` orders delivery (`session:<id>` for session operations, `profile:<id>` for events and profiles).
 */
export type RecordKind = 'updateSession' | 'returnItems' | 'reopenSession' | 'trackEvent' | 'updateProfile';

interface RecordBase {
  kind: RecordKind;
  terminalId: string;
  /** Query string to send upstream (without `?`); `dry` is never journaled. */
  query: string;
  /**
   * The answer given, when the terminal sent its own `Idempotency-Key` (src/checkout/replay-cache.ts): a retry
   * with that key gets this answer again. `status: 0` = answer from the current state (profile updates).
   */
  replay?: { key: string; hash: string; status: number; body: string; at: number };
  /**
   * This answer replaces a live call to Talon.One (connected mode) that failed or missed its deadline. That call
   * carried this record's id as its Idempotency-Key and may still reach Talon.One, so the record is delivered
   * under its own id, never merged into a later record's send (src/delivery/coalesce.ts): whichever of the two
   * arrives second is then a duplicate to Talon.One.
   */
  replacesLiveCall?: true;
}

/** What the shop told the terminal, for reconciliation after the upstream answers. */
export interface LocalOutcome {
  effects: Effect[];
  /** Codes the local answer accepted (acceptCoupon). */
  acceptedCoupons: string[];
  /** Loyalty points the local answer added or deducted, by program id (deductions negative). */
  loyaltyPoints: Record<string, number>;
  /** Fallback promotions were given, and why (`rulesEmpty`, `rulesStale`, `notOfflineCapable`; README "Fallback promotions"). */
  fallback?: string;
}

export interface UpdateSessionRecord extends RecordBase {
  kind: 'updateSession';
  sessionId: string;
  /**
   * The full merged session after this update (Talon.One `NewCustomerSessionV2`): replaying the last record
   * of a run gives upstream the same session as replaying each one, which is what lets the flusher coalesce.
   */
  body: { customerSession: Record<string, unknown>; responseContent?: string[] };
  state: SessionState;
  local: LocalOutcome;
  /** The rest of the local session (besides `body.customerSession`), to rebuild it on restart. */
  meta: { created: string; updated: string; updateCount: number };
  /** Coupon ledger and loyalty ops applied with this answer (rebuilt on restart). */
  ledgerOps: unknown[];
  loyaltyOps: unknown[];
  /** Campaign budget spending set by this answer (src/engine/budgets.ts; absent: none, and in older records). */
  budgetOps?: unknown[];
}

export interface ReturnItemsRecord extends RecordBase {
  kind: 'returnItems';
  sessionId: string;
  body: { return: { returnedCartItems: { position?: number; quantity?: number; sku?: string }[] }; responseContent?: string[] };
  local: LocalOutcome;
}

export interface ReopenSessionRecord extends RecordBase {
  kind: 'reopenSession';
  sessionId: string;
  local: LocalOutcome;
}

export interface TrackEventRecord extends RecordBase {
  kind: 'trackEvent';
  profileId: string;
  body: Record<string, unknown>;
}

export interface UpdateProfileRecord extends RecordBase {
  kind: 'updateProfile';
  profileId: string;
  body: Record<string, unknown>;
}

export type JournalRecord = UpdateSessionRecord | ReturnItemsRecord | ReopenSessionRecord | TrackEventRecord | UpdateProfileRecord;

export function sessionKey(id: string): string {
  return `session:${id}`;
}

export function profileKey(id: string): string {
  return `profile:${id}`;
}

/** The upstream route of a record: method and path (parameters encoded) plus its query string. */
export function upstreamRoute(r: JournalRecord): { op: RecordKind; method: 'PUT' | 'POST'; path: string } {
  const q = r.query ? `?${r.query}` : '';
  switch (r.kind) {
    case 'updateSession':
      return { op: r.kind, method: 'PUT', path: `/v2/customer_sessions/${encodeURIComponent(r.sessionId)}${q}` };
    case 'returnItems':
      return { op: r.kind, method: 'POST', path: `/v2/customer_sessions/${encodeURIComponent(r.sessionId)}/returns${q}` };
    case 'reopenSession':
      return { op: r.kind, method: 'PUT', path: `/v2/customer_sessions/${encodeURIComponent(r.sessionId)}/reopen${q}` };
    case 'trackEvent':
      return { op: r.kind, method: 'POST', path: `/v2/events${q}` };
    case 'updateProfile':
      return { op: r.kind, method: 'PUT', path: `/v2/customer_profiles/${encodeURIComponent(r.profileId)}${q}` };
  }
}

/** The body to send upstream for a record (reopen has none). */
export function upstreamBody(r: JournalRecord): string | undefined {
  return r.kind === 'reopenSession' ? undefined : JSON.stringify(r.body);
}
