import type { EvalCtx } from './context.js';
import { Unsupported, type Getter } from './paths.js';
import type { CollectionData } from './types.js';

/**
 * Talon.One collections (Management API `Collection`: `id`, `name`, `campaignId` for a campaign-level one, and
 * `payload`, "the content of the collection", a list of strings) as the sixth local data kind, for the
 * `inCollection` / `not(inCollection)` operators of `checkAttribute` (docs: managing collections — "Using a
 * collection in a condition": an attribute "is in collection"). Each collection's items are held in one `Set`.
 */
export interface HeldCollection {
  readonly id: number;
  readonly name: string;
  /** The campaign owning a campaign-level collection; undefined for an account-level one. */
  readonly campaignId: number | undefined;
  readonly items: ReadonlySet<string>;
}

export class CollectionIndex {
  readonly byId: ReadonlyMap<number, HeldCollection>;
  readonly #byName = new Map<string, HeldCollection[]>();
  /** Items over all collections. */
  readonly items: number;

  constructor(list: readonly HeldCollection[] = []) {
    const m = new Map<number, HeldCollection>();
    let n = 0;
    for (const c of list) {
      m.set(c.id, c);
      n += c.items.size;
      const same = this.#byName.get(c.name);
      if (same) same.push(c); else this.#byName.set(c.name, [c]);
    }
    this.byId = m;
    this.items = n;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Builds held collections from validated payload entries (their `payload` lists become sets). */
  static from(list: readonly CollectionData[]): CollectionIndex {
    return new CollectionIndex(list.map(held));
  }

  /**
   * A delta (`full: false`): each listed collection replaces the held one of its id whole (Talon.One replaces a
   * collection's content on each import), `{id, deleted: true}` removes one.
   */
  withDelta(list: readonly CollectionData[]): CollectionIndex {
    const m = new Map(this.byId);
    for (const c of list) {
      if (c.deleted === true) m.delete(c.id);
      else m.set(c.id, held(c));
    }
    return new CollectionIndex([...m.values()]);
  }

  /** The snapshot: every collection in the payload shape (`payload` as a list again). */
  toPayloadList(): CollectionData[] {
    return [...this.byId.values()].map((c) => ({ id: c.id, name: c.name, ...(c.campaignId !== undefined ? { campaignId: c.campaignId } : {}), payload: [...c.items] }));
  }

  /**
   * The collection a rule names. Talon.One's specs type `checkAttribute.value` of `inCollection` only as "the
   * comparison value", so every form a reference to an entity takes elsewhere in RulesetV2 is accepted: a number
   * (the collection's id), an object with a numeric `id` (as `program`, `audience` and `customEffect` are named),
   * a string or an object with only a `name` (the collection's name). By name, a campaign-level collection of the
   * campaign itself comes first, then an account-level one; a name still shared by several is ambiguous.
   * Throws {@link Unsupported} (the campaign is then not offline-capable, with the reason) when none matches.
   */
  resolve(ref: unknown, campaignId: number | undefined): HeldCollection {
    const obj = ref !== null && typeof ref === 'object' && !Array.isArray(ref) ? (ref as Record<string, unknown>) : undefined;
    const id = typeof ref === 'number' ? ref : typeof obj?.id === 'number' ? obj.id : undefined;
    if (id !== undefined) {
      const c = this.byId.get(id);
      if (!c) throw new Unsupported(`collection ${id} is not in this store's collections data`);
      return c;
    }
    const name = typeof ref === 'string' ? ref : typeof obj?.name === 'string' ? obj.name : undefined;
    if (name === undefined) throw new Unsupported(`inCollection names its collection as ${JSON.stringify(ref)?.slice(0, 80)}: not an id or a name`);
    const all = this.#byName.get(name) ?? [];
    const own = all.filter((c) => c.campaignId !== undefined && c.campaignId === campaignId);
    const account = all.filter((c) => c.campaignId === undefined);
    const pick = own.length > 0 ? own : account.length > 0 ? account : all;
    if (pick.length === 0) throw new Unsupported(`collection "${name}" is not in this store's collections data`);
    if (pick.length > 1) throw new Unsupported(`collection name "${name}" is ambiguous (ids ${pick.map((c) => c.id).join(', ')}): name it by id`);
    return pick[0] as HeldCollection;
  }
}

function held(c: CollectionData): HeldCollection {
  return { id: c.id, name: c.name, campaignId: typeof c.campaignId === 'number' ? c.campaignId : undefined, items: new Set(c.payload ?? []) };
}

/**
 * `inCollection` / `not(inCollection)`: whether the attribute's value is one of the collection's items. Items
 * are strings, so only a string value is compared (exactly: Talon.One documents no normalisation); a missing
 * value, or one of another type, makes both operators false — the block fails, as for every other operator.
 * Without collections data, or when the collection is not held, the campaign is not offline-capable.
 */
export function compileInCollection(op: 'inCollection' | 'not(inCollection)', ref: unknown, attr: Getter, collections: CollectionIndex | undefined, campaignId: number | undefined): (ctx: EvalCtx) => boolean {
  if (collections === undefined) throw new Unsupported(`operator ${op}: this store has no collections data`);
  const items = collections.resolve(ref, campaignId).items;
  if (op === 'inCollection') return (ctx) => { const a = attr(ctx); return typeof a === 'string' && items.has(a); };
  return (ctx) => { const a = attr(ctx); return typeof a === 'string' && !items.has(a); };
}
