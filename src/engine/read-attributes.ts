import type { CompiledCampaign, CompiledRules } from './compile-rules.js';
import type { CartItemFilterDef } from './types.js';

/**
 * Which session and cart-item attributes the campaigns of this shop may read (README "Lean payloads"): what
 * `upstream.trimAttributes` must never drop. The analysis is static and conservative: it looks at the rules as
 * pushed, not at what one evaluation happened to touch, and whenever it cannot tell which attributes a campaign
 * reads it gives up on that entity altogether (`all`), so that nothing is trimmed for it.
 *
 * Every attribute read in the Rule Builder's formats is a static path (the compiler refuses dynamic ones):
 * `"$Session.Attributes.<name>"` and `"$Item.Attributes.<name>"` in block fields, selector steps and `{{…}}`
 * expressions, and Talang `[".", "Session", "Attributes", "<name>"]` (also under `.|`). A path rooted at a
 * lambda parameter or a selector (`[".", "x", "Attributes", "<name>"]`, `$MySelector.Attributes.<name>`) may
 * read a cart item or the session: it counts for both. A path that takes a whole `Attributes` object counts as
 * reading every attribute of its entity.
 */
export interface ReadAttributes {
  /** False when nothing may be trimmed at all (no rules data yet: the reads are unknown). */
  readonly known: boolean;
  /** Session attribute names read, or `all` (trim nothing of the session's attributes). */
  readonly session: ReadonlySet<string> | 'all';
  /** Cart-item attribute names read, or `all`. */
  readonly cartItem: ReadonlySet<string> | 'all';
  /** Why an entity is `all`, in words (campaign ids and names, or the path reading a whole object). */
  readonly why: { readonly session: readonly string[]; readonly cartItem: readonly string[] };
  /** Campaigns the analysis looked at (running, scheduled or disabled, linked to this store or to none). */
  readonly campaigns: number;
}

export interface ReadAttributesInput {
  rules: CompiledRules;
  /** The application's cart item filters (campaigns refer to them by name; their paths read items). */
  cartItemFilters?: readonly CartItemFilterDef[] | undefined;
  /** Local-only campaigns evaluated on what the gateway keeps of a session (fallback promotions). */
  extra?: CompiledRules | undefined;
  /** This store's `storeIntegrationId` (campaigns linked to other stores are left out). */
  storeIntegrationId: string;
  /** False: no rules data yet; nothing can be trimmed. */
  known: boolean;
  now: number;
}

/** Roots that are never a session or a cart item (their attributes are not in a session update). */
const OTHER_ROOTS = new Set(['Profile', 'Store', 'Coupon', 'Application']);
/** `$Root.seg.seg…` inside any string (block fields, selector expressions, `{{…}}` templates). */
const PATH_IN_TEXT = /\$([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)/g;

class Reads {
  readonly session = new Set<string>();
  readonly cartItem = new Set<string>();
  readonly whySession: string[] = [];
  readonly whyItem: string[] = [];

  /** One path: `root` then its segments. */
  path(root: string, segs: readonly string[], where: string): void {
    if (OTHER_ROOTS.has(root)) return;
    if (root === 'Session') {
      if (segs[0] === 'Attributes') this.#one('session', segs[1], `${where} reads $Session.Attributes whole`);
      else if (segs[0] === 'CartItems') this.#under(segs.slice(1), 'cartItem', where);
      return;
    }
    if (root === 'Item') {
      if (segs[0] === 'Attributes') this.#one('cartItem', segs[1], `${where} reads $Item.Attributes whole`);
      return;
    }
    // A lambda parameter or a selector: it may hold a cart item or the session itself.
    this.#under(segs, 'cartItem', where);
    this.#under(segs, 'session', where);
  }

  /** An `Attributes` segment anywhere in `segs` names the attribute after it. */
  #under(segs: readonly string[], entity: 'session' | 'cartItem', where: string): void {
    const i = segs.indexOf('Attributes');
    if (i >= 0) this.#one(entity, segs[i + 1], `${where} reads a whole Attributes object`);
  }

  #one(entity: 'session' | 'cartItem', name: string | undefined, whole: string): void {
    if (name !== undefined) (entity === 'session' ? this.session : this.cartItem).add(name);
    else (entity === 'session' ? this.whySession : this.whyItem).push(whole);
  }

  all(why: string): void {
    this.whySession.push(why);
    this.whyItem.push(why);
  }
}

/** Every path in a JSON value (a ruleset, a filter): strings and Talang `.` / `.|` forms. */
function scan(node: unknown, reads: Reads, where: string, depth = 0): void {
  if (depth > 200) {
    reads.all(`${where} nests too deeply to be read`);
    return;
  }
  if (typeof node === 'string') {
    for (const m of node.matchAll(PATH_IN_TEXT)) {
      const segs = (m[2] as string).split('.').slice(1);
      reads.path(m[1] as string, segs, where);
    }
    return;
  }
  if (Array.isArray(node)) {
    const [fn, ...args] = node as unknown[];
    if (fn === '.' && args.length > 0 && args.every((a) => typeof a === 'string')) {
      reads.path(args[0] as string, args.slice(1) as string[], where);
    } else if (fn === '.|' && args.length >= 2 && args.slice(1).every((a) => typeof a === 'string')) {
      reads.path(args[1] as string, args.slice(2) as string[], where);
    }
    for (const x of node) scan(x, reads, where, depth + 1);
    return;
  }
  if (node !== null && typeof node === 'object') for (const v of Object.values(node)) scan(v, reads, where, depth + 1);
}

/** The campaigns Talon.One may evaluate for this store before the next rules push. */
function counted(rules: CompiledRules, storeIntegrationId: string, now: number): CompiledCampaign[] {
  const sid = rules.stores.find((s) => s.integrationId === storeIntegrationId)?.id;
  // Disabled and scheduled campaigns count too (either may run upstream before this shop's rules say so);
  // archived ones and those that have ended cannot come back without a new rules push.
  return rules.list.filter(
    (c) => c.campaign.state !== 'archived' && c.endMs > now && (c.linkedStoreIds.length === 0 || (sid !== undefined && c.linkedStoreIds.includes(sid))),
  );
}

/** The attributes the given rules may read (see {@link ReadAttributes}). */
export function readAttributes(input: ReadAttributesInput): ReadAttributes {
  const reads = new Reads();
  const list = [...counted(input.rules, input.storeIntegrationId, input.now), ...(input.extra?.list ?? [])];
  for (const c of list) {
    // A campaign the local compiler refused may use Talang or blocks this analysis cannot read.
    if (!c.offlineCapable) reads.all(`campaign ${c.id} (${c.name}) is not offline-capable: ${c.reason ?? 'unknown blocks'}`);
    else scan(c.ruleset, reads, `campaign ${c.id}`);
  }
  for (const f of input.cartItemFilters ?? []) scan(f, reads, `cart item filter ${f.name}`);
  return {
    known: input.known,
    session: reads.whySession.length > 0 ? 'all' : reads.session,
    cartItem: reads.whyItem.length > 0 ? 'all' : reads.cartItem,
    why: { session: dedupe(reads.whySession), cartItem: dedupe(reads.whyItem) },
    campaigns: list.length,
  };
}

function dedupe(xs: readonly string[]): string[] {
  return [...new Set(xs)].slice(0, 20);
}

const CACHE = new WeakMap<object, ReadAttributes>();

/** The reads of one data bundle, computed once (a new bundle comes with every rules or data change). */
export function cachedReads(bundle: object, compute: () => ReadAttributes): ReadAttributes {
  let r = CACHE.get(bundle);
  if (r === undefined) CACHE.set(bundle, (r = compute()));
  return r;
}
