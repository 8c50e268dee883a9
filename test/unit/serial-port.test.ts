/**
 * A scanner port's life cycle (src/serial/port.ts) on a clock moved by hand: unplugged, it is retried with
 * backoff and reported; gone longer than `goneAlertSec` it raises one alert; back, it serves again. The real
 * device and hot-plug are tested with socat ptys in test/integration/serial.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { SerialPortError, explain, type SerialDevice } from '../../src/serial/device.js';
import { ScannerPort } from '../../src/serial/port.js';
import { Writable } from 'node:stream';

class FakeDevice implements SerialDevice {
  data: ((c: Buffer) => void) | null = null;
  closeFn: ((err: Error | null) => void) | null = null;
  written: Buffer[] = [];
  closed = false;
  onData(fn: (c: Buffer) => void) {
    this.data = fn;
  }
  onClose(fn: (err: Error | null) => void) {
    this.closeFn = fn;
  }
  async write(b: Buffer) {
    this.written.push(b);
  }
  async close() {
    this.closed = true;
  }
  /** The device reports a disconnect (what serialport does on a read error). */
  unplug() {
    this.closed = true;
    this.closeFn?.(new Error('bad file descriptor'));
  }
}

function setup(o: { goneAlertMs?: number } = {}) {
  const clock = new ManualClock();
  const logs: string[] = [];
  const log = createLogger('info', new Writable({ write: (c: Buffer, _e, cb) => (logs.push(c.toString()), cb()) }));
  const world = { present: true, identity: 'dev-1', eacces: false, devices: [] as FakeDevice[] };
  const lines: string[] = [];
  const alerts: { event: string; closedForMs: number }[] = [];
  const port = new ScannerPort({
    id: 'scanner-1',
    path: '/dev/serial/by-id/usb-Acme-if00',
    baudRate: 9600,
    suffix: '\r\n',
    interByteTimeoutMs: 50,
    maxLineBytes: 64,
    goneAlertMs: o.goneAlertMs ?? 60_000,
    clock,
    log,
    open: async (path) => {
      if (!world.present) throw new SerialPortError('ENOENT', explain('ENOENT', path));
      if (world.eacces) throw new SerialPortError('EACCES', explain('EACCES', path));
      const d = new FakeDevice();
      world.devices.push(d);
      return d;
    },
    identity: async () => (world.present ? world.identity : null),
    schedule: () => () => undefined,
    onLine: (l) => lines.push(l.toString()),
    onGone: (event, info) => alerts.push({ event, closedForMs: info.closedForMs }),
  });
  /** Moves the clock in small steps, letting the port's promises run between them. */
  const tick = async (ms: number, step = 50) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(step);
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    }
  };
  return { clock, port, world, lines, alerts, logs, tick };
}

describe('scanner port life cycle', () => {
  it('reads lines, closes on unplug, reopens when the device is back, and counts the reopen', async () => {
    const { port, world, lines, tick } = setup();
    port.start();
    await tick(100);
    expect(port.status()).toMatchObject({ open: true, reopenCount: 0, lastError: null });
    world.devices[0]?.data?.(Buffer.from('4006381333931\r\n'));
    expect(lines).toEqual(['4006381333931']);

    world.present = false;
    world.devices[0]?.unplug();
    await tick(100);
    expect(port.status()).toMatchObject({ open: false, lastError: { code: 'ENOENT' } });

    world.present = true;
    world.identity = 'dev-2';
    await tick(3000);
    expect(port.status()).toMatchObject({ open: true, reopenCount: 1 });
    world.devices[1]?.data?.(Buffer.from('96385074\r\n'));
    expect(lines).toEqual(['4006381333931', '96385074']);
    await port.stop();
    expect(world.devices[1]?.closed).toBe(true);
  });

  it('notices an unplug without a close event, by its path', async () => {
    const { port, world, tick } = setup();
    port.start();
    await tick(100);
    world.present = false; // no close event from the device
    await tick(1100);
    expect(port.status().open).toBe(false);
    expect(world.devices[0]?.closed).toBe(true);
    world.present = true;
    await tick(3000);
    expect(port.status()).toMatchObject({ open: true, reopenCount: 1 });
    await port.stop();
  });

  it('reopens when the path now names another device (replugged between two looks)', async () => {
    const { port, world, tick } = setup();
    port.start();
    await tick(100);
    world.identity = 'dev-2';
    await tick(1500);
    expect(port.status()).toMatchObject({ open: true, reopenCount: 1 });
    expect(world.devices).toHaveLength(2);
    await port.stop();
  });

  it('raises one scannerGone alert after goneAlertSec closed, and scannerBack when it returns', async () => {
    const { port, world, alerts, tick } = setup({ goneAlertMs: 60_000 });
    port.start();
    await tick(100);
    world.present = false;
    world.devices[0]?.unplug();
    await tick(58_000, 500);
    expect(alerts).toEqual([]);
    await tick(5000, 500);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.event).toBe('gone');
    expect(alerts[0]?.closedForMs).toBeGreaterThanOrEqual(60_000);
    await tick(30_000, 500);
    expect(alerts).toHaveLength(1);
    world.present = true;
    await tick(3000);
    expect(alerts.map((a) => a.event)).toEqual(['gone', 'back']);
    await port.stop();
  });

  it('reports a permission error clearly, logged once however often it is retried', async () => {
    const { port, world, logs, tick } = setup();
    world.eacces = true;
    port.start();
    await tick(20_000, 250);
    const st = port.status();
    expect(st.open).toBe(false);
    expect(st.lastError?.code).toBe('EACCES');
    expect(st.lastError?.message).toMatch(/dialout/);
    expect(logs.filter((l) => l.includes('EACCES'))).toHaveLength(1);
    world.eacces = false;
    await tick(3000);
    expect(port.status().open).toBe(true);
    await port.stop();
  });

  it('stops promptly while waiting for an absent device', async () => {
    const { port, world, tick } = setup();
    world.present = false;
    port.start();
    await tick(1000);
    await port.stop();
    expect(port.status().open).toBe(false);
  });
});
