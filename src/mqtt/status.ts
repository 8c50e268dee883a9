import type { MqttConnection } from './connection.js';
import type { Topics } from './topics.js';

/** The retained `P/status` document (README "Head office and MQTT"). */
export interface StoreStatus {
  online: true;
  mode: string;
  upstream: string;
  journalDepth: number;
  version: string;
  configVersion: number;
  rulesVersion: number;
  pricesVersion: number;
  couponsVersion: number;
  loyaltyVersion: number;
  [k: string]: unknown;
}

export const OFFLINE_STATUS = '{"online":false}';

/**
 * Publishes the retained status on connect, on change (looked at every `checkMs`, so a busy shop whose journal
 * depth moves with every basket publishes at most once per `checkMs`) and every `heartbeatMs` (head office can
 * tell a silent shop from a quiet one).
 */
export class StatusPublisher {
  readonly #conn: MqttConnection;
  readonly #topics: Topics;
  readonly #read: () => StoreStatus;
  readonly #checkMs: number;
  readonly #heartbeatMs: number;
  #last = '';
  #lastAt = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(deps: { conn: MqttConnection; topics: Topics; read: () => StoreStatus; heartbeatMs: number; checkMs?: number }) {
    this.#conn = deps.conn;
    this.#topics = deps.topics;
    this.#read = deps.read;
    this.#heartbeatMs = deps.heartbeatMs;
    this.#checkMs = deps.checkMs ?? 1000;
  }

  start(): void {
    this.#timer = setInterval(() => this.#tick(), this.#checkMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Publishes the current status now (on connect). */
  publishNow(): void {
    this.#publish(JSON.stringify(this.#read()));
  }

  #tick(): void {
    const text = JSON.stringify(this.#read());
    if (text !== this.#last || Date.now() - this.#lastAt >= this.#heartbeatMs) this.#publish(text);
  }

  #publish(text: string): void {
    this.#last = text;
    this.#lastAt = Date.now();
    // One slot: while disconnected only the newest status waits.
    this.#conn.publish({ topic: this.#topics.status, payload: text, qos: 1, retain: true, slot: 'status', label: 'status' });
  }
}
