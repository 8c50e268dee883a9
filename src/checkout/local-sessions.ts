import type { CartItem, Effect, SessionState } from '../engine/index.js';
import { StoregateError } from '../core/errors.js';
import type { UpdateSessionRecord } from './records.js';

/**
 * Customer sessions as the shop knows them while answering locally. Updates build on each other as upstream
 * does (PUT semantics: a field sent replaces, a field left out is kept, `couponCodes: []` clears), and the
 * state machine is Talon.One's: open→closed|cancelled; closed→cancelled by update, →partially_returned by a
 * return, →open by reopen; partially_returned→cancelled; cancelled is final (scripts/talon-emulator/README.md,
 * "Session state machine").
 */
export interface LocalSession {
  integrationId: string;
  created: string;
  updated: string;
  profileId: string;
  storeIntegrationId: string;
  state: SessionState;
  couponCodes: string[];
  referralCode?: string;
  loyaltyCards: string[];
  cartItems: CartItem[];
  additionalCosts: Record<string, { price: number }>;
  identifiers: string[];
  attributes: Record<string, unknown>;
  updateCount: number;
  /** Effects of the last evaluation (what the terminal was told). */
  effects: Effect[];
  /** Quantities returned per cart item position. */
  returned: Record<number, number>;
  terminalId: string;
}

/** The update a terminal sends (Talon.One `NewCustomerSessionV2`, already schema-checked). */
export interface SessionUpdate {
  profileId?: string;
  storeIntegrationId?: string;
  couponCodes?: string[];
  referralCode?: string;
  loyaltyCards?: string[];
  cartItems?: CartItem[];
  additionalCosts?: Record<string, { price: number }>;
  identifiers?: string[];
  attributes?: Record<string, unknown>;
  state?: SessionState;
}

const MERGED_FIELDS = ['profileId', 'couponCodes', 'referralCode', 'loyaltyCards', 'cartItems', 'additionalCosts', 'identifiers', 'attributes'] as const;

function transitionError(id: string, from: SessionState | 'new', to: SessionState): StoregateError {
  const why =
    to === 'partially_returned'
      ? 'state "partially_returned" is only reached through POST /v2/customer_sessions/{id}/returns on a closed session'
      : from === 'new'
        ? `a new customer session can only be created as "open" or "closed", not "${to}"`
        : from === 'cancelled'
          ? `customer session "${id}" is cancelled; a cancelled session is final`
          : from === 'partially_returned'
            ? `customer session "${id}" is partially_returned; it can only be cancelled (state "cancelled") or get more returns`
            : `customer session "${id}" is closed and cannot be modified; reopen it (PUT /v2/customer_sessions/{id}/reopen) or cancel it (state "cancelled")`;
  return new StoregateError('SG_ERR_SESSION_CLOSED', why, {
    statusCode: 400,
    details: [{ path: '/customerSession/state', message: why }],
  });
}

/** A session as it is before its first update. */
export function newSession(id: string, ctx: { now: number; terminalId: string; storeIntegrationId: string }): LocalSession {
  const at = new Date(ctx.now).toISOString();
  return {
    integrationId: id,
    created: at,
    updated: at,
    profileId: '',
    storeIntegrationId: ctx.storeIntegrationId,
    state: 'open',
    couponCodes: [],
    loyaltyCards: [],
    cartItems: [],
    additionalCosts: {},
    identifiers: [],
    attributes: {},
    updateCount: 0,
    effects: [],
    returned: {},
    terminalId: ctx.terminalId,
  };
}

/**
 * The next state of a session after an update, or a 400 when upstream would refuse it. Pure: the caller
 * decides to keep the result only once its journal record is durable.
 */
export function mergeUpdate(
  prev: LocalSession | undefined,
  id: string,
  update: SessionUpdate,
  ctx: { now: number; terminalId: string; storeIntegrationId: string },
): LocalSession {
  const from = prev?.state;
  const to = update.state ?? (from === undefined ? 'open' : from === 'closed' || from === 'partially_returned' ? from : 'open');
  if (from === undefined) {
    if (to !== 'open' && to !== 'closed') throw transitionError(id, 'new', to);
  } else if (from === 'open') {
    if (to === 'partially_returned') throw transitionError(id, from, to);
  } else if (from === 'closed' || from === 'partially_returned') {
    // Only cancellation may follow; the rest of the update is ignored, as upstream does.
    if (to !== 'cancelled' || update.state === undefined) throw transitionError(id, from, to);
  } else {
    throw transitionError(id, from, to);
  }
  const at = new Date(ctx.now).toISOString();
  const base: LocalSession = prev ? structuredClone(prev) : newSession(id, ctx);
  if (from !== 'closed' && from !== 'partially_returned') {
    const target = base as unknown as Record<string, unknown>;
    for (const f of MERGED_FIELDS) if (update[f] !== undefined) target[f] = structuredClone(update[f]);
  }
  base.state = to;
  base.updated = at;
  base.updateCount += 1;
  base.terminalId = ctx.terminalId;
  return base;
}

/** Checks a return against the session's cart (Talon.One `ReturnedCartItem`: position + quantity). */
export function applyReturn(
  prev: LocalSession | undefined,
  id: string,
  items: readonly { position?: number; quantity?: number; sku?: string }[],
  now: number,
): LocalSession {
  if (!prev) throw notFound(id);
  if (prev.state !== 'closed' && prev.state !== 'partially_returned') {
    throw new StoregateError('SG_ERR_SESSION_CLOSED', `only closed or partially returned sessions accept returns; "${id}" is ${prev.state}`, {
      statusCode: 400,
      details: [{ path: '/return/returnedCartItems', message: 'session not closed' }],
    });
  }
  const next = structuredClone(prev);
  items.forEach((r, i) => {
    const pos = r.position ?? next.cartItems.findIndex((c) => c.sku === r.sku);
    const item = next.cartItems[pos];
    const qty = r.quantity ?? 1;
    const already = next.returned[pos] ?? 0;
    if (!item || (r.sku !== undefined && item.sku !== r.sku) || qty < 1 || already + qty > item.quantity) {
      throw new StoregateError('SG_ERR_BAD_REQUEST', `returned item ${i} does not match the session's cart`, {
        statusCode: 400,
        details: [{ path: `/return/returnedCartItems/${i}`, message: 'no such cart item, or more than was bought' }],
      });
    }
    next.returned[pos] = already + qty;
  });
  next.state = 'partially_returned';
  next.updated = new Date(now).toISOString();
  return next;
}

export function applyReopen(prev: LocalSession | undefined, id: string, now: number): LocalSession {
  if (!prev) throw notFound(id);
  if (prev.state !== 'closed') {
    throw new StoregateError('SG_ERR_SESSION_CLOSED', `only closed sessions can be reopened; "${id}" is ${prev.state}`, {
      statusCode: 400,
      details: [{ path: '/customerSession/state', message: 'session not closed' }],
    });
  }
  const next = structuredClone(prev);
  next.state = 'open';
  next.updated = new Date(now).toISOString();
  return next;
}

function notFound(id: string): StoregateError {
  return new StoregateError('SG_ERR_NOT_FOUND', `customer session "${id}" is not known to this store`, { statusCode: 404 });
}

/** The merged session as Talon.One's `NewCustomerSessionV2`, the body the flusher replays upstream. */
export function toUpstreamSession(s: LocalSession): Record<string, unknown> {
  const out: Record<string, unknown> = {
    profileId: s.profileId,
    storeIntegrationId: s.storeIntegrationId,
    state: s.state,
    couponCodes: s.couponCodes,
    loyaltyCards: s.loyaltyCards,
    cartItems: s.cartItems,
    additionalCosts: s.additionalCosts,
    identifiers: s.identifiers,
    attributes: s.attributes,
  };
  if (s.referralCode !== undefined) out.referralCode = s.referralCode;
  return out;
}

/** Rebuilds the local session a journal record describes (on restart). */
export function sessionFromRecord(r: UpdateSessionRecord): LocalSession {
  const c = r.body.customerSession as unknown as SessionUpdate & { storeIntegrationId: string };
  return {
    integrationId: r.sessionId,
    created: r.meta.created,
    updated: r.meta.updated,
    profileId: c.profileId ?? '',
    storeIntegrationId: c.storeIntegrationId,
    state: r.state,
    couponCodes: c.couponCodes ?? [],
    ...(c.referralCode !== undefined ? { referralCode: c.referralCode } : {}),
    loyaltyCards: c.loyaltyCards ?? [],
    cartItems: c.cartItems ?? [],
    additionalCosts: c.additionalCosts ?? {},
    identifiers: c.identifiers ?? [],
    attributes: c.attributes ?? {},
    updateCount: r.meta.updateCount,
    effects: r.local.effects,
    returned: {},
    terminalId: r.terminalId,
  };
}
