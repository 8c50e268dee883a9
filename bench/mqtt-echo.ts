/**
 * The baseline of `npm run bench -- mqtt`: a separate process that answers every message on `<topic>` by
 * publishing it back to its `responseTopic` with its `correlationData` (MQTT 5), doing no other work. The
 * gateway's RPC is measured against this round trip through the same broker.
 */
import mqtt from 'mqtt';

const [url, topic] = process.argv.slice(2);
if (!url || !topic) throw new Error('usage: mqtt-echo URL TOPIC');
const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: 'bench-echo', reconnectPeriod: 0 });
(client.stream as unknown as { setNoDelay(v: boolean): void }).setNoDelay(true); // no Nagle delay on small answers
client.on('message', (_t, payload, packet) => {
  const reply = packet.properties?.responseTopic;
  if (!reply) return;
  client.publish(reply, payload, { qos: 1, properties: { correlationData: packet.properties?.correlationData } });
});
await client.subscribeAsync(topic, { qos: 1 });
console.log('ready');
process.on('SIGTERM', () => client.end(true, {}, () => process.exit(0)));
