import { statfs } from 'node:fs/promises';
import type { UpstreamClient } from '../upstream/client.js';
import type { Logger } from '../telemetry/logger.js';
import type { AlertBus } from './bus.js';

/** Clock skew (against Talon.One's `Date` header) beyond which the shop is told: offline validity windows drift. */
export const CLOCK_SKEW_ALERT_MS = 2000;

/**
 * Turns states into alerts, once per crossing (not once per check): the upstream going down and coming back,
 * the clock drifting from Talon.One's, free disk space running low under the data dir.
 */
export interface AlertWatchDeps {
  bus: AlertBus;
  upstream: UpstreamClient | null;
  dataDir: string;
  /** `journal.diskLowBytes` now (a pushed config can change it). */
  diskLowBytes: () => number;
  log: Logger;
  periodMs?: number;
}

export class AlertWatch {
  readonly #d: AlertWatchDeps;
  #timer: NodeJS.Timeout | null = null;
  #skewed = false;
  #diskLow = false;
  #wasDown = false;

  constructor(deps: AlertWatchDeps) {
    this.#d = deps;
  }

  start(): void {
    const up = this.#d.upstream;
    up?.health.onChange((state) => {
      if (state === 'down' && !this.#wasDown) {
        this.#wasDown = true;
        this.#d.bus.emit({ kind: 'upstreamDown', lastError: up.health.snapshot().lastError });
      } else if (state !== 'down' && this.#wasDown) {
        this.#wasDown = false;
        this.#d.bus.emit({ kind: 'upstreamUp', state });
      }
    });
    this.#timer = setInterval(() => void this.check(), this.#d.periodMs ?? 60_000);
    this.#timer.unref();
    void this.check();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One round of the periodic checks (also called by tests). */
  async check(): Promise<void> {
    const skew = this.#d.upstream?.health.snapshot().clockSkewMs ?? null;
    const off = skew !== null && Math.abs(skew) > CLOCK_SKEW_ALERT_MS;
    if (off && !this.#skewed) this.#d.bus.emit({ kind: 'clockSkew', clockSkewMs: skew });
    this.#skewed = off;

    const threshold = this.#d.diskLowBytes();
    if (threshold <= 0) return;
    try {
      const s = await statfs(this.#d.dataDir);
      const free = s.bavail * s.bsize;
      // A little hysteresis, so a disk hovering at the line does not alert every minute.
      if (free < threshold && !this.#diskLow) {
        this.#diskLow = true;
        this.#d.bus.emit({ kind: 'diskLow', freeBytes: free, thresholdBytes: threshold });
      } else if (free > threshold * 1.1) {
        this.#diskLow = false;
      }
    } catch (err) {
      this.#d.log.debug({ err: (err as Error).message }, 'alerts: statfs failed');
    }
  }
}
