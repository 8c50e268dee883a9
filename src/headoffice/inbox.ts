/**
 * Talon.One's outbound notifications (https://docs.talon.one/oas/outbound-notifications.yaml), received by head office: persist,
 * then process. A notification is written durably (`state/inbox.log`, append + fdatasync) before it is
 * answered, so Talon.One gets its answer in milliseconds and a crash right after loses nothing: at the next
 * start every notification not marked done is processed again (processing is idempotent). `X-UUID` ("the unique
 * message ID … to deduplicate messages") is remembered, so a notification sent twice is processed once.
 *
 * Kinds handled:
 * - `StrikethroughPrice` batches: pushed to the shops as they are (prices), and kept in a price book (latest
 *   item per SKU) for a shop that needs them all again;
 * - `CampaignNotification` items with `Event` (`campaign_created`, `…_state_changed`, `…_ruleset_changed`,
 *   `…_edited`, `…_collection_edited`): that campaign is read again from the Management API (the embedded
 *   ruleset is the V1 Talang form; shops need RulesetV2); `campaign_deleted`: dropped;
 * - evaluation tree items (`event: campaign_evaluation_tree_changed`, `evaluationTree`): the Management API has
 *   no endpoint for the tree, so this is where it comes from.
 */
import path from 'node:path';
import { StoregateError } from '../core/errors.js';
import { parsePrices } from '../engine/ingest/prices.js';
import { type DurableFs, nodeDurableFs } from '../platform/durable-fs.js';
import type { Logger } from '../telemetry/logger.js';
import { AppendLog } from '../state/append-log.js';
import { FileSnapshotStore, type SnapshotStore } from '../state/snapshot-store.js';
import type { Obj } from './shapes.js';

export type NotificationKind = 'strikethrough' | 'campaign' | 'tree';

export interface InboxEntry {
  uuid: string;
  at: number;
  kind?: NotificationKind;
  body?: Obj;
  done?: true;
}

export interface InboxHandlers {
  prices(body: Obj): Promise<void>;
  campaign(id: number, deleted: boolean): Promise<void>;
  tree(tree: Obj): Promise<void>;
  /** A campaign collection was edited (`campaignCollectionEditedNotification` items carry `collection`). */
  collections?(): Promise<void>;
}

interface BookSnapshot {
  items: Obj[];
  seen: [string, number][];
}

const SEEN_MS = 7 * 24 * 3600 * 1000;
const SEEN_MAX = 100_000;
const COMPACT_LINES = 5000;

/** The kind of a notification body, or a refusal naming what is wrong (nothing is stored then). */
export function classify(body: unknown): NotificationKind {
  const fail = (message: string, p = '/'): never => {
    throw new StoregateError('SG_ERR_VALIDATION', `not a Talon.One notification this endpoint handles: ${message}`, { statusCode: 400, details: [{ path: p, message }] });
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail('the body must be a JSON object');
  const b = body as Obj;
  const type = b['NotificationType'];
  if (type === 'StrikethroughPrice' || (type === undefined && Array.isArray(b['changedItems']))) {
    if (!Array.isArray(b['changedItems'])) fail('a strikethrough batch needs changedItems (a list)', '/changedItems');
    if (typeof b['trigger'] !== 'object' || b['trigger'] === null) fail('a strikethrough batch needs trigger', '/trigger');
    // The shops' own check (src/engine/ingest/prices.ts): a batch every shop would refuse is refused here, once.
    parsePrices(b);
    return 'strikethrough';
  }
  if (type === 'CampaignNotification' || type === 'CampaignEvaluationTreeChanged') {
    // The spec's example writes `data`/`event` for the tree, the schema `Data`/`Event`: both are read.
    const data = b['Data'] ?? b['data'];
    if (!Array.isArray(data) || data.length === 0) fail('Data must be a non-empty list', '/Data');
    const items = data as unknown[];
    if (items.every((i) => typeof i === 'object' && i !== null && ((i as Obj)['evaluationTree'] !== undefined || ((i as Obj)['event'] ?? (i as Obj)['Event']) === 'campaign_evaluation_tree_changed'))) return 'tree';
    items.forEach((i, n) => {
      const c = typeof i === 'object' && i !== null ? (i as Obj)['campaign'] : undefined;
      if (typeof c !== 'object' || c === null || typeof (c as Obj)['id'] !== 'number') fail('each item needs campaign.id (a number)', `/Data/${n}/campaign/id`);
    });
    return 'campaign';
  }
  return fail(`NotificationType ${JSON.stringify(type ?? null)} is not handled (strikethrough pricing, campaign and evaluation tree notifications are)`, '/NotificationType');
}

export class Inbox {
  readonly #log: AppendLog<InboxEntry>;
  readonly #snapshots: SnapshotStore;
  readonly #handlers: InboxHandlers;
  readonly #log2: Logger;
  readonly #now: () => number;
  /** uuid → when it was received. */
  readonly #seen = new Map<string, number>();
  /** Latest strikethrough item per SKU. */
  readonly #book = new Map<string, Obj>();
  /** Received and not processed yet: what a compaction must keep. */
  readonly #open = new Set<string>();
  #queue: Promise<void> = Promise.resolve();
  #pending = 0;
  #failed = 0;
  #received = 0;

  constructor(o: { dataDir: string; handlers: InboxHandlers; log: Logger; now: () => number; fs?: DurableFs }) {
    this.#log = new AppendLog<InboxEntry>(path.join(o.dataDir, 'state', 'inbox.log'), o.fs ?? nodeDurableFs);
    this.#snapshots = new FileSnapshotStore(o.dataDir, o.fs ?? nodeDurableFs);
    this.#handlers = o.handlers;
    this.#log2 = o.log;
    this.#now = o.now;
  }

  /** Reads the inbox; notifications not marked done are processed again (in order). */
  async start(): Promise<void> {
    const snap = await this.#snapshots.load<BookSnapshot>('price-book');
    if (snap) {
      for (const it of snap.data.items) this.#book.set(it['sku'] as string, it);
      for (const [u, at] of snap.data.seen) this.#seen.set(u, at);
    }
    const entries = await this.#log.read();
    const done = new Set(entries.filter((e) => e.done).map((e) => e.uuid));
    for (const e of entries) {
      if (e.done || !e.kind || !e.body) continue;
      this.#seen.set(e.uuid, e.at);
      if (done.has(e.uuid)) {
        if (e.kind === 'strikethrough') this.#remember(e.body);
      } else {
        this.#open.add(e.uuid);
        this.#enqueue(e);
      }
    }
  }

  stats(): { received: number; pending: number; failed: number; priceItems: number } {
    return { received: this.#received, pending: this.#pending, failed: this.#failed, priceItems: this.#book.size };
  }

  priceItems(): Obj[] {
    return [...this.#book.values()];
  }

  /**
   * A notification as received. Resolves once it is durable (or was seen before); processing follows in the
   * background, in arrival order.
   */
  async receive(uuid: string, body: unknown): Promise<{ duplicate: boolean; kind: NotificationKind }> {
    const kind = classify(body);
    if (this.#seen.has(uuid)) return { duplicate: true, kind };
    const e: InboxEntry = { uuid, at: this.#now(), kind, body: body as Obj };
    this.#seen.set(uuid, e.at);
    this.#open.add(uuid);
    try {
      await this.#log.append([e]);
    } catch (err) {
      this.#seen.delete(uuid);
      this.#open.delete(uuid);
      const full = (err as NodeJS.ErrnoException).code === 'ENOSPC';
      throw new StoregateError(full ? 'SG_ERR_DISK_FULL' : 'SG_ERR_JOURNAL_WRITE', `the notification could not be stored (${(err as NodeJS.ErrnoException).code ?? 'EIO'}); nothing was accepted`, { statusCode: 503, retryable: true, cause: err });
    }
    this.#received++;
    this.#enqueue(e);
    return { duplicate: false, kind };
  }

  /** Resolves when everything received so far has been processed. */
  idle(): Promise<void> {
    return this.#queue;
  }

  #enqueue(e: InboxEntry): void {
    this.#pending++;
    this.#queue = this.#queue.then(async () => {
      try {
        await this.#process(e);
        await this.#log.append([{ uuid: e.uuid, at: this.#now(), done: true }]);
        this.#open.delete(e.uuid);
      } catch (err) {
        // Left undone: processed again at the next start (the data it names is also read again on schedule).
        this.#failed++;
        this.#log2.error({ err: (err as Error).message, uuid: e.uuid, kind: e.kind }, 'head office: a notification could not be processed');
      } finally {
        this.#pending--;
      }
      if (this.#log.lines > COMPACT_LINES && this.#pending === 0) await this.#compact();
    });
  }

  async #process(e: InboxEntry): Promise<void> {
    const body = e.body as Obj;
    if (e.kind === 'strikethrough') {
      this.#remember(body);
      await this.#handlers.prices(body);
      return;
    }
    const items = ((body['Data'] ?? body['data']) as Obj[]) ?? [];
    if (e.kind === 'tree') {
      const last = items[items.length - 1] as Obj;
      if (last['evaluationTree'] && typeof last['evaluationTree'] === 'object') await this.#handlers.tree(last['evaluationTree'] as Obj);
      return;
    }
    for (const i of items) {
      const event = String(i['Event'] ?? i['event'] ?? '');
      await this.#handlers.campaign((i['campaign'] as Obj)['id'] as number, event === 'campaign_deleted');
      if (i['collection'] !== undefined && i['collection'] !== null) await this.#handlers.collections?.();
    }
  }

  #remember(body: Obj): void {
    for (const it of (body['changedItems'] as Obj[] | undefined) ?? []) {
      const sku = it['sku'];
      if (typeof sku !== 'string') continue;
      const old = this.#book.get(sku);
      if (!old || (it['version'] as number) > (old['version'] as number)) this.#book.set(sku, it);
    }
  }

  /** The price book and the recent uuids become a snapshot; the log keeps nothing it holds. */
  async #compact(): Promise<void> {
    const cutoff = this.#now() - SEEN_MS;
    const seen = [...this.#seen].filter(([, at]) => at >= cutoff).slice(-SEEN_MAX);
    // Memory keeps what the snapshot keeps: X-UUIDs of the last 7 days (at most SEEN_MAX), and the open ones.
    const keep = new Set(seen.map(([u]) => u));
    for (const u of [...this.#seen.keys()]) if (!keep.has(u) && !this.#open.has(u)) this.#seen.delete(u);
    try {
      await this.#snapshots.save({ kind: 'price-book', version: 1, savedAt: this.#now(), data: { items: [...this.#book.values()], seen } });
      // Lines of notifications still open stay (one may have been appended while this ran).
      await this.#log.compact((e) => !e.done && this.#open.has(e.uuid));
    } catch (err) {
      this.#log2.error({ err }, 'head office: inbox compaction failed (the inbox keeps growing until it succeeds)');
    }
  }
}
