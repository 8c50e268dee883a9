import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { LoadedConfig } from '../config/load.js';
import type { Clock } from '../platform/clock.js';
import { systemClock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import { Metrics } from '../telemetry/metrics.js';
import { UpstreamClient } from '../upstream/client.js';
import { UpstreamProbe } from '../upstream/probe.js';
import { Checkout } from '../checkout/checkout.js';
import { LocalAnswers } from '../checkout/local-answers.js';
import { LiveCalls } from '../checkout/live-calls.js';
import { followUpstreamSession } from '../checkout/follow.js';
import type { LocalData } from '../engine/index.js';
import { openStorage, type Storage } from './storage.js';
import type { Journal } from '../journal/index.js';
import { Flusher } from '../delivery/flusher.js';
import { ReconciliationLog } from '../delivery/reconciliation.js';
import { DeadLetters } from '../delivery/dead-letters.js';
import { buildApp } from '../http/app.js';
import { closeDraining, InFlight } from '../http/drain.js';
import { TerminalAuth } from '../http/auth.js';
import { terminalRoutes } from '../http/terminal-routes.js';
import { opsRoutes, type StatusDoc } from '../http/ops-routes.js';
import { adminRoutes } from '../http/admin-routes.js';
import { injectInvoker } from '../http/inject.js';
import { VERSION } from '../version.js';
import { ConfigRuntime } from '../config/runtime.js';
import { withPushedOverlay } from '../config/overlay.js';
import { setLogLevel } from '../telemetry/logger.js';
import { loadTrustedKeys, type TrustedKey } from '../trust/index.js';
import { PushVersions } from '../pushes/versions.js';
import { PushService, type PushAck } from '../pushes/service.js';
import type { MqttBridge } from '../mqtt/bridge.js';
import { AlertBus } from '../alerts/bus.js';
import { AlertWatch } from '../alerts/watch.js';
import { liveConfigApplier } from './live-config.js';
import { DataDirLock } from '../platform/lock.js';
import { SerialService } from '../serial/service.js';
import { scanRoutes } from '../http/scan-routes.js';
import { statusUiRoutes, trackTerminalActivity } from '../http/status-ui.js';
import { TerminalActivity } from '../status/activity.js';
import { StatusHistory } from '../status/history.js';
import { mqttStatusDocument, statusDocument, type StatusParts } from '../status/document.js';
import { listenOrExplain } from '../http/listen.js';
import { AttributeTrimmer } from '../trim/trimmer.js';
import { AnswerChecker } from '../answers/checker.js';
import { OverrideAudit } from '../overrides/audit.js';
import { edgeLiveApplier } from './live-edge.js';
import { explainRoutes } from '../http/explain-routes.js';
import { explainSession } from '../checkout/explain-session.js';
import { fallbackOf } from '../config/fallback.js';
import { HttpsFront } from '../tls/server.js';

/** When Node's process metrics are registered, after the server listens. */
const PROCESS_METRICS_AFTER_MS = 1000;

export interface GatewayOptions {
  loaded: LoadedConfig;
  log: Logger;
  clock?: Clock;
  /** Collect Node's default process metrics (off in tests that run many gateways). */
  defaultMetrics?: boolean;
  /** Background probe period while the upstream is down. */
  probeIntervalMs?: number;
}

/**
 * The composition root: builds every part from the config, starts them in order and stops them in reverse.
 * The constructor only stores its inputs; `start()` does the work.
 */
export class Gateway {
  readonly #opts: GatewayOptions;
  readonly #clock: Clock;
  #app: FastifyInstance | null = null;
  #inFlight: InFlight | null = null;
  #upstream: UpstreamClient | null = null;
  #probe: UpstreamProbe | null = null;
  #metrics: Metrics | null = null;
  #deadLetters: DeadLetters | null = null;
  #flusher: Flusher | null = null;
  #reconciliation: ReconciliationLog | null = null;
  #runtime: ConfigRuntime | null = null;
  /** The data dir's parts, each set as soon as it is open (src/gateway/storage.ts). */
  readonly #disk: Partial<Storage> = {};
  #checkout: Checkout | null = null;
  #pushes: PushService | null = null;
  #mqtt: MqttBridge | null = null;
  #alerts: AlertBus | null = null;
  #watch: AlertWatch | null = null;
  #url: string | null = null;
  #startedAt = 0;
  #lock: DataDirLock | null = null;
  #serial: SerialService | null = null;
  #activity: TerminalActivity | null = null;
  #history: StatusHistory | null = null;
  /** Lean payloads, checked answers, manual overrides (README sections of those names). */
  #edge: { trimmer: AttributeTrimmer; checker: AnswerChecker; overrides: OverrideAudit } | null = null;
  #https: HttpsFront | null = null;

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
    return this.#disk.journal ?? null;
  }

  /** Dead letters: list, retry, discard (README "Dead letters"). */
  get deadLetters(): DeadLetters | null {
    return this.#deadLetters;
  }

  get localData(): LocalData | null {
    return this.#disk.localData ?? null;
  }

  /** The running config (file + pushed overlay). */
  get config(): ConfigRuntime {
    if (!this.#runtime) throw new Error('gateway not started');
    return this.#runtime;
  }

  get mqtt(): MqttBridge | null {
    return this.#mqtt;
  }

  get alerts(): AlertBus | null {
    return this.#alerts;
  }

  /** The HTTP app, for calls in process (`inject`: the same hooks, routes and bodies as over the LAN). */
  get app(): FastifyInstance | null {
    return this.#app;
  }

  /** HTTPS for terminals (null without http.tls): its status and the loopback health port. */
  get https(): HttpsFront | null {
    return this.#https;
  }

  /** The push gate (signature, version floor, apply) that MQTT and HTTP pushes go through. */
  get pushes(): PushService | null {
    return this.#pushes;
  }

  /**
   * Takes the data dir lock before anything touches the data dir, then builds and starts every part. A start
   * that fails midway stops what it had started (timers, flusher, broker link, journal) and releases the lock.
   */
  async start(): Promise<string> {
    this.#lock = await DataDirLock.acquire(this.#opts.loaded.config.dataDir);
    try {
      return await this.#start();
    } catch (err) {
      await this.stop().catch((stopErr: unknown) => this.#opts.log.error({ err: stopErr }, 'cleanup after a failed start failed'));
      throw err;
    }
  }

  async #start(): Promise<string> {
    const { log } = this.#opts;
    const clock = this.#clock;
    this.#startedAt = clock.now();
    // The config file plus what head office pushed (kept in the data dir).
    const over = await withPushedOverlay(this.#opts.loaded);
    if (over.warning) log.warn({ mod: 'config' }, over.warning);
    const runtime = new ConfigRuntime({ file: this.#opts.loaded, current: over.loaded, overlay: over.overlay, now: () => clock.now() });
    this.#runtime = runtime;
    const loaded = runtime.current;
    const { config } = loaded;
    setLogLevel(log, config.log.level);
    for (const w of loaded.warnings) log.warn({ mod: 'config' }, w);
    let trustedKeys: readonly TrustedKey[] = loadTrustedKeys(config.trust.publicKeys);
    // Node's process metrics are registered a second after the server listens (below), not before /readyz.
    const metrics = new Metrics({ defaultMetrics: false });
    this.#metrics = metrics;
    const alerts = new AlertBus(config.store.integrationId, () => clock.now());
    this.#alerts = alerts;
    const alertLog = log.child({ mod: 'alerts' });
    alerts.subscribe((a) => {
      metrics.alerts.inc({ kind: a.kind });
      alertLog.warn({ alert: a }, `alert: ${a.kind}`);
    });

    // What is on disk, opened in order before any answer can be given (src/gateway/storage.ts).
    const { store, localData, journal, reserve, deadStore, replay, state } = await openStorage({ config, clock, log }, this.#disk);

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

    const localAnswers = new LocalAnswers({ replay, localData, journal, state, clock, storeIntegrationId: config.store.integrationId, log: log.child({ mod: 'local' }) });
    // Live calls that missed their deadline hold their session's delivery until they are over (README "Durability and the journal").
    const liveCalls = new LiveCalls({ clock, log: log.child({ mod: 'checkout' }), metrics });
    // Serial scanners (README "Serial scanners"): built here because checkout merges their scanned coupons.
    const serial = new SerialService({
      ports: config.serial, localData, clock, log: log.child({ mod: 'serial' }), metrics, alert: (a) => alerts.emit(a),
      publishScan: (t, e) => this.#mqtt?.scan(t, { ...e }), publishPriceCheck: (id, a) => this.#mqtt?.priceCheck(id, { ...a }),
    });
    this.#serial = serial;
    // Lean payloads and checked answers (README sections of those names): both on the live path only.
    const trimmer = new AttributeTrimmer({ settings: config.upstream.trimAttributes, reads: () => localData.readAttributes(), registry: metrics.registry, log: log.child({ mod: 'trim' }) });
    const checker = new AnswerChecker({
      // Before any rules data arrives no campaign is known, so none can be called unknown.
      settings: config.upstream.checkAnswers, knownCampaign: (id) => localData.versions().rules === 0 || localData.engine().data.rules.campaigns.has(id), registry: metrics.registry,
      log: log.child({ mod: 'answers' }), alert: (a) => alerts.emit(a), monotonic: () => clock.monotonic(), now: () => clock.now(),
    });
    await checker.start();
    const checkout = new Checkout({
      mode: config.mode,
      storeIntegrationId: config.store.integrationId,
      upstream: this.#upstream,
      local: localAnswers,
      // A retried dead letter is undelivered too: its session stays local until it is upstream.
      pending: (key) => journal.hasUndelivered(key) || deadStore.retryingKey(key),
      liveCalls,
      onUpstreamSession: (req, status, fields, answer) =>
        followUpstreamSession(state, req, status, fields, clock, config.store.integrationId, answer, (code) => {
          const c = localData.coupon(code);
          return c !== undefined && (c.usageLimit ?? 0) === 0;
        }),
      timeoutMs: config.upstream.timeoutMs,
      log: log.child({ mod: 'checkout' }),
      scannedCoupons: serial.coupons,
      serializeUpdate: (b) => trimmer.serialize(b),
      checkAnswer: (req, b, res) => checker.check(req, b, res),
      observe: (req, a) => overrides.observe(req, a),
    });
    this.#checkout = checkout;

    const reconciliation = new ReconciliationLog({ file: path.join(config.dataDir, 'state', 'reconciliation.log'), legacy: store });
    await reconciliation.start();
    this.#reconciliation = reconciliation;
    // Manual overrides (README "Manual overrides"): counted per terminal and day, the offline ones reconciled.
    const overrides = new OverrideAudit({
      settings: config.overrides, store, now: () => clock.now(), timeZone: () => localData.engine().data.rules.timezone, reconciliation,
      alert: (a) => alerts.emit(a), registry: metrics.registry, log: log.child({ mod: 'overrides' }),
    });
    await overrides.start();
    this.#edge = { trimmer, checker, overrides };
    if (this.#upstream) {
      this.#flusher = new Flusher({
        journal,
        upstream: this.#upstream,
        clock,
        log: log.child({ mod: 'flusher' }),
        metrics,
        concurrency: config.journal.flushConcurrency,
        reconciliation,
        deadLetters: deadStore,
        onDiskFull: () => reserve.release(),
        retry: { baseMs: config.upstream.retry.baseMs, maxMs: config.upstream.retry.maxMs },
        // The ledger and the replay answers of these records must be durable elsewhere before the records can go.
        beforeMarkDelivered: async (seqs) => {
          await state.beforeDelivered(seqs);
          await replay.persist(seqs);
        },
        liveBusy: () => checkout.liveBusy(),
        liveCalls,
        onAlert: (a) => alerts.emit(a),
        onUpstreamEffects: (rec) => state.confirmUses(rec),
        serializeUpdate: (b) => trimmer.serialize(b),
      });
      this.#flusher.start();
    }
    const flusher = this.#flusher;
    const deadLetters = new DeadLetters({
      store: deadStore,
      redeliver: flusher ? (letters) => flusher.redeliver(letters) : null,
      beforeRemove: async (seqs) => {
        await state.beforeDelivered(seqs);
        await replay.persist(seqs);
      },
      alert: (a) => alerts.emit(a),
      clock,
      log: log.child({ mod: 'delivery' }),
    });
    this.#deadLetters = deadLetters;

    const pushVersions = new PushVersions(store);
    await pushVersions.start();
    const pushes = new PushService({
      storeIntegrationId: config.store.integrationId,
      keys: () => trustedKeys,
      maxBytes: config.mqtt.maxPushBytes,
      versions: pushVersions,
      config: runtime,
      localData,
      clock,
      log: log.child({ mod: 'pushes' }),
      onOutcome: (kind, ack, via) => {
        metrics.pushes.inc({ kind, via, outcome: ack.ok ? 'applied' : 'refused' });
        if (ack.ok && ack.version !== null) metrics.pushVersion.set({ kind }, ack.version);
        // Pushes over HTTP are acknowledged on MQTT too, so head office sees every outcome in one place.
        if (via === 'http') this.#mqtt?.publishAck(kind, ack);
      },
    });
    this.#pushes = pushes;

    const auth = new TerminalAuth(config.terminals);
    // HTTPS for terminals when http.tls names a certificate (src/tls/: reload, plain HTTP refused, mutual TLS).
    this.#https = config.http.tls.certFile ? await HttpsFront.open({ http: config.http, log: log.child({ mod: 'tls' }), now: () => clock.now() }) : null;
    const app = buildApp({ bodyLimitBytes: config.http.bodyLimitBytes, log, metrics, https: this.#https?.serverOptions() });
    this.#https?.attach(app);
    // The status page (README "Status page"): terminals seen, and the last hour's plots.
    const activity = new TerminalActivity({ configured: () => runtime.config.terminals.map((t) => t.id), now: () => clock.now() });
    this.#activity = activity;
    trackTerminalActivity(app, activity);
    const history = new StatusHistory({
      clock,
      readings: { upstreamP50Ms: () => this.#upstream?.health.snapshot().latencyMsP50 ?? null, journalDepth: () => journal.stats().depth, answers: () => activity.answers() },
    });
    this.#history = history;
    this.#inFlight = new InFlight(app.server);
    await app.register(terminalRoutes, { auth, checkout });
    await app.register(scanRoutes, { auth, scans: serial.scans });
    await app.register(opsRoutes, {
      adminToken: () => runtime.config.adminToken,
      metrics,
      status: () => this.status(),
      ready: () => ({ ready: this.#disk.journal !== undefined, reasons: this.#disk.journal ? [] : ['journal not open'] }),
    });
    await app.register(statusUiRoutes, { status: () => this.status(), history: () => history.snapshot(), now: () => clock.now(), monotonic: () => clock.monotonic(), version: VERSION });
    await app.register(adminRoutes, {
      adminToken: () => runtime.config.adminToken,
      pushes,
      journal,
      deadLetters,
      flush: (waitMs) => this.flushNow({ waitMs }),
      reconciliation: () => reconciliation.list(),
    });
    await app.register(explainRoutes, { adminToken: () => runtime.config.adminToken, explain: (id, at) => explainSession({ localData, state }, id, at) });
    this.#app = app;

    // What a pushed config changes at once (the rest waits for a restart: ConfigRuntime reports it).
    runtime.onChange(edgeLiveApplier({ trimmer, checker, overrides }));
    runtime.onChange(liveConfigApplier({ log, checkout, upstream: this.#upstream, auth, state, setTrustedKeys: (k) => (trustedKeys = k), setFallback: (c) => localData.setFallback(fallbackOf(c)) }));

    this.#url = await listenOrExplain(app, config.http.host, config.http.port);
    // Node's process metrics (prom-client's defaults: CPU, memory, heap spaces, event-loop lag) cost an empty start
    // ~15 ms that neither /readyz nor a terminal waits for; the route validators are compiled at the same time
    // (src/http/app.ts).
    if (this.#opts.defaultMetrics ?? true) setTimeout(() => metrics.collectProcessMetrics(), PROCESS_METRICS_AFTER_MS).unref();
    await this.#https?.afterListen(app, this.#url);

    if (config.mqtt.url) {
      const mqttLog = log.child({ mod: 'mqtt' });
      const invoke = injectInvoker(app);
      // Loaded only here: a shop without a broker never loads MQTT.js (~600 KB of the bundle, ~3 MiB of heap,
      // ~18 ms of every start). Terminals are served before this line either way.
      const { MqttBridge } = await import('../mqtt/bridge.js');
      const bridge = new MqttBridge({
        config: { ...config.mqtt, url: config.mqtt.url },
        storeIntegrationId: config.store.integrationId,
        clock,
        log: mqttLog,
        status: () => mqttStatusDocument(this.#statusParts()),
        onPush: async (kind, payload): Promise<PushAck | null> => {
          const ack = await pushes.signed(kind, payload, 'mqtt');
          if (ack.duplicate) {
            metrics.pushes.inc({ kind, via: 'mqtt', outcome: 'duplicate' });
            return null;
          }
          return ack;
        },
        invoke,
        identify: (token) => auth.authenticate(`ApiKey-v1 ${token}`),
        onRpcAnswered: (method, status, ms) => {
          metrics.rpcRequests.inc({ method, status: String(status) });
          metrics.rpcDuration.observe({ method }, ms / 1000);
        },
      });
      this.#mqtt = bridge;
      metrics.mqttStats = () => bridge.stats();
      alerts.subscribe((a) => bridge.alert(a));
      bridge.start(); // never waits for the broker: terminals are served either way
    }
    metrics.serialStats = () => serial.status();
    serial.start(); // never waits for a device: an absent scanner is retried in the background
    this.#watch = new AlertWatch({
      bus: alerts,
      upstream: this.#upstream,
      dataDir: config.dataDir,
      diskLowBytes: () => runtime.config.journal.diskLowBytes,
      log: log.child({ mod: 'alerts' }),
    });
    this.#watch.start();
    history.start();
    log.info({ mod: 'gateway', url: this.#url, mode: config.mode, store: config.store.integrationId, config: loaded.source, mqtt: config.mqtt.url !== null }, 'storegate listening');
    return this.#url;
  }

  /** The parts the status documents read (src/status/document.ts). */
  #statusParts(): StatusParts {
    return {
      config: this.#runtime?.config ?? this.#opts.loaded.config,
      now: this.#clock.now(),
      startedAt: this.#startedAt,
      mode: this.#checkout?.mode ?? null,
      configVersion: this.#runtime?.version ?? 0,
      pendingRestart: this.#runtime?.pendingRestart ?? [],
      upstream: this.#upstream,
      journal: this.#disk.journal ?? null,
      deadLetters: this.#deadLetters?.count ?? 0,
      diskReserve: this.#disk.reserve?.present ?? false,
      localData: this.#disk.localData ?? null,
      flusher: this.#flusher,
      reconciliation: this.#reconciliation?.count ?? 0,
      edge: this.#edge,
      mqtt: this.#mqtt,
      pushes: this.#pushes,
      alerts: this.#alerts,
      serial: this.#serial,
      activity: this.#activity,
      https: this.#https,
    };
  }

  /**
   * Entries held in memory by each bounded part (README "Memory and retention"): what a soak run watches, and
   * what a technician compares with the bounds when the RSS grows.
   */
  stateSizes(): Record<string, number> {
    return {
      ...(this.#disk.state?.sizes() ?? {}),
      replayCache: this.#disk.replay?.size ?? 0,
      replayBytes: this.#disk.replay?.bytes ?? 0,
      reconciliation: this.#reconciliation?.count ?? 0,
      journalDepth: this.#disk.journal?.stats().depth ?? 0,
      deadLetters: this.#deadLetters?.count ?? 0,
    };
  }

  /**
   * An operator's flush (`storegate journal flush`): deliver what can be delivered now, waiting at most `waitMs`
   * (the probe of a Talon.One marked down included); what is left goes on in the background.
   */
  async flushNow(opts: { waitMs?: number } = {}): Promise<Record<string, unknown>> {
    if (!this.#flusher) return { ok: false, reason: 'no upstream configured (upstream.baseUrl and an API key)' };
    const waitMs = opts.waitMs ?? 30_000;
    const deadline = performance.now() + waitMs;
    if (this.#probe) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#probe.tick(), new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      clearTimeout(timer);
    }
    const report = await this.#flusher.flushNow({ timeoutMs: Math.max(0, deadline - performance.now()) });
    const j = this.#disk.journal?.stats();
    return { ok: true, ...report, journal: j ? { ...j, dead: this.#deadLetters?.count ?? 0 } : undefined };
  }

  /** The `/status` document (README "Operations API"). Never carries a secret. */
  status(): StatusDoc {
    return statusDocument(this.#statusParts());
  }

  /**
   * Stops taking requests, lets in-flight ones finish (for at most `drainMs`, then they are cut: README
   * "Shutdown"), then syncs and closes the journal.
   */
  async stop(opts: { drainMs?: number } = {}): Promise<void> {
    const log = this.#opts.log;
    // Each part stops on its own: one that fails does not keep the others (or the lock) held.
    const step = async (name: string, f: () => unknown) => {
      try {
        await f();
      } catch (err) {
        log.error({ mod: 'gateway', err, part: name }, 'stopping a part failed');
      }
    };
    await step('probe', () => this.#probe?.stop());
    await step('status history', () => this.#history?.stop());
    await step('alerts', () => this.#watch?.stop());
    await step('serial', () => this.#serial?.stop());
    // A clean `{"online":false}` first (no Last Will), and no more RPC or pushes taken in.
    await step('mqtt', () => this.#mqtt?.stop());
    await step('http', () => this.#app && this.#inFlight && closeDraining(this.#app, this.#inFlight, opts.drainMs ?? 2 ** 31 - 1, log));
    await step('https', () => this.#https?.stop());
    await step('flusher', () => this.#flusher?.stop());
    await step('dead letters', () => this.#disk.deadStore?.idle());
    await step('state', () => this.#disk.state?.stop());
    await step('replay cache', () => this.#disk.replay?.stop());
    await step('journal', () => this.#disk.journal?.close());
    this.#disk.reserve?.stop();
    await step('upstream', () => this.#upstream?.close());
    await step('lock', () => this.#lock?.release());
    this.#lock = null;
    log.info({ mod: 'gateway' }, 'storegate stopped');
  }

}
