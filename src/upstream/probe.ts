import type { Logger } from '../telemetry/logger.js';
import type { UpstreamClient } from './client.js';

/**
 * The background probe (README "Configuration", `mode`): while the upstream is `down`, it alone decides when
 * Talon.One is back, so terminals never wait on a dead link to find out.
 */
export class UpstreamProbe {
  readonly #client: UpstreamClient;
  readonly #intervalMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | null = null;
  #running = false;

  constructor(client: UpstreamClient, log: Logger, intervalMs = 2000) {
    this.#client = client;
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    this.#timer = setInterval(() => void this.tick(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One probe if the upstream is down (exposed for tests and `journal flush`). */
  async tick(): Promise<boolean> {
    if (this.#running || this.#client.health.state !== 'down') return false;
    this.#running = true;
    try {
      const r = await this.#client.probe();
      if (r.ok) {
        this.#client.health.probeSucceeded(r.latencyMs);
        this.#log.info({ ms: Math.round(r.latencyMs) }, 'upstream reachable again');
        return true;
      }
      return false;
    } finally {
      this.#running = false;
    }
  }
}
