/**
 * The simulated fleet of `npm run bench -- headoffice`: N shops as N MQTT clients in this one process, on the
 * real broker. Each subscribes to its rules topics (its own and `*`), and for every push it verifies the Ed25519
 * signature over the JWS (as a shop does), parses the payload, and, when the version is new, publishes
 * `{version, ok: true}` retained on `P/rules/ack`. It does not compile or persist the rules (the mqtt benchmark
 * measures that: ~100 ms for 500 campaigns on one shop).
 *
 *   tsx bench/headoffice-stores.ts BROKER_URL PREFIX COUNT PUBLIC_KEY_FILE
 */
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';

const [url, prefix, countText, keyFile] = process.argv.slice(2);
if (!url || !prefix || !countText || !keyFile) throw new Error('usage: headoffice-stores URL PREFIX COUNT PUBLIC_KEY_FILE');
const key = createPublicKey(readFileSync(keyFile, 'utf8'));
const count = Number(countText);

/** The generated chain's store ids (scripts/talon-emulator/management-gen.ts). */
function storeId(i: number): string {
  return `store-${String(i + 1).padStart(4, '0')}`;
}

let verified = 0;
let refused = 0;

function handle(client: MqttClient, store: string, applied: { v: number }, payload: Buffer): void {
  if (payload.length === 0) return;
  const text = payload.toString('latin1');
  const a = text.indexOf('.');
  const b = text.indexOf('.', a + 1);
  const ok = verify(null, Buffer.from(text.slice(0, b), 'latin1'), key, Buffer.from(text.slice(b + 1), 'base64url'));
  if (!ok) {
    refused++;
    return;
  }
  verified++;
  const env = JSON.parse(Buffer.from(text.slice(a + 1, b), 'base64url').toString('utf8')) as { version: number; storeIntegrationId: string; data: { campaigns?: unknown[] } };
  if ((env.storeIntegrationId !== store && env.storeIntegrationId !== '*') || env.version <= applied.v || !Array.isArray(env.data.campaigns)) return;
  applied.v = env.version;
  client.publish(`${prefix}/${store}/rules/ack`, JSON.stringify({ version: env.version, ok: true, changed: env.data.campaigns.length }), { qos: 1, retain: true });
}

const clients: MqttClient[] = [];
for (let i = 0; i < count; i++) {
  const store = storeId(i);
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: `bench-shop-${store}`, reconnectPeriod: 0, clean: true });
  (client.stream as unknown as { setNoDelay(v: boolean): void }).setNoDelay(true);
  const applied = { v: 0 };
  client.on('message', (_topic, payload) => handle(client, store, applied, payload));
  await client.subscribeAsync([`${prefix}/${store}/rules/set`, `${prefix}/*/rules/set`], { qos: 1 });
  clients.push(client);
}
console.log(JSON.stringify({ ready: count }));
setInterval(() => console.log(JSON.stringify({ verified, refused })), 5000).unref();
process.on('SIGTERM', () => {
  for (const c of clients) c.end(true);
  process.exit(0);
});
