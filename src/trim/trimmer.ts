import { Counter, type Registry } from 'prom-client';
import { stringifySessionUpdate } from '../checkout/follow.js';
import type { ReadAttributes } from '../engine/read-attributes.js';
import type { Logger } from '../telemetry/logger.js';

/** `upstream.trimAttributes` (README "Lean payloads"). */
export interface TrimSettings {
  enabled: boolean;
  keepSession: readonly string[];
  keepCartItem: readonly string[];
}

export interface TrimDeps {
  settings: TrimSettings;
  /** What the campaigns of this store read now (LocalData: recomputed when the rules change). */
  reads: () => ReadAttributes;
  registry: Registry;
  log: Logger;
}

/** What one entity (the session, or the cart items) looks like to the trimmer right now. */
export interface EntityTrim {
  /** True when attributes of this entity are dropped before forwarding. */
  trimmed: boolean;
  /** Attribute names sent whatever their use: read by a campaign, or kept by config. */
  kept: string[];
  /** Why nothing is trimmed for this entity, when nothing is. */
  why: string[];
}

export interface TrimStatus {
  enabled: boolean;
  session: EntityTrim;
  cartItem: EntityTrim;
}

/** The session update as sent upstream: its JSON text and each `customerSession` field's own text (follow.ts). */
export type SerializedUpdate = { json: string; fields: [string, string][] };

/** The attribute names of an entity that are sent, or null: the entity is sent untrimmed. */
type Keep = ReadonlySet<string> | null;

/**
 * Lean payloads: Talon.One's POS guide asks integrations to exclude non-essential attributes, and a cart whose
 * lines each carry dozens of attributes (colour, supplier, margin class…) is mostly attributes. Before a session
 * update is forwarded, this drops the session and cart-item attributes no campaign of this store may read and
 * config does not keep. Only attribute keys go: every cart item stays, in its place (effects such as
 * `setDiscountPerItem` name items by position), and every other field is sent as the terminal sent it.
 *
 * Bytes saved are counted exactly without serialising what is dropped: each dropped pair is `"key":value` plus
 * its comma (one comma fewer when nothing of the object is kept), and the JSON length of a name, a number, a
 * boolean or a plain ASCII string is known without writing it out (names are measured once). Serialising the
 * dropped attributes to measure them cost more CPU than trimming saved.
 */
export class AttributeTrimmer {
  #settings: TrimSettings;
  #keepSession: ReadonlySet<string>;
  #keepItem: ReadonlySet<string>;
  readonly #reads: () => ReadAttributes;
  readonly #log: Logger;
  readonly #saved: Counter;
  readonly #dropped: Counter<'entity'>;
  readonly #sent: Counter;
  /** The reads last looked at, and what was last reported in the log (once per change of what is kept). */
  #logged: ReadAttributes | null = null;
  #reported = '';
  /** What is sent of each entity, for the reads and settings it was made from. */
  #plan: { reads: ReadAttributes; session: Keep; cartItem: Keep } | null = null;

  constructor(deps: TrimDeps) {
    this.#settings = deps.settings;
    this.#keepSession = new Set(deps.settings.keepSession);
    this.#keepItem = new Set(deps.settings.keepCartItem);
    this.#reads = deps.reads;
    this.#log = deps.log;
    const registers = [deps.registry];
    this.#saved = new Counter({
      name: 'storegate_upstream_trimmed_bytes_total',
      help: 'Bytes of session updates not sent to Talon.One: attributes no campaign reads, dropped by upstream.trimAttributes.',
      registers,
    });
    this.#dropped = new Counter({
      name: 'storegate_upstream_trimmed_attributes_total',
      help: 'Attributes dropped from session updates before forwarding, by entity (session, cartItem).',
      labelNames: ['entity'] as const,
      registers,
    });
    this.#sent = new Counter({
      name: 'storegate_upstream_session_update_bytes_total',
      help: 'Bytes of session update bodies sent to Talon.One while upstream.trimAttributes is enabled (beside the bytes saved: the share trimmed).',
      registers,
    });
  }

  /** A pushed config changed `upstream.trimAttributes`. */
  configure(settings: TrimSettings): void {
    this.#settings = settings;
    this.#keepSession = new Set(settings.keepSession);
    this.#keepItem = new Set(settings.keepCartItem);
    this.#plan = null;
    this.#logged = null; // what is kept may have changed: said again at the next update
  }

  /** The text sent upstream for a session update body (already validated and given this store's id). */
  serialize(body: Record<string, unknown>): SerializedUpdate {
    if (!this.#settings.enabled) return stringifySessionUpdate(body);
    const reads = this.#reads();
    if (reads !== this.#logged) this.#report(reads);
    if (this.#plan?.reads !== reads) this.#plan = { reads, session: this.#keep(reads, 'session'), cartItem: this.#keep(reads, 'cartItem') };
    const session = body.customerSession;
    const keepS = this.#plan.session;
    const keepI = this.#plan.cartItem;
    if (!isObject(session) || (keepS === null && keepI === null)) return this.#count(stringifySessionUpdate(body));
    let saved = 0;
    let copy: Record<string, unknown> | undefined;
    if (keepS !== null && isObject(session.attributes)) {
      const r = split(session.attributes, keepS);
      if (r.dropped > 0) {
        copy = { ...session, attributes: r.kept };
        saved += r.bytes;
        this.#dropped.inc({ entity: 'session' }, r.dropped);
      }
    }
    const items = session.cartItems;
    if (keepI !== null && Array.isArray(items)) {
      let out: unknown[] | undefined;
      let dropped = 0;
      for (let i = 0; i < items.length; i++) {
        const item = items[i] as unknown;
        if (!isObject(item) || !isObject(item.attributes)) continue;
        const r = split(item.attributes, keepI);
        if (r.dropped === 0) continue;
        // Same keys in the same order: only `attributes` is replaced, the item keeps its place in the cart.
        (out ??= items.slice())[i] = { ...item, attributes: r.kept };
        saved += r.bytes;
        dropped += r.dropped;
      }
      if (out !== undefined) {
        copy = { ...(copy ?? session), cartItems: out };
        this.#dropped.inc({ entity: 'cartItem' }, dropped);
      }
    }
    if (copy === undefined) return this.#count(stringifySessionUpdate(body));
    this.#saved.inc(saved);
    return this.#count(stringifySessionUpdate({ ...body, customerSession: copy }));
  }

  #count(s: SerializedUpdate): SerializedUpdate {
    this.#sent.inc(Buffer.byteLength(s.json));
    return s;
  }

  /** Which attributes of an entity stay, or null: the entity is sent untrimmed. */
  #keep(reads: ReadAttributes, entity: 'session' | 'cartItem'): Keep {
    const read = reads[entity];
    if (!reads.known || read === 'all') return null;
    return new Set([...read, ...(entity === 'session' ? this.#keepSession : this.#keepItem)]);
  }

  /** When what is kept changes (a rules push): what is kept, and why an entity is sent whole. */
  #report(reads: ReadAttributes): void {
    this.#logged = reads;
    const s = this.status(reads);
    const text = JSON.stringify(s);
    if (text === this.#reported) return; // a new data bundle (a coupons push, say) with the same reads
    this.#reported = text;
    this.#log.info(
      { session: { trimmed: s.session.trimmed, kept: s.session.kept.length, why: s.session.why }, cartItem: { trimmed: s.cartItem.trimmed, kept: s.cartItem.kept.length, why: s.cartItem.why } },
      'upstream.trimAttributes: attributes campaigns read (the rest is not forwarded)',
    );
  }

  /** For `/status`: per entity, whether it is trimmed, what is always sent, and why not. */
  status(reads: ReadAttributes = this.#reads()): TrimStatus {
    const one = (entity: 'session' | 'cartItem'): EntityTrim => {
      const read = reads[entity];
      const keep = entity === 'session' ? this.#keepSession : this.#keepItem;
      const why = !this.#settings.enabled ? ['upstream.trimAttributes.enabled is false'] : !reads.known ? ['no rules data yet: what campaigns read is not known'] : read === 'all' ? [...reads.why[entity]] : [];
      const kept = read === 'all' ? [...keep] : [...new Set([...read, ...keep])];
      return { trimmed: why.length === 0, kept: kept.sort(), why };
    };
    return { enabled: this.#settings.enabled, session: one('session'), cartItem: one('cartItem') };
  }
}

/** Splits one attributes object: what is kept, how many pairs went and how many bytes they took. */
function split(attrs: Record<string, unknown>, keep: ReadonlySet<string>): { kept: Record<string, unknown>; dropped: number; bytes: number } {
  let kept: Record<string, unknown> | undefined;
  let dropped = 0;
  let bytes = 0;
  const keys = Object.keys(attrs);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const v = attrs[k];
    if (keep.has(k)) (kept ??= {})[k] = v;
    else {
      dropped++;
      // `"key":value` and the comma that went with it.
      bytes += keyBytes(k) + 1 + jsonBytes(v) + 1;
    }
  }
  if (dropped === 0) return { kept: attrs, dropped: 0, bytes: 0 };
  // With nothing kept, the last comma was never there.
  return { kept: kept ?? {}, dropped, bytes: kept === undefined ? bytes - 1 : bytes };
}

/** Printable ASCII but `"` and `\`: JSON writes such a string as it is, one byte a character, between quotes. */
const VERBATIM = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** Bytes of a value as JSON text (UTF-8), without serialising the common cases. Values come from parsed JSON. */
function jsonBytes(v: unknown): number {
  switch (typeof v) {
    case 'number':
      return String(v).length; // a finite number: JSON writes what String() writes
    case 'boolean':
      return v ? 4 : 5;
    case 'string':
      return VERBATIM.test(v) ? v.length + 2 : Buffer.byteLength(JSON.stringify(v));
    default:
      return v === null ? 4 : Buffer.byteLength(JSON.stringify(v));
  }
}

/** Attribute names repeat on every line of every cart: their JSON length is worked out once. */
const KEY_BYTES = new Map<string, number>();

function keyBytes(k: string): number {
  let n = KEY_BYTES.get(k);
  if (n === undefined) {
    if (KEY_BYTES.size >= 10_000) KEY_BYTES.clear();
    KEY_BYTES.set(k, (n = jsonBytes(k)));
  }
  return n;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
