import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import { SerialPortError, explain, type OpenDevice, type SerialDevice, type SerialErrorCode } from './device.js';
import { LineFramer, type FrameEvent } from './framer.js';

/** Why a line never became a code (the metric label and `/status` key). */
export type DropReason = 'too_long' | 'incomplete' | 'garbage' | 'control_chars' | 'empty';

export interface PortStatus {
  id: string;
  path: string;
  /** True while the device is open and read. */
  open: boolean;
  /** ISO time of the last open or close. */
  since: string | null;
  lastScanAt: string | null;
  scans: number;
  dropped: Partial<Record<DropReason, number>>;
  /** Opens after the first one: each is a replug (or a recovered failure). */
  reopenCount: number;
  lastError: { code: SerialErrorCode | 'DISCONNECTED'; message: string; at: string } | null;
}

export interface ScannerPortDeps {
  id: string;
  path: string;
  baudRate: number;
  suffix: string;
  interByteTimeoutMs: number;
  maxLineBytes: number;
  goneAlertMs: number;
  open: OpenDevice;
  /** The device identity behind the path (null: gone); a replug changes it. */
  identity: (path: string) => Promise<string | null>;
  clock: Clock;
  log: Logger;
  /** A one-shot timer (the framer's silence); returns its cancel. */
  schedule?: (ms: number, fn: () => void) => () => void;
  onLine: (line: Buffer) => void;
  onDrop?: (reason: DropReason, bytes: number) => void;
  /** The port has been closed `goneAlertMs` (gone), or came back after such an alert (back). */
  onGone?: (event: 'gone' | 'back', info: { closedForMs: number; lastError: PortStatus['lastError'] }) => void;
}

/** While open, the path is looked at this often: the `close` event does not come on every unplug. */
export const PATH_POLL_MS = 1000;
/** Reopen attempts wait 250 ms, then twice as long each time, up to 2 s (a replugged scanner is back within ~2 s). */
export const REOPEN_MIN_MS = 250;
export const REOPEN_MAX_MS = 2000;
/** With a suffix, bytes left waiting for it this long are a code cut short (dropped as `incomplete`). */
export const PARTIAL_LINE_MS = 1000;

const defaultSchedule = (ms: number, fn: () => void) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/**
 * One configured serial port for its whole life: opens it, frames what it reads, and survives unplugging —
 * the daemon never stops for a scanner. A closed port (unplugged, failing to open) is retried with backoff by
 * looking at its path; an open one is watched both by the device's close event and by polling its path, since
 * a USB adapter pulled out does not always produce the event. Reopened, the same path serves again.
 */
export class ScannerPort {
  readonly #d: ScannerPortDeps;
  readonly #schedule: (ms: number, fn: () => void) => () => void;
  readonly #framer: LineFramer;
  #device: SerialDevice | null = null;
  #stopped = false;
  #stop!: () => void;
  readonly #abort = new AbortController();
  readonly #stopping: Promise<void>;
  #loop: Promise<void> | null = null;
  #cancelSilence: (() => void) | null = null;
  #status: PortStatus;
  /** Monotonic time since which the port is closed (null while open). */
  #closedAt: number;
  #goneAlerted = false;
  #opens = 0;

  constructor(deps: ScannerPortDeps) {
    this.#d = deps;
    this.#schedule = deps.schedule ?? defaultSchedule;
    this.#framer = new LineFramer({ suffix: deps.suffix, maxLineBytes: deps.maxLineBytes });
    this.#status = { id: deps.id, path: deps.path, open: false, since: null, lastScanAt: null, scans: 0, dropped: {}, reopenCount: 0, lastError: null };
    this.#closedAt = deps.clock.monotonic();
    this.#stopping = new Promise((resolve) => (this.#stop = resolve));
  }

  start(): void {
    this.#closedAt = this.#d.clock.monotonic();
    this.#loop ??= this.#run().catch((err: unknown) => this.#d.log.error({ err }, 'serial port loop failed'));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stop();
    this.#abort.abort();
    this.#cancelSilence?.();
    await this.#loop;
  }

  status(): PortStatus {
    return { ...this.#status, dropped: { ...this.#status.dropped } };
  }

  /** Marks a code forwarded (for `lastScanAt` and the count). */
  scanned(): void {
    this.#status.lastScanAt = new Date(this.#d.clock.now()).toISOString();
    this.#status.scans++;
  }

  /** A line for the device (a price-check answer); false when the port is not open (the answer is lost). */
  async write(data: Buffer): Promise<boolean> {
    const dev = this.#device;
    if (!dev) return false;
    try {
      await dev.write(data);
      return true;
    } catch (err) {
      this.#d.log.warn({ err: (err as Error).message }, 'serial write failed');
      return false;
    }
  }

  /** Counts a dropped line (the framer's, or one the code check refused). */
  drop(reason: DropReason, bytes: number): void {
    this.#status.dropped[reason] = (this.#status.dropped[reason] ?? 0) + 1;
    this.#d.onDrop?.(reason, bytes);
  }

  async #run(): Promise<void> {
    let wait = REOPEN_MIN_MS;
    while (!this.#stopped) {
      let dev: SerialDevice;
      try {
        dev = await this.#d.open(this.#d.path, this.#d.baudRate);
      } catch (err) {
        this.#failed(err);
        this.#checkGone();
        await this.#sleep(wait);
        wait = Math.min(REOPEN_MAX_MS, wait * 2);
        continue;
      }
      if (this.#stopped) {
        await dev.close();
        break;
      }
      wait = REOPEN_MIN_MS;
      const why = await this.#serve(dev);
      if (why !== null) this.#status.lastError = { code: 'DISCONNECTED', message: `disconnected: ${why}`, at: new Date(this.#d.clock.now()).toISOString() };
    }
  }

  /**
   * Reads an open device until it closes, its path goes away or changes, or the port is stopped; returns why it
   * ended (null: stopped).
   */
  async #serve(dev: SerialDevice): Promise<string | null> {
    const d = this.#d;
    const identity = await d.identity(d.path);
    let closedBy: Error | null | undefined;
    const closed = new Promise<void>((resolve) =>
      dev.onClose((err) => {
        closedBy = err;
        resolve();
      }),
    );
    dev.onData((chunk) => this.#onData(chunk));
    this.#device = dev;
    this.#opened();
    let gone = false;
    while (!this.#stopped && closedBy === undefined) {
      await Promise.race([this.#sleep(PATH_POLL_MS), closed]);
      if (this.#stopped || closedBy !== undefined) break;
      const now = await d.identity(d.path);
      if (now === null || now !== identity) {
        gone = true;
        break;
      }
    }
    this.#device = null;
    if (closedBy === undefined) await dev.close().catch(() => undefined);
    this.#cancelSilence?.();
    this.#emit(this.#framer.flush());
    this.#status.open = false;
    this.#status.since = new Date(d.clock.now()).toISOString();
    this.#closedAt = d.clock.monotonic();
    if (this.#stopped) return null;
    const why = gone ? 'the device path went away or now names another device' : `the device closed (${closedBy?.message ?? 'closed'})`;
    d.log.warn({ path: d.path }, `serial port closed: ${why}; reopening when it is back`);
    return why;
  }

  #opened(): void {
    const d = this.#d;
    this.#opens++;
    if (this.#opens > 1) this.#status.reopenCount++;
    this.#status.open = true;
    this.#status.since = new Date(d.clock.now()).toISOString();
    const closedForMs = d.clock.monotonic() - this.#closedAt;
    d.log.info({ path: d.path, reopenCount: this.#status.reopenCount }, this.#opens > 1 ? 'serial port reopened' : 'serial port open');
    if (this.#goneAlerted) {
      this.#goneAlerted = false;
      d.onGone?.('back', { closedForMs, lastError: this.#status.lastError });
    }
  }

  /** Records why the port could not be opened; logs only a change of reason, not every retry. */
  #failed(err: unknown): void {
    const d = this.#d;
    const code = err instanceof SerialPortError ? err.code : 'EIO';
    const message = err instanceof SerialPortError ? err.message : `${explain('EIO', d.path)}: ${(err as Error).message}`;
    const prev = this.#status.lastError;
    this.#status.lastError = { code, message, at: new Date(d.clock.now()).toISOString() };
    if (prev === null || prev.code !== code) {
      const level = code === 'EACCES' || code === 'ELOAD' ? 'error' : 'warn';
      d.log[level]({ path: d.path, code }, `serial port cannot be opened: ${message}`);
    }
  }

  #checkGone(): void {
    const d = this.#d;
    const closedForMs = d.clock.monotonic() - this.#closedAt;
    if (!this.#goneAlerted && closedForMs >= d.goneAlertMs) {
      this.#goneAlerted = true;
      d.onGone?.('gone', { closedForMs, lastError: this.#status.lastError });
    }
  }

  #onData(chunk: Buffer): void {
    this.#emit(this.#framer.push(chunk));
    this.#cancelSilence?.();
    this.#cancelSilence = null;
    if (!this.#framer.idle) {
      const ms = this.#framer.mode === 'timeout' ? this.#d.interByteTimeoutMs : PARTIAL_LINE_MS;
      this.#cancelSilence = this.#schedule(ms, () => {
        this.#cancelSilence = null;
        this.#emit(this.#framer.flush());
      });
    }
  }

  #emit(events: FrameEvent[]): void {
    for (const e of events) {
      if ('line' in e) {
        try {
          this.#d.onLine(e.line);
        } catch (err) {
          this.#d.log.error({ err }, 'handling a scanned line failed');
        }
      } else {
        this.drop(e.drop, e.bytes);
      }
    }
  }

  /** Sleeps on the injected clock; a stop ends the sleep at once (and cancels its timer). */
  #sleep(ms: number): Promise<void> {
    return Promise.race([this.#d.clock.sleep(ms, this.#abort.signal).catch(() => undefined), this.#stopping]);
  }
}
