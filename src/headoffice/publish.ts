/**
 * Builds each shop's data (build.ts), signs what changed with head office's key (the push envelope of README
 * "Head office and MQTT", through src/trust) and publishes it retained on `<prefix>/<store>/<kind>/set`, or
 * `<prefix>/*\/<kind>/set` when the data is the same for every shop. Retained, so a shop offline now gets the
 * latest push when it reconnects; QoS 1 into the shops' persistent sessions, so a shop away for less than its
 * session expiry gets every push it missed, in order.
 *
 * When a retained message alone cannot leave a shop right (a coupon chunk or delta, a price batch: each assumes
 * what came before), the ack says so: an ack of a version whose predecessor the shop never acknowledged starts a
 * repair — the shop's whole set again, on its own topic — and, once acknowledged, that topic is cleared (an
 * empty retained message) so it cannot shadow later fleet-wide pushes.
 */
import type { KeyObject } from 'node:crypto';
import type { FleetBroker } from '../mqtt/fleet-client.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import { alignBase64, PushSignerPool } from '../trust/index.js';
import { FLEET, type Builder, type CouponsTarget, type RulesTarget } from './build.js';
import type { PullCache } from './cache.js';
import { planCoupons } from './coupon-plan.js';
import type { Obj } from './shapes.js';
import type { PushKind, Streams } from './streams.js';

export interface PublisherDeps {
  broker: FleetBroker;
  builder: Builder;
  cache: PullCache;
  streams: Streams;
  signingKey: KeyObject;
  /** Worker threads that sign (0: on this thread). */
  signThreads?: number;
  topicPrefix: string;
  maxMessageBytes: number;
  concurrency: number;
  clock: Clock;
  log: Logger;
  /** The price book (latest item per SKU, from the strikethrough notifications), for a shop's repair. */
  priceItems: () => Obj[];
  /** Every push published (metrics, the fleet view's "latest pushed"). */
  onPublished?: (kind: PushKind, target: string, version: number, bytes: number) => void;
}

type DataKind = 'rules' | 'coupons' | 'loyalty' | 'collections';

/** Room for the envelope and the JWS header around the data: base64url makes 4 bytes of 3. */
function dataBudget(maxMessageBytes: number): number {
  return Math.floor(((maxMessageBytes - 4096) * 3) / 4);
}

export class Publisher {
  readonly #d: PublisherDeps;
  readonly #signer: PushSignerPool;
  #dirty = new Set<DataKind>();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  /** Repairs published and not yet acknowledged: store\0kind → last version, and whether to clear the topic after. */
  readonly #repairs = new Map<string, { last: number; clear: boolean }>();
  #firstAt: number | null = null;
  /** The whole price book goes to `*` again at the next round (the broker lost the retained batches). */
  #priceBookDue = false;
  /** Bytes published since start (the benchmark reports them). */
  bytesPublished = 0;
  messagesPublished = 0;
  /** The last round that published something: when it started, when its first and last push were acknowledged by the broker. */
  lastRound: { kinds: string[]; startedAt: number; firstAt: number | null; doneAt: number; messages: number } | null = null;

  constructor(d: PublisherDeps) {
    this.#d = d;
    this.#signer = new PushSignerPool(d.signingKey, d.signThreads ?? 0);
    d.broker.onConnect((sessionPresent) => {
      // A broker that lost our session lost its retained messages too (unless it persists them): a shop that
      // connects now would find no push. Everything is pushed again, as new complete sets.
      if (!sessionPresent) {
        const n = this.#d.streams.forgetContent();
        if (n > 0) this.#d.log.warn({ streams: n }, 'head office: the broker lost its state (no session); pushing everything again');
        if ((this.#d.streams.get('prices', FLEET)?.version ?? 0) > 0) this.#priceBookDue = true;
      }
      this.schedule(['rules', 'coupons', 'loyalty', 'collections']);
    });
  }

  /** Something of these kinds may have changed: build and push what did (debounced). */
  schedule(kinds: readonly DataKind[]): void {
    for (const k of kinds) this.#dirty.add(k);
    if (this.#timer || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#kick();
    }, 50);
  }

  /** Resolves when no round is running or waiting. */
  async idle(): Promise<void> {
    while (this.#running || this.#timer || this.#dirty.size > 0) {
      if (this.#running) await this.#running;
      else await new Promise((r) => setTimeout(r, 20));
      if (!this.#d.broker.connected) return;
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    void this.#signer.close();
  }

  async #kick(): Promise<void> {
    if (this.#running || this.#stopped) return;
    const kinds = [...this.#dirty];
    this.#dirty.clear();
    this.#running = this.#round(kinds)
      .catch((err: unknown) => {
        for (const k of kinds) this.#dirty.add(k);
        this.#d.log.warn({ err: (err as Error).message, kinds }, 'head office: publishing failed; trying again when the broker is back');
      })
      .finally(() => {
        this.#running = null;
        void this.#d.streams.save().catch((err: unknown) => this.#d.log.error({ err }, 'head office: cannot save the push records'));
        if (this.#dirty.size > 0 && this.#d.broker.connected) this.schedule([]);
      });
    await this.#running;
  }

  async #round(kinds: DataKind[]): Promise<void> {
    if (!this.#d.broker.connected) throw new Error('broker not connected');
    const startedAt = performance.now();
    const before = this.messagesPublished;
    this.#firstAt = null;
    const c = this.#d.cache;
    const jobs: (() => Promise<void>)[] = [];
    const forget: (() => void)[] = [];
    if (kinds.includes('rules') && c.marks.fullDone > 0) {
      // Shops holding the same campaigns share the base64url of everything before their own Store: encoded once,
      // and sent once to each signing thread.
      const prefixes = new Map<string, number>();
      for (const t of this.#d.builder.rules(c)) {
        if (this.#d.streams.get('rules', t.target)?.key === t.key) continue;
        jobs.push(() => this.#publishRules(t, prefixes));
      }
      forget.push(() => {
        for (const id of prefixes.values()) this.#signer.forget(id);
      });
    }
    if (kinds.includes('loyalty') && c.marks.loyaltyDone > 0) {
      for (const t of this.#d.builder.loyalty(c)) {
        if (this.#d.streams.get('loyalty', t.target)?.key === t.key) continue;
        jobs.push(() => this.#publishWhole('loyalty', t.target, t.key, t.text, t.readAt));
      }
    }
    if (kinds.includes('collections')) {
      // The version claims when the collections were listed (nothing forgets by it; it only rises).
      for (const t of this.#d.builder.collections(c)) {
        if (this.#d.streams.get('collections', t.target)?.key === t.key) continue;
        jobs.push(() => this.#publishWhole('collections', t.target, t.key, t.text, c.marks.collectionsStarted));
      }
    }
    if (kinds.includes('coupons') && c.marks.couponsDone > 0) {
      const targets = this.#d.builder.coupons(c);
      jobs.push(...(await this.#couponScope(targets)));
      for (const t of targets) {
        if (this.#d.streams.get('coupons', t.target)?.key === t.key) continue;
        jobs.push(() => this.#publishCoupons(t));
      }
    }
    if (this.#priceBookDue && this.#d.priceItems().length > 0) {
      this.#priceBookDue = false;
      jobs.push(async () => {
        const last = await this.#priceBook(FLEET);
        this.#d.streams.published('prices', FLEET, last, null, 0, this.#d.clock.now());
      });
    }
    try {
      await this.#pool(jobs);
    } finally {
      for (const f of forget) f();
    }
    if (this.messagesPublished > before) this.lastRound = { kinds, startedAt, firstAt: this.#firstAt, doneAt: performance.now(), messages: this.messagesPublished - before };
  }

  /** Publishes a prices batch as it came (split when larger than one message). */
  async prices(body: Obj): Promise<void> {
    const items = Array.isArray(body['changedItems']) ? (body['changedItems'] as Obj[]) : [];
    const parts = splitBatch(body, items, dataBudget(this.#d.maxMessageBytes));
    const prev = this.#d.streams.get('prices', FLEET)?.version ?? 0;
    const v = this.#d.streams.issue('prices', this.#d.clock.now(), parts.length);
    for (let i = 0; i < parts.length; i++) {
      // A batch is sent once, in order: while the broker is away it waits (and the batches after it wait behind it).
      for (let tries = 0; ; tries++) {
        try {
          await this.#send('prices', FLEET, v + i, parts[i] as string);
          break;
        } catch (err) {
          if (this.#stopped || (err as { code?: string }).code === 'SG_ERR_PUSH_TOO_LARGE') throw err;
          if (tries === 0) this.#d.log.warn({ err: (err as Error).message }, 'head office: a prices batch waits for the broker');
          await this.#d.clock.sleep(Math.min(5000, 250 * 2 ** Math.min(tries, 5)));
        }
      }
      this.#d.streams.published('prices', FLEET, v + i, null, i === 0 ? prev : v + i - 1, this.#d.clock.now());
    }
    await this.#d.streams.save();
  }

  /**
   * A shop acknowledged `version` of `kind`; `before` is the version it had acknowledged (or reported) before.
   * Returns true when that push could not leave it right and a repair was started.
   */
  async acked(store: string, kind: PushKind, version: number, before: number): Promise<boolean> {
    const key = `${store}\u0000${kind}`;
    const repair = this.#repairs.get(key);
    if (repair && version >= repair.last) {
      this.#repairs.delete(key);
      if (repair.clear) await this.#clear(kind, store);
      return false;
    }
    if (kind !== 'coupons' && kind !== 'prices') return false;
    const own = this.#d.streams.required(kind, store, version);
    const needed = own ?? this.#d.streams.required(kind, FLEET, version);
    if (needed === undefined || needed === 0 || before >= needed || repair) return false;
    this.#d.log.warn({ store, kind, version, needed, before }, 'head office: a shop applied a push without the one before it; sending it the whole set');
    await this.#repair(store, kind, own === undefined);
    return true;
  }

  async #repair(store: string, kind: 'coupons' | 'prices', clear: boolean): Promise<void> {
    let last = 0;
    if (kind === 'prices') {
      last = await this.#priceBook(store);
    } else {
      const t = this.#d.builder.coupons(this.#d.cache).find((x) => x.target === store || x.target === FLEET);
      if (!t) return;
      const plan = planCoupons(t.coupons(), null, dataBudget(this.#d.maxMessageBytes));
      if (plan.kind !== 'full') return;
      const v = this.#d.streams.issue('coupons', t.readAt, plan.chunks.length);
      for (let i = 0; i < plan.chunks.length; i++) await this.#send('coupons', store, v + i, plan.chunks[i] as string);
      last = v + plan.chunks.length - 1;
      // On its own stream the repair is the new full set the next deltas build on.
      if (!clear) {
        for (let i = 0; i < plan.chunks.length; i++) this.#d.streams.published('coupons', store, v + i, t.key, i === 0 ? 0 : v + i - 1, this.#d.clock.now(), last);
        await this.#d.streams.saveBase(store, { version: last, ...plan.base });
      }
    }
    this.#repairs.set(`${store}\u0000${kind}`, { last, clear });
    await this.#d.streams.save();
  }

  /**
   * The whole price book (the latest item of each SKU) as strikethrough batches of a trigger of our own
   * (`STOREGATE_RESYNC`): each item is applied by a shop only if newer than its own, so it is safe whatever the
   * shop holds. Returns the last version sent.
   */
  async #priceBook(target: string): Promise<number> {
    const items = this.#d.priceItems();
    const now = new Date(this.#d.clock.now()).toISOString();
    const body: Obj = { NotificationType: 'StrikethroughPrice', applicationId: this.#d.cache.application?.['id'] ?? null, currentBatch: 1, totalBatches: 1, sentAt: now, changedItems: items };
    const parts = splitBatch(body, items, dataBudget(this.#d.maxMessageBytes), { id: this.#d.streams.lastIssued('prices') + 1, type: 'STOREGATE_RESYNC', triggeredAt: now, totalAffectedItems: items.length });
    const v = this.#d.streams.issue('prices', this.#d.clock.now(), parts.length);
    for (let i = 0; i < parts.length; i++) await this.#send('prices', target, v + i, parts[i] as string);
    return v + parts.length - 1;
  }

  /** An empty retained message deletes the retained push (the shops ignore it). */
  async #clear(kind: PushKind, target: string): Promise<void> {
    await this.#d.broker.publish(this.#topic(kind, target), '', true);
    this.#d.log.debug({ kind, target }, 'head office: retained push cleared');
  }

  /** Coupons go to `*` or to each store; switching clears the other side's retained pushes. */
  async #couponScope(targets: CouponsTarget[]): Promise<(() => Promise<void>)[]> {
    const fleet = targets.length === 1 && targets[0]?.target === FLEET;
    const stale = this.#d.streams.all().filter((r) => r.kind === 'coupons' && r.key !== null && (fleet ? r.target !== FLEET : r.target === FLEET));
    return stale.map((r) => async () => {
      await this.#clear('coupons', r.target);
      this.#d.streams.drop('coupons', r.target);
    });
  }

  async #publishRules(t: RulesTarget, prefixes: Map<string, number>): Promise<void> {
    let prefix = prefixes.get(t.group);
    if (prefix === undefined) {
      prefix = this.#signer.share(Buffer.from(alignBase64(`{"data":${t.common()},`), 'utf8').toString('base64url'));
      prefixes.set(t.group, prefix);
    }
    const v = this.#d.streams.issue('rules', this.#d.clock.now());
    const suffix = Buffer.from(`"stores":[${t.own}]${t.extra}},"kind":"rules","version":${v},"storeIntegrationId":${JSON.stringify(t.target)}}`, 'utf8').toString('base64url');
    try {
      await this.#publishSigned('rules', t.target, v, await this.#signer.sign([prefix, suffix]));
    } catch (err) {
      if ((err as { code?: string }).code === 'SG_ERR_PUSH_TOO_LARGE') return this.#tooLarge('rules', t.target, err as Error);
      throw err;
    }
    this.#d.streams.published('rules', t.target, v, t.key, 0, this.#d.clock.now());
  }

  async #publishWhole(kind: 'rules' | 'loyalty' | 'collections', target: string, key: string, text: () => string, claim: number): Promise<void> {
    const v = this.#d.streams.issue(kind, claim);
    try {
      await this.#send(kind, target, v, text());
    } catch (err) {
      if ((err as { code?: string }).code === 'SG_ERR_PUSH_TOO_LARGE') return this.#tooLarge(kind, target, err as Error);
      throw err;
    }
    this.#d.streams.published(kind, target, v, key, 0, this.#d.clock.now());
  }

  async #publishCoupons(t: CouponsTarget): Promise<void> {
    const rec = this.#d.streams.get('coupons', t.target);
    const base = rec?.base !== undefined ? await this.#d.streams.loadBase(t.target) : null;
    const plan = planCoupons(t.coupons(), base && base.version === rec?.base ? base : null, dataBudget(this.#d.maxMessageBytes));
    if (plan.kind === 'same') {
      this.#d.streams.published('coupons', t.target, rec?.version ?? 0, t.key, rec?.requires.at(-1)?.[1] ?? 0, rec?.publishedAt ?? 0);
      return;
    }
    if (plan.kind === 'delta') {
      const v = this.#d.streams.issue('coupons', t.readAt);
      await this.#send('coupons', t.target, v, plan.text);
      this.#d.streams.published('coupons', t.target, v, t.key, base?.version ?? 0, this.#d.clock.now());
      await this.#d.streams.saveBase(t.target, { ...(base as NonNullable<typeof base>), touched: plan.touched });
      return;
    }
    const v = this.#d.streams.issue('coupons', t.readAt, plan.chunks.length);
    const last = v + plan.chunks.length - 1;
    for (let i = 0; i < plan.chunks.length; i++) {
      await this.#send('coupons', t.target, v + i, plan.chunks[i] as string);
      this.#d.streams.published('coupons', t.target, v + i, i === plan.chunks.length - 1 ? t.key : null, i === 0 ? 0 : v + i - 1, this.#d.clock.now(), last);
    }
    await this.#d.streams.saveBase(t.target, { version: last, ...plan.base });
  }

  #tooLarge(kind: PushKind, target: string, err: Error): void {
    this.#d.streams.failed(kind, target, { code: 'SG_ERR_PUSH_TOO_LARGE', message: err.message, at: new Date(this.#d.clock.now()).toISOString() });
    this.#d.log.error({ kind, target, err: err.message }, 'head office: a push is larger than mqtt.maxMessageBytes and cannot be split; raise the limit on the broker and here');
  }

  /** Signs `{kind, version, storeIntegrationId, data}` around the data text and publishes it retained. */
  async #send(kind: PushKind, target: string, version: number, dataText: string): Promise<void> {
    const envelope = `{"kind":"${kind}","version":${version},"storeIntegrationId":${JSON.stringify(target)},"data":${dataText}}`;
    await this.#publishSigned(kind, target, version, await this.#signer.sign([Buffer.from(envelope, 'utf8').toString('base64url')]));
  }

  async #publishSigned(kind: PushKind, target: string, version: number, jws: Buffer): Promise<void> {
    if (jws.length > this.#d.maxMessageBytes) {
      throw Object.assign(new Error(`${kind} push for ${target} is ${jws.length} bytes, over mqtt.maxMessageBytes (${this.#d.maxMessageBytes})`), { code: 'SG_ERR_PUSH_TOO_LARGE' });
    }
    await this.#d.broker.publish(this.#topic(kind, target), jws, true);
    this.#firstAt ??= performance.now();
    this.bytesPublished += jws.length;
    this.messagesPublished++;
    this.#d.onPublished?.(kind, target, version, jws.length);
  }

  #topic(kind: PushKind, target: string): string {
    return `${this.#d.topicPrefix}/${target}/${kind}/set`;
  }

  async #pool(jobs: (() => Promise<void>)[]): Promise<void> {
    let i = 0;
    let failed: unknown = null;
    const worker = async () => {
      while (failed === null && i < jobs.length) {
        const job = jobs[i++] as () => Promise<void>;
        try {
          await job();
        } catch (err) {
          failed ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#d.concurrency, jobs.length) }, worker));
    if (failed !== null) throw failed;
  }
}

/**
 * A strikethrough batch as one or more notification bodies within `budget` bytes. A split batch's parts get
 * their own `currentBatch` (batch × 1000 + part): a shop drops a batch it has seen (`trigger.id` +
 * `currentBatch`), and the parts must not look like one batch seen twice.
 */
export function splitBatch(body: Obj, items: Obj[], budget: number, trigger?: Obj): string[] {
  const whole = JSON.stringify(trigger ? { ...body, trigger } : body);
  if (whole.length <= budget) return [whole];
  const out: string[] = [];
  const batch = typeof body['currentBatch'] === 'number' ? body['currentBatch'] : 1;
  let part: string[] = [];
  let bytes = 0;
  const flush = () => {
    const head = { ...body, ...(trigger ? { trigger } : {}), currentBatch: batch * 1000 + out.length + 1, changedItems: [] };
    const text = JSON.stringify(head);
    out.push(`${text.slice(0, text.lastIndexOf('"changedItems":[]'))}"changedItems":[${part.join(',')}]${text.slice(text.lastIndexOf('"changedItems":[]') + 17)}`);
    part = [];
    bytes = 0;
  };
  for (const it of items) {
    const t = JSON.stringify(it);
    if (part.length > 0 && bytes + t.length + 1 > budget - 2048) flush();
    part.push(t);
    bytes += t.length + 1;
  }
  if (part.length > 0) flush();
  return out;
}
