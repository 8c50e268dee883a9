/**
 * `storegate headoffice`: the composition root of the head-office sync service (README "Head office sync").
 * It pulls Talon.One's Management API within its rate limit (pull.ts, scheduler.ts), takes Talon.One's
 * notifications (inbox.ts), builds each shop's data and publishes it signed and retained (build.ts,
 * publish.ts), and watches the fleet's status and acks (fleet.ts). Start builds and starts the parts in
 * dependency order; stop undoes it in reverse.
 */
import { readFileSync } from 'node:fs';
import { StoregateError } from '../core/errors.js';
import { FleetClient, type FleetMessage } from '../mqtt/fleet-client.js';
import { systemClock, type Clock } from '../platform/clock.js';
import { DataDirLock } from '../platform/lock.js';
import { FileSnapshotStore } from '../state/snapshot-store.js';
import type { Logger } from '../telemetry/logger.js';
import { ed25519PrivateKey } from '../trust/index.js';
import { Builder, FLEET, type BuildProblem } from './build.js';
import { PullCache } from './cache.js';
import type { LoadedHeadOffice } from './config.js';
import { Fleet, KINDS, type AckKind, type ShopView } from './fleet.js';
import { buildHeadOfficeApp } from './http.js';
import { Inbox } from './inbox.js';
import { HeadOfficeMetrics } from './metrics.js';
import { ManagementClient, type HttpGet } from './mgmt-client.js';
import { Publisher } from './publish.js';
import { Puller } from './pull.js';
import { EndpointLimiter } from './rate-limit.js';
import { Scheduler, type PullStatus } from './scheduler.js';
import { Streams, type StreamError } from './streams.js';
import type { FastifyInstance } from 'fastify';

export interface FleetDoc {
  at: string;
  summary: Record<string, number>;
  shops: ShopView[];
  pull: PullStatus;
  broker: { connected: boolean; since: string | null; reconnects: number; broker: string; lastError: string | null };
  pushed: { kind: string; streams: number; fleetWide: boolean; latestVersion: number }[];
  errors: { kind: string; target: string; error: StreamError }[];
  /** Data from Talon.One a shop would refuse (checked with the shop's own validation), left out of the pushes. */
  dataProblems: BuildProblem[];
  inbox: { received: number; pending: number; failed: number; priceItems: number };
}

export interface HeadOfficeOptions {
  loaded: LoadedHeadOffice;
  log: Logger;
  clock?: Clock;
  /** The Management API's network port (default: fetch). */
  get?: HttpGet;
}

export class HeadOffice {
  readonly #o: HeadOfficeOptions;
  readonly #clock: Clock;
  #lock: DataDirLock | null = null;
  #app: FastifyInstance | null = null;
  #broker: FleetClient | null = null;
  #scheduler: Scheduler | null = null;
  #publisher: Publisher | null = null;
  #fleet: Fleet | null = null;
  #streams: Streams | null = null;
  #cache: PullCache | null = null;
  #client: ManagementClient | null = null;
  #inbox: Inbox | null = null;
  #timer: NodeJS.Timeout | null = null;
  #url = '';
  readonly #builder = new Builder();

  constructor(o: HeadOfficeOptions) {
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
  }

  get url(): string {
    return this.#url;
  }

  /** The parts, for tests and the benchmark. */
  get parts() {
    return { cache: this.#cache, publisher: this.#publisher, client: this.#client, scheduler: this.#scheduler, inbox: this.#inbox };
  }

  async start(): Promise<string> {
    const { config, secrets } = this.#o.loaded;
    const log = this.#o.log;
    const clock = this.#clock;
    try {
      this.#lock = await DataDirLock.acquire(config.dataDir);
      const cache = (this.#cache = await PullCache.open(config.dataDir));
      const snapshots = new FileSnapshotStore(config.dataDir);
      const streams = (this.#streams = new Streams(snapshots));
      await streams.start();
      const fleet = (this.#fleet = new Fleet(snapshots, () => clock.now()));
      await fleet.start();
      const metrics = new HeadOfficeMetrics();
      const prefix = config.mqtt.topicPrefix;
      const file = (f: string | null) => (f ? readFileSync(f) : undefined);
      const [ca, cert, key] = [file(config.mqtt.caFile), file(config.mqtt.certFile), file(config.mqtt.keyFile)];
      let publisher: Publisher | null = null;
      const broker = (this.#broker = new FleetClient({
        url: config.mqtt.url,
        clientId: config.mqtt.clientId,
        username: config.mqtt.username,
        password: config.mqtt.password,
        ...(ca ? { ca } : {}),
        ...(cert ? { cert } : {}),
        ...(key ? { key } : {}),
        keepaliveSec: config.mqtt.keepaliveSec,
        sessionExpirySec: config.mqtt.sessionExpirySec,
        reconnect: config.mqtt.reconnect,
        subscriptions: [`${prefix}/+/status`, `${prefix}/+/+/ack`],
        clock,
        log: log.child({ mod: 'broker' }),
        onMessage: (m) => this.#onMessage(m, prefix, fleet, () => publisher, metrics),
      }));
      const client = (this.#client = new ManagementClient({
        baseUrl: config.talon.baseUrl,
        key: secrets.managementKey,
        limiter: new EndpointLimiter({ ratePerSec: config.talon.ratePerSec }, clock),
        clock,
        retry: config.talon.retry,
        timeoutMs: config.talon.timeoutMs,
        log: log.child({ mod: 'pull' }),
        ...(this.#o.get ? { get: this.#o.get } : {}),
      }));
      const inbox: { items: () => ReturnType<Inbox['priceItems']> } = { items: () => this.#inbox?.priceItems() ?? [] };
      publisher = this.#publisher = new Publisher({
        broker,
        builder: this.#builder,
        cache,
        streams,
        signingKey: ed25519PrivateKey(secrets.signingKeyPem),
        signThreads: config.signing.threads,
        topicPrefix: prefix,
        maxMessageBytes: config.mqtt.maxMessageBytes,
        concurrency: config.mqtt.publishConcurrency,
        clock,
        log: log.child({ mod: 'publish' }),
        priceItems: () => inbox.items(),
        onPublished: (kind, target, _v, bytes) => {
          metrics.pushes.inc({ kind, scope: target === FLEET ? 'fleet' : 'store' });
          metrics.pushBytes.inc({ kind }, bytes);
        },
      });
      this.#builder.budgetSplit = config.budgets;
      const puller = new Puller({ client, cache, applicationId: config.talon.applicationId, pageSize: config.talon.pageSize, clock, log: log.child({ mod: 'pull' }), changed: (kinds) => publisher?.schedule(kinds) });
      const scheduler = (this.#scheduler = new Scheduler({ puller, cache, clock, log: log.child({ mod: 'pull' }), ...config.pull }));
      this.#inbox = new Inbox({
        dataDir: config.dataDir,
        log: log.child({ mod: 'inbox' }),
        now: () => clock.now(),
        handlers: {
          prices: (body) => (publisher as Publisher).prices(body),
          campaign: async (id, deleted) => scheduler.campaign(id, deleted),
          collections: async () => scheduler.collections(),
          tree: async (tree) => {
            await cache.record({ t: 'tree', v: tree });
            publisher?.schedule(['rules']);
          },
        },
      });
      await this.#inbox.start();
      metrics.bind(() => this.fleetDoc().shops, () => client.stats());
      const app = (this.#app = buildHeadOfficeApp({
        log: log.child({ mod: 'http' }),
        bodyLimit: config.notifications.maxBytes,
        notificationHeader: config.notifications.header,
        notificationSecret: secrets.notificationSecret,
        adminToken: config.http.adminToken,
        receive: (uuid, body) => (this.#inbox as Inbox).receive(uuid, body),
        onNotification: (kind, outcome) => metrics.notifications.inc({ kind, outcome }),
        fleet: () => this.fleetDoc(),
        metrics: () => metrics.registry.metrics(),
        now: () => clock.now(),
      }));
      try {
        this.#url = await app.listen({ host: config.http.host, port: config.http.port });
      } catch (err) {
        throw new StoregateError('SG_ERR_LISTEN', `cannot listen on ${config.http.host}:${config.http.port} (${(err as NodeJS.ErrnoException).code ?? 'error'}): another process uses the port, or the address is not this machine's`, { cause: err });
      }
      broker.start();
      scheduler.start();
      this.#timer = setInterval(() => void fleet.save().catch((err: unknown) => log.error({ err }, 'head office: cannot save the fleet view')), 5000);
      this.#timer.unref();
      log.info({ mod: 'headoffice', url: this.#url, application: config.talon.applicationId, broker: broker.stats().broker, dataDir: config.dataDir }, 'storegate head office started');
      return this.#url;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    const log = this.#o.log;
    const step = async (name: string, f: () => Promise<unknown> | unknown) => {
      try {
        await f();
      } catch (err) {
        log.error({ err, step: name }, 'head office: stop step failed');
      }
    };
    if (this.#timer) clearInterval(this.#timer);
    await step('scheduler', () => this.#scheduler?.stop());
    await step('http', () => this.#app?.close());
    this.#publisher?.stop();
    await step('inbox', () => this.#inbox?.idle());
    await step('broker', () => this.#broker?.stop());
    await step('streams', () => this.#streams?.save());
    await step('fleet', () => this.#fleet?.save());
    await step('lock', () => this.#lock?.release());
    this.#lock = null;
  }

  /** Resolves once the first sync has been pulled and published (tests, the benchmark). */
  async synced(timeoutMs = 600_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = this.#cache?.marks;
      if (this.#scheduler?.initialDone && m && m.fullDone > 0 && m.couponsDone > 0 && m.loyaltyDone > 0 && m.collectionsDone > 0) {
        await this.#publisher?.idle();
        return;
      }
      if (Date.now() > end) throw new Error('head office: first sync not done in time');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  fleetDoc(): FleetDoc {
    const { config } = this.#o.loaded;
    const streams = this.#streams as Streams;
    const shops = (this.#fleet as Fleet).view({ streams, stores: (this.#cache?.stores ?? []).map((s) => String(s['integrationId'])), staleAfterSec: config.fleet.staleAfterSec, lagAfterSec: config.fleet.lagAfterSec });
    const summary: Record<string, number> = {};
    for (const s of shops) summary[s.state] = (summary[s.state] ?? 0) + 1;
    const all = streams.all();
    const pushed = (['rules', 'coupons', 'loyalty', 'prices', 'collections'] as const).map((kind) => {
      const mine = all.filter((r) => r.kind === kind && r.version > 0);
      return { kind, streams: mine.length, fleetWide: mine.some((r) => r.target === FLEET), latestVersion: Math.max(0, ...mine.map((r) => r.version)) };
    });
    return {
      at: new Date(this.#clock.now()).toISOString(),
      summary,
      shops,
      pull: (this.#scheduler as Scheduler).status(),
      broker: (this.#broker as FleetClient).stats(),
      pushed,
      errors: all.filter((r) => r.error).map((r) => ({ kind: r.kind, target: r.target, error: r.error as StreamError })),
      dataProblems: [...this.#builder.problems],
      inbox: (this.#inbox as Inbox).stats(),
    };
  }

  #onMessage(m: FleetMessage, prefix: string, fleet: Fleet, publisher: () => Publisher | null, metrics: HeadOfficeMetrics): void {
    if (!m.topic.startsWith(`${prefix}/`) || m.payload.length === 0 || m.payload.length > 65_536) return;
    const parts = m.topic.slice(prefix.length + 1).split('/');
    const store = parts[0] as string;
    if (store === FLEET || store === '') return;
    let body: Record<string, unknown>;
    try {
      const v: unknown = JSON.parse(m.payload.toString('utf8'));
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return;
      body = v as Record<string, unknown>;
    } catch {
      return; // not ours to judge: a shop publishes JSON; anything else on these topics is ignored
    }
    if (parts.length === 2 && parts[1] === 'status') return fleet.status(store, body, m.retained);
    if (parts.length === 3 && parts[2] === 'ack' && (KINDS as readonly string[]).includes(parts[1] as string)) {
      const kind = parts[1] as AckKind;
      const applied = fleet.ack(store, kind, body);
      // A retained ack is history (it came with the subscription): only a live one can show a gap.
      if (!applied || m.retained || kind === 'config') return;
      void publisher()
        ?.acked(store, kind, applied.version, applied.before)
        .then((repaired) => {
          if (repaired) metrics.repairs.inc({ kind });
        })
        .catch((err: unknown) => this.#o.log.warn({ err: (err as Error).message, store, kind }, 'head office: repair push failed; it is tried again at the next ack'));
    }
  }
}
