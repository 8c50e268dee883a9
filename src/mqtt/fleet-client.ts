/**
 * Head office's connection to the shops' broker (`storegate headoffice`): it subscribes to every shop's retained
 * status and acks and publishes signed pushes, retained, awaiting each PUBACK. The only other code, with
 * connection.ts and client-once.ts, that touches MQTT.js; src/headoffice/ sees the small `FleetBroker` interface.
 *
 * - MQTT 5 (3.1.1 if the broker refuses 5) with a persistent session (`sessionExpirySec`). The retained status
 *   and acks arrive again on every subscribe, which is how the fleet view learns each shop's state after a
 *   restart of either side; and a CONNACK without the session (`sessionPresent` false) says the broker lost its
 *   state — its retained messages too, unless it persists them — so head office pushes everything again.
 * - Reconnects are ours, jittered (reconnect.ts), as for the shops.
 * - A publish while disconnected is refused at once (the publisher keeps what it has not published and tries
 *   again on the next connect); one without a PUBACK within `ackTimeoutMs` is refused too.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import { noDelay, redactUrl } from './connection.js';
import { reconnectDelay, type ReconnectPolicy } from './reconnect.js';

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

export interface FleetClientOptions {
  url: string;
  clientId: string;
  username?: string | null;
  password?: string | null;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  keepaliveSec: number;
  /** How long the broker keeps head office's session while it is away. */
  sessionExpirySec: number;
  reconnect: ReconnectPolicy;
  subscriptions: readonly string[];
  clock: Clock;
  log: Logger;
  onMessage: (m: FleetMessage) => void;
  ackTimeoutMs?: number;
  random?: () => number;
}

export class FleetClient implements FleetBroker {
  readonly #o: FleetClientOptions;
  #client: MqttClient | null = null;
  #protocol: 4 | 5 = 5;
  #attempt = 0;
  #reconnects = 0;
  #since: number | null = null;
  #lastError: string | null = null;
  #stopping = false;
  #retry: AbortController | null = null;
  readonly #onConnect: ((sessionPresent: boolean) => void)[] = [];

  constructor(o: FleetClientOptions) {
    this.#o = o;
  }

  get connected(): boolean {
    return this.#client?.connected === true;
  }

  onConnect(f: (sessionPresent: boolean) => void): void {
    this.#onConnect.push(f);
  }

  start(): void {
    this.#stopping = false;
    this.#client = this.#make();
  }

  #make(): MqttClient {
    const o = this.#o;
    const opts: IClientOptions = {
      protocolVersion: this.#protocol,
      clientId: o.clientId,
      clean: false,
      keepalive: o.keepaliveSec,
      ...(this.#protocol === 5 ? { properties: { sessionExpiryInterval: o.sessionExpirySec } } : {}),
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      resubscribe: false,
      ...(o.username ? { username: o.username } : {}),
      ...(o.password ? { password: o.password } : {}),
      ...(o.ca ? { ca: o.ca } : {}),
      ...(o.cert ? { cert: o.cert } : {}),
      ...(o.key ? { key: o.key } : {}),
    };
    const client = mqtt.connect(o.url, opts);
    client.on('connect', (connack) => {
      if (client !== this.#client) return;
      const sessionPresent = connack.sessionPresent === true;
      noDelay(client);
      if (this.#since !== null) this.#reconnects++;
      this.#attempt = 0;
      this.#since = o.clock.now();
      this.#lastError = null;
      o.log.info({ broker: redactUrl(o.url), protocolVersion: this.#protocol, sessionPresent }, 'head office: broker connected');
      client.subscribe([...o.subscriptions], { qos: 1 }, (err) => {
        if (err) {
          o.log.error({ err: err.message }, 'head office: subscribe failed');
          return;
        }
        for (const f of this.#onConnect) {
          try {
            f(sessionPresent);
          } catch (e) {
            o.log.error({ err: e }, 'head office: onConnect handler threw');
          }
        }
      });
    });
    client.on('message', (topic, payload, packet) => {
      try {
        o.onMessage({ topic, payload, retained: packet.retain });
      } catch (err) {
        o.log.error({ err, topic }, 'head office: message handler threw');
      }
    });
    client.on('error', (err: Error & { code?: number | string }) => {
      if (client !== this.#client) return;
      this.#lastError = err.message;
      if (this.#protocol === 5 && (err.code === 1 || err.code === 0x84)) {
        this.#protocol = 4;
        o.log.warn({ broker: redactUrl(o.url) }, 'head office: broker refused MQTT 5; using MQTT 3.1.1');
      }
    });
    client.on('close', () => {
      if (client !== this.#client || this.#stopping) return;
      if (this.#attempt === 0) o.log.warn({ broker: redactUrl(o.url), err: this.#lastError }, 'head office: broker connection lost');
      const fresh = this.#protocol === 4 && client.options.protocolVersion === 5;
      const delay = fresh ? 0 : reconnectDelay(this.#attempt++, o.reconnect, o.random);
      const abort = new AbortController();
      this.#retry = abort;
      o.clock.sleep(delay, abort.signal).then(
        () => {
          if (this.#stopping || abort.signal.aborted) return;
          if (fresh) {
            client.removeAllListeners();
            client.end(true);
            this.#client = this.#make();
          } else client.reconnect();
        },
        () => undefined,
      );
    });
    return client;
  }

  publish(topic: string, payload: string | Buffer, retain: boolean): Promise<void> {
    const client = this.#client;
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

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#retry?.abort();
    const client = this.#client;
    this.#client = null;
    if (!client) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        client.end(true);
        resolve();
      }, 2000);
      client.end(false, {}, () => {
        clearTimeout(t);
        resolve();
      });
    });
    client.removeAllListeners();
  }

  stats(): { connected: boolean; since: string | null; reconnects: number; broker: string; lastError: string | null } {
    return { connected: this.connected, since: this.#since === null ? null : new Date(this.#since).toISOString(), reconnects: this.#reconnects, broker: redactUrl(this.#o.url), lastError: this.#lastError };
  }
}
