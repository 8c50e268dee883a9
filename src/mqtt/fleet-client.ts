/**
 * Head office's connection to the shops' broker (`storegate headoffice`): it subscribes to every shop's retained
 * status and acks and publishes signed pushes, retained, awaiting each PUBACK; src/headoffice/ sees the small
 * `FleetBroker` interface.
 *
 * - MQTT 5 (3.1.1 if the broker refuses 5) with a persistent session (`sessionExpirySec`). The retained status
 *   and acks arrive again on every subscribe, which is how the fleet view learns each shop's state after a
 *   restart of either side; and a CONNACK without the session (`sessionPresent` false) says the broker lost its
 *   state — its retained messages too, unless it persists them — so head office pushes everything again.
 * - The link itself (MQTT 5 with 3.1.1 fallback, jittered reconnects) is the shops' {@link BrokerLink}.
 * - A publish while disconnected is refused at once (the publisher keeps what it has not published and tries
 *   again on the next connect); one without a PUBACK within `ackTimeoutMs` is refused too.
 */
import type { MqttClient } from 'mqtt';
import { BrokerLink, type BrokerEndpoint } from './link.js';

export interface FleetMessage {
  topic: string;
  payload: Buffer;
  /** Delivered because it was retained (on subscribe), not as it was published. */
  retained: boolean;
}

/** What head office needs of the broker. */
export interface FleetBroker {
  readonly connected: boolean;
  /** Resolves on PUBACK (QoS 1); rejects when not connected, or without a PUBACK in time. */
  publish(topic: string, payload: string | Buffer, retain: boolean): Promise<void>;
  /** Called on every (re)connect, after the subscriptions were made; `sessionPresent`: the broker kept our session. */
  onConnect(f: (sessionPresent: boolean) => void): void;
  stats(): { connected: boolean; since: string | null; reconnects: number; broker: string; lastError: string | null };
}

export interface FleetClientOptions extends BrokerEndpoint {
  subscriptions: readonly string[];
  onMessage: (m: FleetMessage) => void;
  ackTimeoutMs?: number;
}

export class FleetClient implements FleetBroker {
  readonly #o: FleetClientOptions;
  readonly #link: BrokerLink;
  readonly #onConnect: ((sessionPresent: boolean) => void)[] = [];

  constructor(o: FleetClientOptions) {
    this.#o = o;
    this.#link = new BrokerLink({
      ...o,
      logPrefix: 'head office',
      onConnected: (client, sessionPresent) => this.#subscribe(client, sessionPresent),
      onMessage: (topic, payload, packet) => o.onMessage({ topic, payload, retained: packet.retain }),
    });
  }

  get connected(): boolean {
    return this.#link.connected;
  }

  onConnect(f: (sessionPresent: boolean) => void): void {
    this.#onConnect.push(f);
  }

  start(): void {
    this.#link.start();
  }

  /** Subscribes on every connect; the handlers run once the subscriptions are made (the retained messages follow). */
  #subscribe(client: MqttClient, sessionPresent: boolean): void {
    const log = this.#o.log;
    client.subscribe([...this.#o.subscriptions], { qos: 1 }, (err) => {
      if (err) {
        log.error({ err: err.message }, 'head office: subscribe failed');
        return;
      }
      for (const f of this.#onConnect) {
        try {
          f(sessionPresent);
        } catch (e) {
          log.error({ err: e }, 'head office: onConnect handler threw');
        }
      }
    });
  }

  publish(topic: string, payload: string | Buffer, retain: boolean): Promise<void> {
    const client = this.#link.client;
    if (!client?.connected) return Promise.reject(new Error('broker not connected'));
    const ms = this.#o.ackTimeoutMs ?? 60_000;
    return new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no PUBACK within ${ms} ms`)), ms);
      client.publish(topic, payload, { qos: 1, retain }, (err) => {
        clearTimeout(t);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  stop(): Promise<void> {
    return this.#link.stop();
  }

  stats(): { connected: boolean; since: string | null; reconnects: number; broker: string; lastError: string | null } {
    return this.#link.stats();
  }
}
