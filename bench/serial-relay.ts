/**
 * The baseline of `npm run bench -- serial`: a separate process that reads a serial port with serialport's own
 * line parser and publishes each line to `<topic>` (QoS 1, TCP_NODELAY), doing no other work — what any
 * pty-to-MQTT bridge costs. The gateway's scan path (framing, checks, classification, status, event stream,
 * publish) is measured against this one.
 */
import mqtt from 'mqtt';
import { ReadlineParser, SerialPort } from 'serialport';

const [url, topic, device] = process.argv.slice(2);
if (!url || !topic || !device) throw new Error('usage: serial-relay URL TOPIC DEVICE');
const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: 'bench-serial-relay', reconnectPeriod: 0 });
(client.stream as unknown as { setNoDelay(v: boolean): void }).setNoDelay(true);
const port = new SerialPort({ path: device, baudRate: 9600 });
port.pipe(new ReadlineParser({ delimiter: '\r\n' })).on('data', (line: string) => {
  client.publish(topic, JSON.stringify({ code: line }), { qos: 1 });
});
await new Promise<void>((resolve, reject) => {
  port.once('open', resolve);
  port.once('error', reject);
});
console.log('ready');
process.on('SIGTERM', () => port.close(() => client.end(true, {}, () => process.exit(0))));
