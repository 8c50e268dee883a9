/**
 * The sanity rules of checked answers (README "Checked answers"), beside the schema: every effect type is one
 * Talon.One documents, no discount is above what it applies to, every effect names a cart item that exists and
 * a campaign this shop knows. Pure: the checker (checker.ts) counts, logs and alerts.
 */

export type ProblemRule = 'json' | 'schema' | 'effectType' | 'discount' | 'position' | 'unknownCampaign';

export interface Problem {
  rule: ProblemRule;
  /** JSON pointer into the answer. */
  path: string;
  message: string;
}

/** Half a cent: Talon.One sends unrounded per-item values (9.999 for 10% of 99.99). */
const EPS = 0.005;

interface Line {
  /** price × quantity, or undefined when the line has no price (a catalog item priced upstream). */
  value: number | undefined;
}

interface Cart {
  lines: Line[] | undefined;
  /** Cart items and additional costs before discounts, when known. */
  total: number | undefined;
  cartItemTotal: number | undefined;
  additionalCostTotal: number | undefined;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function costs(v: unknown): number | undefined {
  if (v === undefined) return 0;
  if (!isObject(v)) return undefined;
  let sum = 0;
  for (const c of Object.values(v)) {
    const p = isObject(c) ? num(c.price) : undefined;
    if (p === undefined) return undefined;
    sum += p;
  }
  return sum;
}

function linesOf(items: unknown): Line[] | undefined {
  if (!Array.isArray(items)) return undefined;
  return items.map((it) => {
    if (!isObject(it)) return { value: undefined };
    const price = num(it.price);
    const qty = num(it.quantity);
    return { value: price !== undefined && qty !== undefined ? price * qty : undefined };
  });
}

/**
 * What the discounts apply to: positions index the cart the terminal sent (Talon.One: "position: index in
 * cartItems"); an update that sent no cart (Talon.One keeps the previous one) is measured on the session the
 * answer carries. Totals come from the answer's session when it has them.
 */
function cartOf(answer: Record<string, unknown>, request: unknown): Cart {
  const sentSession = isObject(request) && isObject(request.customerSession) ? request.customerSession : undefined;
  const answered = isObject(answer.customerSession) ? answer.customerSession : undefined;
  const lines = linesOf(sentSession?.cartItems) ?? linesOf(answered?.cartItems);
  let cartItemTotal = num(answered?.cartItemTotal);
  let additionalCostTotal = num(answered?.additionalCostTotal);
  let total = num(answered?.total);
  if (total === undefined && lines !== undefined && lines.every((l) => l.value !== undefined)) {
    cartItemTotal ??= lines.reduce((a, l) => a + (l.value as number), 0);
    const extra = costs(sentSession?.additionalCosts ?? answered?.additionalCosts);
    if (extra !== undefined) {
      additionalCostTotal ??= extra;
      total = cartItemTotal + extra;
    }
  }
  return { lines, total, cartItemTotal, additionalCostTotal };
}

export interface RuleContext {
  /** The effect types Talon.One documents. */
  knownEffectType: (type: string) => boolean;
  /** A campaign of the pushed rules (effects of campaign -1 belong to none and always pass). */
  knownCampaign: (id: number) => boolean;
}

/** The rule problems of one parsed answer (its schema was checked before: fields have their types). */
export function checkRules(answer: Record<string, unknown>, request: unknown, ctx: RuleContext): Problem[] {
  const effects = answer.effects;
  if (!Array.isArray(effects) || effects.length === 0) return [];
  const problems: Problem[] = [];
  const cart = cartOf(answer, request);
  const perLine = new Map<number, number>();
  let discounted = 0;
  effects.forEach((e: unknown, i) => {
    if (!isObject(e)) return;
    const at = `/effects/${i}`;
    const type = typeof e.effectType === 'string' ? e.effectType : '';
    if (!ctx.knownEffectType(type)) problems.push({ rule: 'effectType', path: `${at}/effectType`, message: `unknown effect type ${JSON.stringify(type)}` });
    const campaignId = num(e.campaignId);
    if (campaignId !== undefined && campaignId !== -1 && !ctx.knownCampaign(campaignId)) {
      problems.push({ rule: 'unknownCampaign', path: `${at}/campaignId`, message: `campaign ${campaignId} is not in this shop's rules` });
    }
    const props = isObject(e.props) ? e.props : {};
    const value = num(props.value);
    if (value === undefined || value <= 0) return;
    switch (type) {
      case 'setDiscount': {
        const scope = props.scope;
        const bound = scope === 'cartItems' ? cart.cartItemTotal : scope === 'additionalCosts' ? cart.additionalCostTotal : cart.total;
        if (bound !== undefined && value > bound + EPS) {
          problems.push({ rule: 'discount', path: `${at}/props/value`, message: `setDiscount of ${value} is above the ${scope === 'cartItems' ? 'cart items total' : scope === 'additionalCosts' ? 'additional costs total' : 'session total'} ${round(bound)}` });
        }
        discounted += value;
        return;
      }
      case 'setDiscountPerItem': {
        const pos = num(props.position);
        discounted += value;
        if (pos === undefined || cart.lines === undefined) return;
        const line = Number.isInteger(pos) && pos >= 0 ? cart.lines[pos] : undefined;
        if (line === undefined) {
          problems.push({ rule: 'position', path: `${at}/props/position`, message: `setDiscountPerItem names cart item ${pos}, but the cart has ${cart.lines.length}` });
          return;
        }
        // A discount of an item's additional costs is bounded by the session total only.
        if (props.scope === 'additionalCosts' || line.value === undefined) return;
        const sum = (perLine.get(pos) ?? 0) + value;
        perLine.set(pos, sum);
        if (sum > line.value + EPS) problems.push({ rule: 'discount', path: `${at}/props/value`, message: `discounts of cart item ${pos} add up to ${round(sum)}, above its value ${round(line.value)}` });
        return;
      }
      case 'setDiscountPerAdditionalCost':
      case 'setDiscountPerAdditionalCostPerItem':
        discounted += value;
        return;
      default:
    }
  });
  // The sum, when no single discount was found too big already (one problem, not two, for one bad effect).
  if (cart.total !== undefined && discounted > cart.total + EPS && !problems.some((p) => p.rule === 'discount')) {
    problems.push({ rule: 'discount', path: '/effects', message: `discounts add up to ${round(discounted)}, above the session total ${round(cart.total)}` });
  }
  return problems;
}

const round = (v: number): number => Math.round(v * 10_000) / 10_000;
