import type { IClientPublishOptions, MqttClient } from 'mqtt';
import { BrokerLink, type BrokerEndpoint } from './link.js';
import { Outbox, type OutMessage } from './outbox.js';

export { noDelay, redactUrl } from './link.js';

export interface IncomingMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
  qos: number;
  /** MQTT 5 request/response properties, when the publisher set them. */
  responseTopic?: string;
  correlationData?: Buffer;
}

export interface MqttConnectionOptions extends BrokerEndpoint {
  /** Last Will (published by the broker when the link dies without a clean disconnect), retained. */
  will: { topic: string; payload: string };
  /** Topic filters subscribed (QoS 1) on every connect. */
  subscriptions: readonly string[];
  queueLimit: number;
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

type Outgoing = OutMessage & { volatile?: boolean; properties?: IClientPublishOptions['properties'] };

/**
 * The shop's one connection to the broker, on a {@link BrokerLink} (MQTT 5 with 3.1.1 fallback, persistent
 * session, jittered reconnects; `start()` never waits for the broker: the daemon serves terminals whether or not
 * the broker is up). What it adds: a retained Last Will on `P/status` that tells head office the shop is gone,
 * subscriptions on every connect, and a bounded outbox for what is published while the link is down.
 */
export class MqttConnection {
  readonly #o: MqttConnectionOptions;
  readonly #outbox: Outbox;
  readonly #link: BrokerLink;
  /** Volatile messages dropped while disconnected, by label. */
  readonly #drops = new Map<string, number>();

  constructor(opts: MqttConnectionOptions) {
    this.#o = opts;
    this.#outbox = new Outbox(opts.queueLimit);
    this.#link = new BrokerLink({
      ...opts,
      logPrefix: 'mqtt',
      extra: { queueQoSZero: false, will: { topic: opts.will.topic, payload: Buffer.from(opts.will.payload), qos: 1, retain: true } },
      onConnected: (client) => this.#onConnect(client),
      onLost: () => opts.onDisconnect?.(),
      onMessage: (topic, payload, packet) => {
        const props = packet.properties;
        opts.onMessage({
          topic,
          payload,
          retain: packet.retain,
          qos: packet.qos,
          ...(props?.responseTopic !== undefined ? { responseTopic: props.responseTopic } : {}),
          ...(props?.correlationData !== undefined ? { correlationData: props.correlationData } : {}),
        });
      },
    });
  }

  get connected(): boolean {
    return this.#link.connected;
  }

  start(): void {
    this.#link.start();
  }

  #onConnect(client: MqttClient): void {
    if (this.#o.subscriptions.length > 0) {
      client.subscribe([...this.#o.subscriptions], { qos: 1 }, (err) => {
        if (err) this.#o.log.error({ err: err.message }, 'mqtt: subscribe failed');
      });
    }
    for (const m of this.#outbox.drain()) this.#send(client, m);
    this.#o.onConnect?.();
  }

  /** Publishes now if connected, else queues (bounded). `volatile` messages (RPC answers) are dropped instead. */
  publish(m: Outgoing): void {
    const client = this.#link.client;
    if (client?.connected) return this.#send(client, m);
    // Never kept: an RPC answer is worthless after the requester's timeout.
    if (m.volatile) return this.#countDrop(m.label);
    this.#outbox.push(m);
  }

  #countDrop(label: string): void {
    this.#drops.set(label, (this.#drops.get(label) ?? 0) + 1);
  }

  #send(client: MqttClient, m: Outgoing): void {
    const opts: IClientPublishOptions = { qos: m.qos, retain: m.retain };
    if (m.properties && this.#link.protocol === 5) opts.properties = m.properties;
    client.publish(m.topic, m.payload, opts, (err) => {
      if (!err) return;
      this.#o.log.debug({ err: err.message, topic: m.topic }, 'mqtt publish failed; queued again');
      if (m.volatile) this.#countDrop(m.label);
      else this.#outbox.push(m);
    });
  }

  /** Publishes `last` (e.g. a clean offline status) if connected, then disconnects cleanly (no Last Will). */
  async stop(last?: OutMessage): Promise<void> {
    await this.#link.stop(
      last &&
        ((client) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(resolve, 2000);
            client.publish(last.topic, last.payload, { qos: last.qos, retain: last.retain }, () => {
              clearTimeout(t);
              resolve();
            });
          })),
    );
  }

  stats(): MqttConnectionStats {
    const dropped: Record<string, number> = { ...this.#outbox.dropped() };
    for (const [k, v] of this.#drops) dropped[k] = (dropped[k] ?? 0) + v;
    const l = this.#link.stats();
    return { connected: l.connected, since: l.since, reconnects: l.reconnects, protocolVersion: this.#link.protocol, queued: this.#outbox.size, dropped, lastError: l.lastError, broker: l.broker };
  }
}
