import mqtt, { type MqttClient } from 'mqtt';

export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
  correlationData?: Buffer;
  json<T = Record<string, unknown>>(): T;
}

/** A plain MQTT 5 client for tests (head office, a terminal, a fleet view), recording every message it gets. */
export class TestClient {
  readonly client: MqttClient;
  readonly received: Received[] = [];

  private constructor(client: MqttClient) {
    this.client = client;
    client.on('message', (topic, payload, packet) => {
      const r: Received = {
        topic,
        payload,
        retain: packet.retain,
        json: <T>() => JSON.parse(payload.toString('utf8')) as T,
        ...(packet.properties?.correlationData ? { correlationData: packet.properties.correlationData } : {}),
      };
      this.received.push(r);
    });
  }

  static async connect(url: string, clientId = `test-${Math.random().toString(16).slice(2)}`): Promise<TestClient> {
    const c = await mqtt.connectAsync(url, { protocolVersion: 5, clientId, reconnectPeriod: 0, clean: true }, false);
    return new TestClient(c);
  }

  async subscribe(filter: string): Promise<void> {
    await this.client.subscribeAsync(filter, { qos: 1 });
  }

  async publish(topic: string, payload: string | Buffer, opts: { retain?: boolean; responseTopic?: string; correlationData?: Buffer } = {}): Promise<void> {
    const properties = {
      ...(opts.responseTopic ? { responseTopic: opts.responseTopic } : {}),
      ...(opts.correlationData ? { correlationData: opts.correlationData } : {}),
    };
    await this.client.publishAsync(topic, payload, { qos: 1, retain: opts.retain ?? false, properties });
  }

  /** The first message (already received or still to come) on `topic` that satisfies `pred`. */
  async next(topic: string, pred: (r: Received) => boolean = () => true, ms = 10_000): Promise<Received> {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.received.find((r) => r.topic === topic && pred(r));
      if (hit) return hit;
      if (Date.now() > end) throw new Error(`no message on ${topic} within ${ms} ms (got: ${this.received.map((r) => r.topic).join(', ')})`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
