import { readFileSync } from 'node:fs';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import { MqttConnection, type IncomingMessage, type MqttConnectionStats } from './connection.js';
import { RpcServer, answerPayload, type RpcAnswer, type RpcCall } from './rpc.js';
import { OFFLINE_STATUS, StatusPublisher, type StoreStatus } from './status.js';
import { PUSH_KINDS, Topics, type PushTopicKind } from './topics.js';

import type { PushAck } from '../pushes/service.js';

export interface MqttBridgeConfig {
  url: string;
  username: string | null;
  password: string | null;
  caFile: string | null;
  certFile: string | null;
  keyFile: string | null;
  clientId: string | null;
  topicPrefix: string;
  keepaliveSec: number;
  sessionExpirySec: number;
  statusIntervalSec: number;
  queueLimit: number;
  reconnect: { minMs: number; spreadMs: number; maxMs: number };
}

export interface MqttBridgeDeps {
  config: MqttBridgeConfig;
  storeIntegrationId: string;
  clock: Clock;
  log: Logger;
  status: () => Omit<StoreStatus, 'online'>;
  /** The ack to publish, or null for a retained push seen again (nothing to say). */
  onPush: (kind: PushTopicKind, payload: Buffer) => Promise<PushAck | null>;
  invoke: (call: RpcCall) => Promise<RpcAnswer>;
  identify: (token: string) => string | null;
  onRpcAnswered?: (method: string, status: number, ms: number) => void;
  random?: () => number;
}

/**
 * Head office and terminals over MQTT (README "Head office and MQTT"): the connection, the retained status and its Last Will,
 * signed pushes in (handed to the push service, one at a time, acknowledged on `P/<kind>/ack`), terminal RPC,
 * and alerts and scans out.
 */
export class MqttBridge {
  readonly topics: Topics;
  readonly #d: MqttBridgeDeps;
  readonly #conn: MqttConnection;
  readonly #status: StatusPublisher;
  readonly #rpc: RpcServer;
  #pushQueue: Promise<unknown> = Promise.resolve();

  constructor(deps: MqttBridgeDeps) {
    this.#d = deps;
    const c = deps.config;
    this.topics = new Topics(c.topicPrefix, deps.storeIntegrationId);
    const subscriptions = [...PUSH_KINDS.flatMap((k) => [this.topics.set(k), this.topics.fleetSet(k)]), this.topics.rpcFilter];
    const file = (f: string | null) => (f ? readFileSync(f) : undefined);
    const ca = file(c.caFile);
    const cert = file(c.certFile);
    const key = file(c.keyFile);
    this.#conn = new MqttConnection({
      url: c.url,
      clientId: c.clientId ?? `storegate-${deps.storeIntegrationId}`,
      username: c.username,
      password: c.password,
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      keepaliveSec: c.keepaliveSec,
      sessionExpirySec: c.sessionExpirySec,
      reconnect: c.reconnect,
      will: { topic: this.topics.status, payload: OFFLINE_STATUS },
      subscriptions,
      queueLimit: c.queueLimit,
      clock: deps.clock,
      log: deps.log,
      ...(deps.random ? { random: deps.random } : {}),
      onMessage: (m) => this.#onMessage(m),
      onConnect: () => this.#status.publishNow(),
    });
    this.#status = new StatusPublisher({
      conn: this.#conn,
      topics: this.topics,
      read: () => ({ online: true, ...deps.status() }) as StoreStatus,
      heartbeatMs: c.statusIntervalSec * 1000,
    });
    this.#rpc = new RpcServer({
      topics: this.topics,
      invoke: deps.invoke,
      identify: deps.identify,
      log: deps.log,
      now: () => deps.clock.now(),
      respond: (topic, correlationData, answer) =>
        this.#conn.publish({
          topic,
          payload: answerPayload(answer),
          qos: 1,
          retain: false,
          label: 'rpc',
          volatile: true,
          ...(correlationData ? { properties: { correlationData } } : {}),
        }),
      ...(deps.onRpcAnswered ? { onAnswered: deps.onRpcAnswered } : {}),
    });
  }

  start(): void {
    this.#conn.start();
    this.#status.start();
  }

  /** Publishes a clean `{"online":false}` status and disconnects (no Last Will). */
  async stop(): Promise<void> {
    this.#status.stop();
    await this.#pushQueue;
    await this.#conn.stop({ topic: this.topics.status, payload: OFFLINE_STATUS, qos: 1, retain: true, label: 'status' });
  }

  #onMessage(m: IncomingMessage): void {
    const kind = this.topics.pushKindOf(m.topic);
    if (kind !== null) {
      // Pushes are applied one at a time, in arrival order.
      this.#pushQueue = this.#pushQueue.then(() => this.#handlePush(kind, m.payload)).catch((err: unknown) => {
        this.#d.log.error({ err, kind }, 'mqtt: push handling failed');
      });
      return;
    }
    if (this.topics.rpcMethodOf(m.topic) !== null) {
      void this.#rpc.handle(m);
      return;
    }
    this.#d.log.debug({ topic: m.topic }, 'mqtt: message on an unexpected topic ignored');
  }

  async #handlePush(kind: PushTopicKind, payload: Buffer): Promise<void> {
    if (payload.length === 0) return; // head office clearing a retained push
    const ack = await this.#d.onPush(kind, payload);
    if (ack === null) return;
    this.publishAck(kind, ack);
  }

  /** Publishes an ack (pushes over HTTP are acknowledged here too, so head office sees every outcome). */
  publishAck(kind: PushTopicKind, ack: PushAck): void {
    // Retained, so a fleet view that subscribes later still sees each shop's last outcome.
    this.#conn.publish({ topic: this.topics.ack(kind), payload: JSON.stringify(ack), qos: 1, retain: true, slot: `ack:${kind}`, label: 'ack' });
  }

  /** An alert on `P/alerts` (kept in the bounded queue while the broker is away). */
  alert(a: { kind: string; [k: string]: unknown }): void {
    this.#conn.publish({ topic: this.topics.alerts, payload: JSON.stringify(a), qos: 1, retain: false, label: 'alert' });
  }

  /** A scan on `P/terminals/<id>/scans`. */
  scan(terminalId: string, event: Record<string, unknown>): void {
    this.#conn.publish({ topic: this.topics.scans(terminalId), payload: JSON.stringify(event), qos: 1, retain: false, label: 'scan' });
  }

  /** A price-check answer on `P/pricecheck/<scannerId>` (nobody waits for a stale one). */
  priceCheck(scannerId: string, answer: Record<string, unknown>): void {
    this.#conn.publish({ topic: this.topics.priceCheck(scannerId), payload: JSON.stringify(answer), qos: 0, retain: false, label: 'pricecheck', volatile: true });
  }

  stats(): MqttConnectionStats {
    return this.#conn.stats();
  }
}
