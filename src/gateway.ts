import type { FastifyInstance } from 'fastify';
import type { LoadedConfig } from './config/load.js';
import type { Clock } from './platform/clock.js';
import { systemClock } from './platform/clock.js';
import type { Logger } from './telemetry/logger.js';
import { Metrics } from './telemetry/metrics.js';
import { UpstreamClient } from './upstream/client.js';
import { UpstreamProbe } from './upstream/probe.js';
import { Checkout } from './checkout/checkout.js';
import { buildApp } from './http/app.js';
import { TerminalAuth } from './http/auth.js';
import { terminalRoutes } from './http/terminal-routes.js';
import { opsRoutes, type StatusDoc } from './http/ops-routes.js';
import { VERSION } from './version.js';

/** Memory figures for technicians (MB): a leak shows here long before the OOM killer acts. */
function processFigures(): Record<string, number> {
  const m = process.memoryUsage();
  const mb = (b: number) => Math.round((b / 1048576) * 10) / 10;
  return { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external) };
}

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
  #app: FastifyInstance | null = null;
  #upstream: UpstreamClient | null = null;
  #probe: UpstreamProbe | null = null;
  #metrics: Metrics | null = null;
  #url: string | null = null;
  #startedAt = 0;

  constructor(opts: GatewayOptions) {
    this.#opts = opts;
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

  async start(): Promise<string> {
    const { loaded, log } = this.#opts;
    const { config } = loaded;
    const clock = this.#opts.clock ?? systemClock;
    this.#startedAt = clock.now();
    for (const w of loaded.warnings) log.warn({ mod: 'config' }, w);
    const metrics = new Metrics({ defaultMetrics: this.#opts.defaultMetrics ?? true });
    this.#metrics = metrics;

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

    const checkout = new Checkout({
      mode: config.mode,
      storeIntegrationId: config.store.integrationId,
      upstream: this.#upstream,
      log: log.child({ mod: 'checkout' }),
    });

    const app = buildApp({ bodyLimitBytes: config.http.bodyLimitBytes, log, metrics });
    await app.register(terminalRoutes, { auth: new TerminalAuth(config.terminals), checkout });
    await app.register(opsRoutes, {
      adminToken: config.adminToken,
      metrics,
      status: () => this.status(),
      ready: () => ({ ready: true, reasons: [] }),
    });
    this.#app = app;
    this.#url = await app.listen({ host: config.http.host, port: config.http.port });
    log.info({ mod: 'gateway', url: this.#url, mode: config.mode, store: config.store.integrationId, config: loaded.source }, 'storegate listening');
    return this.#url;
  }

  /** The `/status` document (CONTRACT §4). Never carries a secret. */
  status(): StatusDoc {
    const { config } = this.#opts.loaded;
    const clock = this.#opts.clock ?? systemClock;
    const up = this.#upstream?.health.snapshot();
    return {
      version: VERSION,
      mode: config.mode,
      store: config.store.integrationId,
      uptimeSec: Math.round((clock.now() - this.#startedAt) / 1000),
      upstream: up
        ? { state: up.state, lastOkAt: up.lastOkAt, latencyMsP50: up.latencyMsP50, latencyMsP95: up.latencyMsP95, lastError: up.lastError }
        : { state: 'down', lastOkAt: null, latencyMsP50: null, latencyMsP95: null, lastError: 'no upstream configured' },
      clockSkewMs: up?.clockSkewMs ?? null,
      process: processFigures(),
    };
  }

  /** Stops taking requests, lets in-flight ones finish, then closes the upstream pool. */
  async stop(): Promise<void> {
    this.#probe?.stop();
    await this.#app?.close();
    await this.#upstream?.close();
    this.#opts.log.info({ mod: 'gateway' }, 'storegate stopped');
  }
}
