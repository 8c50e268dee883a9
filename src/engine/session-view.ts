import type { ItemView } from './context.js';
import { StoregateError } from '../core/errors.js';
import { formatCount } from '../core/count.js';
import { EvalError } from './context.js';
import { fromMinor, toMinor, type Currency } from './money.js';
import type { Catalog } from './catalog.js';
import type { PriceChoice, PriceBook } from './pricebook.js';
import type { ProfileInput, SessionInput } from './types.js';

export const MAX_CART_ITEMS = 1000;
export const MAX_QUANTITY_SUM = 10_000;

export interface SessionView {
  items: ItemView[];
  /** price-book answers by position (undefined when the SKU is not in the book, or is in it without effects) */
  answers: (PriceChoice | undefined)[];
  /** minor units */
  lineTotals: number[];
  cartItemTotal: number;
  additionalCostTotal: number;
  bind: Record<string, unknown>;
}

function attrs(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/**
 * Builds the cart lines (prices from the request, else from the price book, else from the catalog) and the
 * `$Session`, `$Profile`, `$Store`, `$Application` bindings. Totals are integer minor units. A line whose SKU is
 * in the catalog gets the attributes it lacks (and its product name) from the catalog item, as Talon.One
 * completes cart items during evaluation; what the line sends itself wins.
 */
export function buildSessionView(args: {
  customerSessionId: string;
  session: SessionInput;
  profile: ProfileInput | undefined;
  store: { id: number | undefined; integrationId: string; name?: string; attributes: Record<string, unknown> };
  app: { attributes?: Record<string, unknown>; currency?: string; timezone?: string };
  prices: PriceBook;
  /** The cart item catalog (absent or empty: lines are evaluated as sent). */
  catalog?: Catalog | undefined;
  /** Some rule reads item attributes or product names: complete them (else the catalog only gives prices). */
  completeItems?: boolean;
  audiences: ReadonlySet<number>;
  now: number;
  cur: Currency;
}): SessionView {
  const { session, cur } = args;
  const cart = session.cartItems ?? [];
  if (cart.length > MAX_CART_ITEMS) {
    const why = `a local answer takes at most ${formatCount(MAX_CART_ITEMS)} cart lines; this session has ${formatCount(cart.length)}`;
    throw new StoregateError('SG_ERR_CART_TOO_LARGE', why, { statusCode: 400, details: [{ path: '/customerSession/cartItems', message: why }] });
  }
  let qsum = 0;
  const items: ItemView[] = [];
  const answers: (PriceChoice | undefined)[] = [];
  const lineTotals: number[] = [];
  let cartItemTotal = 0;
  let additionalCostTotal = 0;
  // The SKUs' index slots in one pass first (their cache misses overlap there; see `PriceBook.locate`).
  const book = args.prices;
  const slots = book.size > 0 ? book.locate(cart) : undefined;
  const catalog = args.catalog !== undefined && args.catalog.size > 0 ? args.catalog : undefined;
  const known = args.completeItems === true ? catalog?.locate(cart) : undefined;
  for (let i = 0; i < cart.length; i++) {
    const ci = cart[i] as (typeof cart)[number];
    if (ci === undefined && !(i in cart)) continue; // a hole (as `forEach` skips it)
    const q = ci.quantity;
    if (!Number.isInteger(q) || q < 1) throw new EvalError(`cartItems[${i}].quantity must be a positive integer`);
    qsum += q;
    // A SKU without effects (most of a book) is answered by its price alone: no answer object.
    const slot = slots ? (slots[i] as number) : -1;
    const plain = slots ? book.plainPriceAt(slot) : Number.NaN;
    const ans = slots && plain !== plain ? book.selectAt(slot, ci.sku, args.now, args.audiences, cur) : undefined;
    answers.push(ans);
    const k = known ? (known[i] as number) : -1;
    const price = typeof ci.price === 'number' ? ci.price : plain === plain ? plain : ans ? ans.price : catalog ? catalogPrice(catalog, known ? k : typeof ci.sku === 'string' ? catalog.find(ci.sku) : -1) : 0;
    const unit = toMinor(price, cur);
    const line = unit * q;
    lineTotals.push(line);
    cartItemTotal += line;
    if (ci.additionalCosts) for (const ac of Object.values(ci.additionalCosts)) additionalCostTotal += toMinor(ac.price, cur) * q;
    items.push({
      Sku: ci.sku, SKU: ci.sku, Name: ci.name, Price: fromMinor(unit, cur), Quantity: q, Category: ci.category, Position: i,
      Attributes: k < 0 ? attrs(ci.attributes) : ci.attributes === undefined || ci.attributes === null ? (catalog as Catalog).attributesOf(k) : (catalog as Catalog).complete(k, attrs(ci.attributes)), Weight: ci.weight, Height: ci.height, Width: ci.width, Length: ci.length,
      ProductName: ci.product?.name ?? (k >= 0 ? (catalog as Catalog).productName(k) : undefined), _unit: unit,
    });
  }
  if (qsum > MAX_QUANTITY_SUM) throw new EvalError(`sum of quantities over ${MAX_QUANTITY_SUM}`);
  for (const ac of Object.values(session.additionalCosts ?? {})) additionalCostTotal += toMinor(ac.price, cur);
  const p = args.profile;
  const bind: Record<string, unknown> = {
    Session: {
      IntegrationId: args.customerSessionId,
      ProfileId: session.profileId ?? '',
      Total: fromMinor(cartItemTotal + additionalCostTotal, cur),
      CartItemTotal: fromMinor(cartItemTotal, cur),
      CartTotal: fromMinor(cartItemTotal, cur),
      AdditionalCostTotal: fromMinor(additionalCostTotal, cur),
      ItemCount: qsum,
      CartItems: items,
      Attributes: attrs(session.attributes),
      State: session.state ?? 'open',
      CouponCodes: session.couponCodes ?? [],
      LoyaltyCards: session.loyaltyCards ?? [],
      Identifiers: session.identifiers ?? [],
      StoreIntegrationId: args.store.integrationId,
    },
    Profile: p
      ? { IntegrationId: p.integrationId, Attributes: attrs(p.attributes), AudienceIds: [...args.audiences] }
      : session.profileId ? { IntegrationId: session.profileId, Attributes: {}, AudienceIds: [] } : undefined,
    Store: { Id: args.store.id, IntegrationId: args.store.integrationId, Name: args.store.name, Attributes: args.store.attributes },
    Application: { Attributes: attrs(args.app.attributes), Currency: cur.code, Timezone: args.app.timezone ?? 'UTC' },
  };
  return { items, answers, lineTotals, cartItemTotal, additionalCostTotal, bind };
}

/** A catalog item's price, or 0 when it has none or is not there (the line's price is then unknown, as without a catalog). */
function catalogPrice(c: Catalog, k: number): number {
  if (k < 0) return 0;
  const p = c.price(k);
  return p === p ? p : 0;
}
