import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { noDelay, refusedMqtt5 } from './link.js';

export interface PublishAndWaitOptions {
  url: string;
  ca?: Buffer;
  username?: string;
  password?: string;
  /** Where the signed push goes (retained). */
  topic: string;
  payload: string;
  /** Topic filter of the acks to wait for (one store's `…/<kind>/ack`, or `…/+/<kind>/ack` for the fleet). */
  ackFilter: string;
  /** Acks of other versions (earlier pushes, retained) are ignored. */
  version: number;
  timeoutMs: number;
  /** Stop once this many stores have answered (1 for one store); unset = wait the whole timeout. */
  expect?: number;
  onAck?: (topic: string, ack: Record<string, unknown>) => void;
}

/**
 * Head office's side of a push (`storegate push`): connect, subscribe to the acks, publish the signed push
 * retained (a shop that is offline now gets it when it reconnects), and collect the acks of this version.
 */
export async function publishAndWait(o: PublishAndWaitOptions): Promise<{ topic: string; ack: Record<string, unknown> }[]> {
  const client = await connectOnce(o);
  noDelay(client);
  const acks: { topic: string; ack: Record<string, unknown> }[] = [];
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve(acks), o.timeoutMs);
      client.on('message', (topic, payload) => {
        let ack: Record<string, unknown>;
        try {
          ack = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
        } catch {
          return;
        }
        if (ack.version !== o.version || acks.some((a) => a.topic === topic)) return;
        acks.push({ topic, ack });
        o.onAck?.(topic, ack);
        if (o.expect !== undefined && acks.length >= o.expect) {
          clearTimeout(timer);
          resolve(acks);
        }
      });
      client.subscribe(o.ackFilter, { qos: 1 }, (err) => {
        if (err) return reject(err);
        client.publish(o.topic, o.payload, { qos: 1, retain: true }, (perr) => {
          if (perr) reject(perr);
        });
      });
    });
  } finally {
    await new Promise<void>((r) => client.end(false, {}, () => r()));
  }
}

async function connectOnce(o: PublishAndWaitOptions): Promise<MqttClient> {
  const base: IClientOptions = {
    clientId: `storegate-push-${randomBytes(4).toString('hex')}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: Math.min(o.timeoutMs, 10_000),
    ...(o.ca ? { ca: o.ca } : {}),
    ...(o.username ? { username: o.username } : {}),
    ...(o.password ? { password: o.password } : {}),
  };
  return (await connectEither(o.url, base)).client;
}

/** Connects with MQTT 5, or with 3.1.1 when the broker refuses 5. */
async function connectEither(url: string, base: IClientOptions): Promise<{ client: MqttClient; protocolVersion: 4 | 5 }> {
  try {
    return { client: await mqtt.connectAsync(url, { ...base, protocolVersion: 5 }, false), protocolVersion: 5 };
  } catch (err) {
    if (!refusedMqtt5(err)) throw err;
    return { client: await mqtt.connectAsync(url, { ...base, protocolVersion: 4 }, false), protocolVersion: 4 };
  }
}

/**
 * `storegate doctor`'s broker check: connects (MQTT 5, else 3.1.1) under a client id of its own — never the
 * daemon's, which would take over its session — and leaves at once. Rejects with the reason.
 */
export async function probeBroker(o: {
  url: string;
  clientId: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  username?: string;
  password?: string;
  timeoutMs: number;
}): Promise<{ protocolVersion: 4 | 5; ms: number }> {
  const t0 = performance.now();
  const { client, protocolVersion } = await connectEither(o.url, {
    clientId: o.clientId,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: o.timeoutMs,
    ...(o.ca ? { ca: o.ca } : {}),
    ...(o.cert ? { cert: o.cert } : {}),
    ...(o.key ? { key: o.key } : {}),
    ...(o.username ? { username: o.username } : {}),
    ...(o.password ? { password: o.password } : {}),
  });
  const ms = performance.now() - t0;
  await new Promise<void>((r) => client.end(false, {}, () => r()));
  return { protocolVersion, ms };
}
