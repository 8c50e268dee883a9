import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import { reconnectDelay, type ReconnectPolicy } from './reconnect.js';

/** How to reach the broker: what a shop's connection and head office's fleet client share. */
export interface BrokerEndpoint {
  url: string;
  clientId: string;
  username?: string | null;
  password?: string | null;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  keepaliveSec: number;
  /** How long the broker keeps the session (and its subscriptions) while the client is away. */
  sessionExpirySec: number;
  reconnect: ReconnectPolicy;
  clock: Clock;
  log: Logger;
  random?: () => number;
}

export interface BrokerLinkOptions extends BrokerEndpoint {
  /** Log lines start with it ("mqtt", "head office"). */
  logPrefix: string;
  /** Options of this client only (a Last Will, QoS 0 queueing). */
  extra?: Partial<IClientOptions>;
  /** Every (re)connect; `sessionPresent`: the broker kept the session. */
  onConnected: (client: MqttClient, sessionPresent: boolean) => void;
  /** The link went down after it had been up. */
  onLost?: () => void;
  onMessage: (topic: string, payload: Buffer, packet: IPublishPacket) => void;
}

/** CONNACK codes that mean "this broker does not speak MQTT 5": 3.1.1's 1 and 5.0's 0x84. */
const UNSUPPORTED_PROTOCOL = new Set([1, 0x84]);

/** Whether a connect failed because the broker does not speak MQTT 5 (so 3.1.1 is worth a try). */
export function refusedMqtt5(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && UNSUPPORTED_PROTOCOL.has(code);
}

/**
 * A client storegate is done with: its handlers go, but an error it may still emit must not become an uncaught
 * exception. A connect attempt in flight when the client was ended fails later (ECONNREFUSED from a broker that is
 * not there), and an EventEmitter's 'error' with no listener throws (seen in test/integration/mqtt-link.test.ts,
 * about 1 run in 5, on a gateway stopped while its broker was absent).
 */
function retire(client: MqttClient): void {
  client.removeAllListeners();
  client.on('error', () => undefined);
}

/**
 * One client's link to the broker, the lifecycle both ends of storegate's MQTT share (the only code, with
 * `client-once.ts`, that calls `mqtt.connect`):
 * - MQTT 5 with a session expiry and clean start off, so subscriptions survive a short broker restart; if the
 *   broker refuses 5, MQTT 3.1.1 (clean session off) from then on, reconnecting at once;
 * - reconnects are ours, jittered ({@link reconnectDelay}): MQTT.js's fixed period would make 500 shops hammer a
 *   restarted broker in lock step;
 * - `start()` never waits for the broker.
 */
export class BrokerLink {
  readonly #o: BrokerLinkOptions;
  #client: MqttClient | null = null;
  #protocol: 4 | 5 = 5;
  #attempt = 0;
  #reconnects = 0;
  #everConnected = false;
  #since: number | null = null;
  #lastError: string | null = null;
  #stopping = false;
  #retryAbort: AbortController | null = null;

  constructor(o: BrokerLinkOptions) {
    this.#o = o;
  }

  /** The current client, or null before `start()` and after `stop()`. */
  get client(): MqttClient | null {
    return this.#client;
  }

  get connected(): boolean {
    return this.#client?.connected === true;
  }

  get protocol(): 4 | 5 {
    return this.#protocol;
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
      resubscribe: false, // the owner subscribes on every connect
      ...o.extra,
      ...(this.#protocol === 5 ? { properties: { sessionExpiryInterval: o.sessionExpirySec } } : {}),
      ...(o.username ? { username: o.username } : {}),
      ...(o.password ? { password: o.password } : {}),
      ...(o.ca ? { ca: o.ca } : {}),
      ...(o.cert ? { cert: o.cert } : {}),
      ...(o.key ? { key: o.key } : {}),
    };
    const client = mqtt.connect(o.url, opts);
    client.on('connect', (connack) => this.#onConnect(client, connack.sessionPresent === true));
    client.on('close', () => this.#onClose(client));
    client.on('error', (err) => this.#onError(client, err as Error & { code?: number | string }));
    client.on('message', (topic, payload, packet) => {
      try {
        o.onMessage(topic, payload, packet);
      } catch (err) {
        o.log.error({ err, topic }, `${o.logPrefix}: message handler threw`);
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
    this.#o.log.info({ broker: redactUrl(this.#o.url), protocolVersion: this.#protocol, sessionPresent }, `${this.#o.logPrefix}: broker connected`);
    try {
      this.#o.onConnected(client, sessionPresent);
    } catch (err) {
      this.#o.log.error({ err }, `${this.#o.logPrefix}: onConnect threw`);
    }
  }

  #onError(client: MqttClient, err: Error & { code?: number | string }): void {
    if (client !== this.#client) return;
    this.#lastError = err.message;
    if (this.#protocol === 5 && refusedMqtt5(err)) {
      this.#protocol = 4;
      this.#o.log.warn({ broker: redactUrl(this.#o.url) }, `${this.#o.logPrefix}: broker refused MQTT 5; using MQTT 3.1.1`);
      return; // the close that follows reconnects with the new version at once
    }
    this.#o.log.debug({ err: err.message }, `${this.#o.logPrefix}: broker error`);
  }

  #onClose(client: MqttClient): void {
    if (client !== this.#client) return;
    if (this.#since !== null && this.#attempt === 0 && this.#everConnected) {
      this.#since = this.#o.clock.now();
      this.#o.log.warn({ broker: redactUrl(this.#o.url), err: this.#lastError }, `${this.#o.logPrefix}: broker connection lost`);
      try {
        this.#o.onLost?.();
      } catch (err) {
        this.#o.log.error({ err }, `${this.#o.logPrefix}: onDisconnect threw`);
      }
    }
    if (this.#stopping) return;
    const switchProtocol = this.#protocol === 4 && client.options.protocolVersion === 5;
    const delay = switchProtocol ? 0 : reconnectDelay(this.#attempt, this.#o.reconnect, this.#o.random ?? Math.random);
    this.#attempt++;
    const abort = new AbortController();
    this.#retryAbort = abort;
    this.#o.clock.sleep(delay, abort.signal).then(
      () => {
        if (this.#stopping || abort.signal.aborted) return;
        if (switchProtocol) {
          if (this.#client) retire(this.#client);
          this.#client?.end(true);
          this.#client = this.#newClient();
        } else {
          this.#client?.reconnect();
        }
      },
      () => undefined,
    );
  }

  /**
   * Stops reconnecting; runs `before` (e.g. a last publish) while still connected, then disconnects cleanly (no
   * Last Will), forcing the end after 2 s.
   */
  async stop(before?: (client: MqttClient) => Promise<void>): Promise<void> {
    this.#stopping = true;
    this.#retryAbort?.abort();
    const client = this.#client;
    if (!client) return;
    if (client.connected && before) await before(client);
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
    retire(client);
    this.#client = null;
  }

  /** What every owner reports: connected, since (ISO; the last connect while up, the last loss while down), reconnects, last error, broker (no credentials). */
  stats(): { connected: boolean; since: string | null; reconnects: number; lastError: string | null; broker: string } {
    return {
      connected: this.connected,
      since: this.#since === null ? null : new Date(this.#since).toISOString(),
      reconnects: this.#reconnects,
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
