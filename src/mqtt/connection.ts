import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import { Outbox, type OutMessage } from './outbox.js';
import { reconnectDelay, type ReconnectPolicy } from './reconnect.js';

export interface IncomingMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
  qos: number;
  /** MQTT 5 request/response properties, when the publisher set them. */
  responseTopic?: string;
  correlationData?: Buffer;
}

export interface MqttConnectionOptions {
  url: string;
  clientId: string;
  username?: string | null;
  password?: string | null;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  keepaliveSec: number;
  sessionExpirySec: number;
  reconnect: ReconnectPolicy;
  /** Last Will (published by the broker when the link dies without a clean disconnect), retained. */
  will: { topic: string; payload: string };
  /** Topic filters subscribed (QoS 1) on every connect. */
  subscriptions: readonly string[];
  queueLimit: number;
  clock: Clock;
  log: Logger;
  random?: () => number;
  onMessage: (m: IncomingMessage) => void;
  /** Called after each (re)connect, once subscriptions are made and the queue is drained. */
  onConnect?: () => void;
  /** Called when the link goes down. */
  onDisconnect?: () => void;
}

export interface MqttConnectionStats {
  connected: boolean;
  /** ISO time of the last connect (while connected) or of the last loss (while not). */
  since: string | null;
  reconnects: number;
  protocolVersion: 4 | 5;
  queued: number;
  dropped: Record<string, number>;
  lastError: string | null;
  /** The broker URL without credentials. */
  broker: string;
}

/** CONNACK codes that mean "this broker does not speak MQTT 5": 3.1.1's 1 and 5.0's 0x84. */
const UNSUPPORTED_PROTOCOL = new Set([1, 0x84]);

/**
 * The one connection to the broker (the only code, with `client-once.ts`, that touches MQTT.js).
 * - MQTT 5 with a session expiry and clean start off, so subscriptions survive a short broker restart; if the
 *   broker refuses 5, MQTT 3.1.1 (clean session off) from then on.
 * - A retained Last Will on `P/status` tells head office the shop is gone.
 * - Reconnects are ours ({@link reconnectDelay}): MQTT.js's fixed period is switched off.
 * - `start()` never waits for the broker: the daemon serves terminals whether or not the broker is up.
 */
export class MqttConnection {
  readonly #o: MqttConnectionOptions;
  readonly #outbox: Outbox;
  readonly #random: () => number;
  #client: MqttClient | null = null;
  #protocol: 4 | 5 = 5;
  #attempt = 0;
  #reconnects = 0;
  #everConnected = false;
  #since: number | null = null;
  #lastError: string | null = null;
  #stopping = false;
  #retryAbort: AbortController | null = null;
  /** Volatile messages dropped while disconnected, by label. */
  readonly #drops = new Map<string, number>();

  constructor(opts: MqttConnectionOptions) {
    this.#o = opts;
    this.#outbox = new Outbox(opts.queueLimit);
    this.#random = opts.random ?? Math.random;
  }

  get connected(): boolean {
    return this.#client?.connected === true;
  }

  start(): void {
    this.#stopping = false;
    this.#client = this.#newClient();
  }

  #newClient(): MqttClient {
    const o = this.#o;
    const opts: IClientOptions = {
      protocolVersion: this.#protocol,
      clientId: o.clientId,
      clean: false,
      keepalive: o.keepaliveSec,
      reconnectPeriod: 0, // ours: see reconnectDelay
      connectTimeout: 10_000,
      resubscribe: false, // we subscribe on every connect ourselves
      queueQoSZero: false,
      will: { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: 1, retain: true },
      ...(this.#protocol === 5 ? { properties: { sessionExpiryInterval: o.sessionExpirySec } } : {}),
      ...(o.username ? { username: o.username } : {}),
      ...(o.password ? { password: o.password } : {}),
      ...(o.ca ? { ca: o.ca } : {}),
      ...(o.cert ? { cert: o.cert } : {}),
      ...(o.key ? { key: o.key } : {}),
    };
    const client = mqtt.connect(o.url, opts);
    client.on('connect', (connack) => this.#onConnect(client, connack.sessionPresent));
    client.on('close', () => this.#onClose(client));
    client.on('error', (err) => this.#onError(client, err as Error & { code?: number | string }));
    client.on('message', (topic, payload, packet) => {
      const props = packet.properties;
      try {
        o.onMessage({
          topic,
          payload,
          retain: packet.retain,
          qos: packet.qos,
          ...(props?.responseTopic !== undefined ? { responseTopic: props.responseTopic } : {}),
          ...(props?.correlationData !== undefined ? { correlationData: props.correlationData } : {}),
        });
      } catch (err) {
        o.log.error({ err, topic }, 'mqtt: message handler threw');
      }
    });
    return client;
  }

  #onConnect(client: MqttClient, sessionPresent: boolean): void {
    if (client !== this.#client) return;
    noDelay(client);
    if (this.#everConnected) this.#reconnects++;
    this.#everConnected = true;
    this.#attempt = 0;
    this.#since = this.#o.clock.now();
    this.#lastError = null;
    this.#o.log.info({ broker: redactUrl(this.#o.url), protocolVersion: this.#protocol, sessionPresent }, 'mqtt connected');
    if (this.#o.subscriptions.length > 0) {
      client.subscribe(
        this.#o.subscriptions.map((t) => t),
        { qos: 1 },
        (err) => {
          if (err) this.#o.log.error({ err: err.message }, 'mqtt: subscribe failed');
        },
      );
    }
    for (const m of this.#outbox.drain()) this.#send(client, m);
    try {
      this.#o.onConnect?.();
    } catch (err) {
      this.#o.log.error({ err }, 'mqtt: onConnect threw');
    }
  }

  #onError(client: MqttClient, err: Error & { code?: number | string }): void {
    if (client !== this.#client) return;
    this.#lastError = err.message;
    if (this.#protocol === 5 && typeof err.code === 'number' && UNSUPPORTED_PROTOCOL.has(err.code)) {
      this.#protocol = 4;
      this.#o.log.warn({ broker: redactUrl(this.#o.url) }, 'mqtt: broker refused MQTT 5; using MQTT 3.1.1');
      return; // the close that follows reconnects with the new version at once
    }
    this.#o.log.debug({ err: err.message }, 'mqtt error');
  }

  #onClose(client: MqttClient): void {
    if (client !== this.#client) return;
    const wasUp = this.#since !== null && this.#attempt === 0 && this.#everConnected;
    if (wasUp) {
      this.#since = this.#o.clock.now();
      this.#o.log.warn({ broker: redactUrl(this.#o.url), err: this.#lastError }, 'mqtt connection lost');
      try {
        this.#o.onDisconnect?.();
      } catch (err) {
        this.#o.log.error({ err }, 'mqtt: onDisconnect threw');
      }
    }
    if (this.#stopping) return;
    const switchProtocol = this.#protocol === 4 && client.options.protocolVersion === 5;
    const delay = switchProtocol ? 0 : reconnectDelay(this.#attempt, this.#o.reconnect, this.#random);
    this.#attempt++;
    this.#scheduleReconnect(delay, switchProtocol);
  }

  #scheduleReconnect(delayMs: number, fresh: boolean): void {
    const abort = new AbortController();
    this.#retryAbort = abort;
    this.#o.clock.sleep(delayMs, abort.signal).then(
      () => {
        if (this.#stopping || abort.signal.aborted) return;
        if (fresh) {
          this.#client?.removeAllListeners();
          this.#client?.end(true);
          this.#client = this.#newClient();
        } else {
          this.#client?.reconnect();
        }
      },
      () => undefined,
    );
  }

  /** Publishes now if connected, else queues (bounded). `volatile` messages (RPC answers) are dropped instead. */
  publish(m: OutMessage & { volatile?: boolean; properties?: IClientPublishOptions['properties'] }): void {
    const client = this.#client;
    if (client?.connected) return this.#send(client, m);
    // Never kept: an RPC answer is worthless after the requester's timeout.
    if (m.volatile) return this.#countDrop(m.label);
    this.#outbox.push(m);
  }

  #countDrop(label: string): void {
    this.#drops.set(label, (this.#drops.get(label) ?? 0) + 1);
  }

  #send(client: MqttClient, m: OutMessage & { volatile?: boolean; properties?: IClientPublishOptions['properties'] }): void {
    const opts: IClientPublishOptions = { qos: m.qos, retain: m.retain };
    if (m.properties && this.#protocol === 5) opts.properties = m.properties;
    client.publish(m.topic, m.payload, opts, (err) => {
      if (!err) return;
      this.#o.log.debug({ err: err.message, topic: m.topic }, 'mqtt publish failed; queued again');
      if (m.volatile) this.#countDrop(m.label);
      else this.#outbox.push(m);
    });
  }

  /** Publishes `last` (e.g. a clean offline status) if connected, then disconnects cleanly (no Last Will). */
  async stop(last?: OutMessage): Promise<void> {
    this.#stopping = true;
    this.#retryAbort?.abort();
    const client = this.#client;
    if (!client) return;
    if (client.connected && last) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        client.publish(last.topic, last.payload, { qos: last.qos, retain: last.retain }, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
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
    this.#client = null;
  }

  stats(): MqttConnectionStats {
    const dropped: Record<string, number> = { ...this.#outbox.dropped() };
    for (const [k, v] of this.#drops) dropped[k] = (dropped[k] ?? 0) + v;
    return {
      connected: this.connected,
      since: this.#since === null ? null : new Date(this.#since).toISOString(),
      reconnects: this.#reconnects,
      protocolVersion: this.#protocol,
      queued: this.#outbox.size,
      dropped,
      lastError: this.#lastError,
      broker: redactUrl(this.#o.url),
    };
  }
}

/**
 * Small MQTT packets (an RPC answer, a PUBACK) must not wait for Nagle's algorithm: with it, a request/response
 * round trip meets the peer's delayed ACK and takes ~40-90 ms instead of well under 1 ms. MQTT.js opens its
 * socket without `noDelay`, so it is set on every new stream.
 */
export function noDelay(client: MqttClient): void {
  const s = client.stream as { setNoDelay?: (v: boolean) => void } | undefined;
  s?.setNoDelay?.(true);
}

/** A broker URL fit for logs and `/status`: no user name or password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '[invalid url]';
  }
}
