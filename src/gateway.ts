import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { LoadedConfig } from './config/load.js';
import type { Clock } from './platform/clock.js';
import { systemClock } from './platform/clock.js';
import type { Logger } from './telemetry/logger.js';
import { Metrics } from './telemetry/metrics.js';
import { UpstreamClient } from './upstream/client.js';
import { UpstreamProbe } from './upstream/probe.js';
import { Checkout } from './checkout/checkout.js';
import { LocalAnswers } from './checkout/local-answers.js';
import { LocalState } from './checkout/local-state.js';
import { followUpstreamSession } from './checkout/follow.js';
import { LocalData, type DataKind } from './engine/index.js';
import { FileSnapshotStore } from './state/snapshot-store.js';
import { Journal } from './journal/index.js';
import { Flusher } from './journal/flusher.js';
import { ReconciliationLog } from './journal/reconciliation.js';
import { buildApp } from './http/app.js';
import { TerminalAuth } from './http/auth.js';
import { terminalRoutes } from './http/terminal-routes.js';
import { opsRoutes, type StatusDoc } from './http/ops-routes.js';
import { adminRoutes } from './http/admin-routes.js';
import { VERSION } from './version.js';

export interface GatewayOptions {
  loaded: LoadedConfig;
  log: Logger;
  clock?: Clock;
  /** Collect Node's default process metrics (off in tests that run many gateways). */
  defaultMetrics?: boolean;
  /** Background probe period while the upstream is down. */
  probeIntervalMs?: number;
}

/** Memory figures for technicians (MB): a leak shows here long before the OOM killer acts. */
function processFigures(): Record<string, number> {
  const m = process.memoryUsage();
  const mb = (b: number) => Math.round((b / 1048576) * 10) / 10;
  return { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external) };
}

/**
 * The composition root: builds every part from the config, starts them in order and stops them in reverse.
 * The constructor only stores its inputs; `start()` does the work.
 */
export class Gateway {
  readonly #opts: GatewayOptions;
  readonly #clock: Clock;
  #app: FastifyInstance | null = null;
  #upstream: UpstreamClient | null = null;
  #probe: UpstreamProbe | null = null;
  #metrics: Metrics | null = null;
  #journal: Journal | null = null;
  #localData: LocalData | null = null;
  #state: LocalState | null = null;
  #flusher: Flusher | null = null;
  #reconciliation: ReconciliationLog | null = null;
  #url: string | null = null;
  #startedAt = 0;

  constructor(opts: GatewayOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
  }

  get url(): string {
    if (!this.#url) throw new Error('gateway not started');
    return this.#url;
  }

  get metrics(): Metrics {
    if (!this.#metrics) throw new Error('gateway not started');
    return this.#metrics;
  }

  get upstream(): UpstreamClient | null {
    return this.#upstream;
  }

  get journal(): Journal | null {
    return this.#journal;
  }

  get localData(): LocalData | null {
    return this.#localData;
  }

  async start(): Promise<string> {
    const { loaded, log } = this.#opts;
    const { config } = loaded;
    const clock = this.#clock;
    this.#startedAt = clock.now();
    for (const w of loaded.warnings) log.warn({ mod: 'config' }, w);
    const metrics = new Metrics({ defaultMetrics: this.#opts.defaultMetrics ?? true });
    this.#metrics = metrics;

    // Local data first: the engine must be able to answer before the first terminal call.
    const store = new FileSnapshotStore(config.dataDir);
    const localData = new LocalData({
      store,
      clock,
      storeIntegrationId: config.store.integrationId,
      storeAttributes: config.store.attributes,
      log: log.child({ mod: 'engine' }),
    });
    this.#localData = localData;
    await localData.start();
    for (const kind of ['rules', 'prices', 'coupons', 'loyalty'] as DataKind[]) {
      const file = config.dataFiles[kind];
      if (!file) continue;
      const r = await localData.ingestFile(kind, file);
      log.info({ mod: 'engine', kind, file: path.basename(file), version: r.version, changed: r.changed }, 'local data file loaded');
    }

    // The journal: recovery (torn tail) happens here, before any answer can be given.
    const journal = await Journal.open({
      dir: path.join(config.dataDir, 'journal'),
      maxBytes: config.journal.maxBytes,
      clock,
      log: log.child({ mod: 'journal' }),
    });
    this.#journal = journal;
    const state = new LocalState({ store, clock, log: log.child({ mod: 'state' }), maxOfflineLoyaltyDeduction: config.offline.maxOfflineLoyaltyDeduction });
    this.#state = state;
    await state.start(journal.undelivered());

    if (config.upstream.baseUrl && loaded.apiKey) {
      this.#upstream = new UpstreamClient({
        baseUrl: config.upstream.baseUrl,
        apiKey: loaded.apiKey,
        timeoutMs: config.upstream.timeoutMs,
        connections: config.upstream.connections,
        retry: config.upstream.retry,
        clock,
        log: log.child({ mod: 'upstream' }),
        metrics,
      });
      this.#probe = new UpstreamProbe(this.#upstream, log.child({ mod: 'probe' }), this.#opts.probeIntervalMs);
      this.#probe.start();
    }

    const localAnswers = new LocalAnswers({ localData, journal, state, clock, storeIntegrationId: config.store.integrationId, log: log.child({ mod: 'local' }) });
    const checkout = new Checkout({
      mode: config.mode,
      storeIntegrationId: config.store.integrationId,
      upstream: this.#upstream,
      local: localAnswers,
      pending: (key) => journal.hasUndelivered(key),
      onUpstreamSession: (req, status, fields) => followUpstreamSession(state, req, status, fields, clock, config.store.integrationId),
      timeoutMs: config.upstream.timeoutMs,
      log: log.child({ mod: 'checkout' }),
    });

    const reconciliation = new ReconciliationLog(store);
    await reconciliation.start();
    this.#reconciliation = reconciliation;
    if (this.#upstream) {
      this.#flusher = new Flusher({
        journal,
        upstream: this.#upstream,
        clock,
        log: log.child({ mod: 'flusher' }),
        metrics,
        concurrency: config.journal.flushConcurrency,
        reconciliation,
        retry: { baseMs: config.upstream.retry.baseMs, maxMs: config.upstream.retry.maxMs },
        beforeMarkDelivered: () => state.ensureLedgerSaved(),
        liveBusy: () => checkout.liveBusy(),
      });
      this.#flusher.start();
    }

    const app = buildApp({ bodyLimitBytes: config.http.bodyLimitBytes, log, metrics });
    await app.register(terminalRoutes, { auth: new TerminalAuth(config.terminals), checkout });
    await app.register(opsRoutes, {
      adminToken: config.adminToken,
      metrics,
      status: () => this.status(),
      ready: () => ({ ready: this.#journal !== null, reasons: this.#journal ? [] : ['journal not open'] }),
    });
    await app.register(adminRoutes, {
      adminToken: config.adminToken,
      localData,
      journal,
      flush: () => this.flushNow(),
      reconciliation: () => reconciliation.list(),
    });
    this.#app = app;
    this.#url = await app.listen({ host: config.http.host, port: config.http.port });
    log.info({ mod: 'gateway', url: this.#url, mode: config.mode, store: config.store.integrationId, config: loaded.source }, 'storegate listening');
    return this.#url;
  }

  /** An operator's flush (`storegate journal flush`): deliver what can be delivered now. */
  async flushNow(): Promise<Record<string, unknown>> {
    if (!this.#flusher) return { ok: false, reason: 'no upstream configured (upstream.baseUrl and an API key)' };
    await this.#probe?.tick();
    const report = await this.#flusher.flushNow();
    return { ok: true, ...report, journal: this.#journal?.stats() };
  }

  /** The `/status` document (CONTRACT §4). Never carries a secret. */
  status(): StatusDoc {
    const { config } = this.#opts.loaded;
    const up = this.#upstream?.health.snapshot();
    const j = this.#journal?.stats();
    const cache = this.#localData?.status();
    return {
      version: VERSION,
      mode: config.mode,
      store: config.store.integrationId,
      uptimeSec: Math.round((this.#clock.now() - this.#startedAt) / 1000),
      upstream: up
        ? { state: up.state, lastOkAt: up.lastOkAt, latencyMsP50: up.latencyMsP50, latencyMsP95: up.latencyMsP95, lastError: up.lastError }
        : { state: 'down', lastOkAt: null, latencyMsP50: null, latencyMsP95: null, lastError: 'no upstream configured' },
      journal: j ? { depth: j.depth, bytes: j.bytes, oldestAgeSec: j.oldestAgeSec, dead: j.dead, segments: j.segments, lastSeq: j.lastSeq } : null,
      flush: this.#flusher?.stats() ?? null,
      cache: cache
        ? {
            rulesVersion: cache.rulesVersion,
            pricesVersion: cache.pricesVersion,
            couponsVersion: cache.couponsVersion,
            loyaltyVersion: cache.loyaltyVersion,
            updatedAt: cache.updatedAt,
            pricedSkus: cache.pricedSkus,
            coupons: cache.coupons,
            campaigns: cache.campaigns,
          }
        : null,
      reconciliation: this.#reconciliation?.list().length ?? 0,
      clockSkewMs: up?.clockSkewMs ?? null,
      process: processFigures(),
    };
  }

  /** Stops taking requests, lets in-flight ones finish, then syncs and closes the journal. */
  async stop(): Promise<void> {
    this.#probe?.stop();
    await this.#app?.close();
    await this.#flusher?.stop();
    await this.#state?.stop();
    await this.#journal?.close();
    await this.#upstream?.close();
    this.#opts.log.info({ mod: 'gateway' }, 'storegate stopped');
  }
}
