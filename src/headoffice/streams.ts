/**
 * What head office has published, per stream (a kind to one store, or to `*`): the content key and version of
 * the last push, and for each recent version the version a shop must already have applied for that push to
 * leave it right (`requires`: 0 for a complete set; the previous chunk for a chunk; the full set a cumulative
 * delta is against). Kept durable (`state/streams.json`), so a restarted head office does not push unchanged
 * data again, keeps raising versions (a shop refuses a lower one as a rollback), and still knows what each
 * version needed.
 *
 * Versions are issued per kind across all streams: a shop receives its own topic and `*`, and one version
 * order must hold across both. A version is also a claim: for coupons and loyalty it is no later than the time
 * the data was read (the shops' ledger forgets offline uses that data read after them counts: README
 * "Durability and the journal").
 */
import { createHash } from 'node:crypto';
import type { SnapshotStore } from '../state/snapshot-store.js';

export type PushKind = 'rules' | 'coupons' | 'loyalty' | 'prices' | 'collections';

export interface StreamError {
  code: string;
  message: string;
  at: string;
}

export interface StreamRecord {
  kind: PushKind;
  target: string;
  /** Content key of the last push (null: nothing pushed yet). */
  key: string | null;
  version: number;
  publishedAt: number;
  /** [version, version required before it], newest last (bounded). */
  requires: [number, number][];
  /** Coupons: the version of the full set the deltas are against. */
  base?: number;
  error?: StreamError | null;
}

/** A coupons stream's full set: per code, what is needed to delete it and to see whether it changed. */
export interface CouponBase {
  version: number;
  coupons: Record<string, [id: number, campaignId: number, hash: string]>;
  /** Codes sent in a delta since the base (a cumulative delta repeats them: README "Head office sync"). */
  touched: Record<string, [id: number, campaignId: number]>;
}

interface State {
  versions: Record<PushKind, number>;
  streams: StreamRecord[];
}

const MAX_REQUIRES = 64;

export class Streams {
  readonly #store: SnapshotStore;
  #versions: Record<PushKind, number> = { rules: 0, coupons: 0, loyalty: 0, prices: 0, collections: 0 };
  readonly #streams = new Map<string, StreamRecord>();
  #dirty = false;
  #saving: Promise<void> = Promise.resolve();

  constructor(store: SnapshotStore) {
    this.#store = store;
  }

  async start(): Promise<void> {
    const s = await this.#store.load<State>('streams');
    if (!s) return;
    this.#versions = { ...this.#versions, ...s.data.versions };
    for (const r of s.data.streams) this.#streams.set(id(r.kind, r.target), r);
  }

  /** The next version of `kind`: above every one issued, and at least `claim`. */
  issue(kind: PushKind, claim: number, count = 1): number {
    const v = Math.max(this.#versions[kind] + 1, Math.floor(claim));
    this.#versions[kind] = v + count - 1;
    this.#dirty = true;
    return v;
  }

  lastIssued(kind: PushKind): number {
    return this.#versions[kind];
  }

  get(kind: PushKind, target: string): StreamRecord | undefined {
    return this.#streams.get(id(kind, target));
  }

  all(): StreamRecord[] {
    return [...this.#streams.values()];
  }

  /** Records a push of `version` (which needed `requires` applied before it). */
  published(kind: PushKind, target: string, version: number, key: string | null, requires: number, at: number, base?: number): StreamRecord {
    const r = this.#streams.get(id(kind, target)) ?? { kind, target, key: null, version: 0, publishedAt: 0, requires: [] };
    r.version = Math.max(r.version, version);
    r.key = key;
    r.publishedAt = at;
    r.requires = [...r.requires, [version, requires] as [number, number]].slice(-MAX_REQUIRES);
    if (base !== undefined) r.base = base;
    r.error = null;
    this.#streams.set(id(kind, target), r);
    this.#dirty = true;
    return r;
  }

  failed(kind: PushKind, target: string, e: StreamError): void {
    const r = this.#streams.get(id(kind, target)) ?? { kind, target, key: null, version: 0, publishedAt: 0, requires: [] };
    r.error = e;
    this.#streams.set(id(kind, target), r);
    this.#dirty = true;
  }

  /** The version a shop needed before `version` of this stream (undefined: not a version of it). */
  required(kind: PushKind, target: string, version: number): number | undefined {
    return this.#streams.get(id(kind, target))?.requires.find(([v]) => v === version)?.[1];
  }

  /**
   * Every stream's content is to be pushed again, as a complete set (the broker lost the retained pushes); the
   * versions go on rising. Prices have no set of their own here: a shop that missed a batch gets the price book by
   * repair. Returns how many streams were reset.
   */
  forgetContent(): number {
    let n = 0;
    for (const r of this.#streams.values()) {
      if (r.kind === 'prices' || r.key === null) continue;
      r.key = null;
      delete r.base;
      n++;
    }
    if (n > 0) this.#dirty = true;
    return n;
  }

  /** Forgets a stream (its retained message was cleared). */
  drop(kind: PushKind, target: string): void {
    if (this.#streams.delete(id(kind, target))) this.#dirty = true;
  }

  /** Saves if anything changed (serialised; the file is replaced atomically). */
  save(): Promise<void> {
    if (!this.#dirty) return this.#saving;
    this.#dirty = false;
    const data: State = { versions: { ...this.#versions }, streams: this.all() };
    this.#saving = this.#saving.then(() => this.#store.save({ kind: 'streams', version: 1, savedAt: Date.now(), data }));
    return this.#saving;
  }

  async loadBase(target: string): Promise<CouponBase | null> {
    return (await this.#store.load<CouponBase>(baseKind(target)))?.data ?? null;
  }

  saveBase(target: string, b: CouponBase): Promise<void> {
    return this.#store.save({ kind: baseKind(target), version: b.version, savedAt: Date.now(), data: b });
  }
}

const id = (kind: PushKind, target: string) => `${kind}\u0000${target}`;

/** A file name per store whatever its integration id (snapshot kinds are lowercase letters and digits). */
function baseKind(target: string): string {
  return `coupon-base-${createHash('sha256').update(target).digest('hex').slice(0, 24)}`;
}
