/**
 * The notifier's rules, on a recorder and a hand-driven timer: READY=1 then pings at half of WATCHDOG_USEC,
 * one ping at a time, none after STOPPING=1, nothing at all outside systemd. (The real helper on a real socket:
 * test/integration/shutdown.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { SystemdNotifier, watchdogInterval } from '../../src/platform/sd-notify.js';

const log = pino({ level: 'silent' });

function harness(env: NodeJS.ProcessEnv, pid = 4242) {
  const sent: string[][] = [];
  let release: (() => void) | null = null;
  let hold = false;
  const timers: { ms: number; fn: () => void; stopped: boolean }[] = [];
  const n = new SystemdNotifier({
    env,
    log,
    pid,
    send: (fields) => {
      sent.push(fields);
      return hold ? new Promise<boolean>((r) => (release = () => r(true))) : Promise.resolve(true);
    },
    every: (ms, fn) => {
      const t = { ms, fn, stopped: false };
      timers.push(t);
      return { stop: () => (t.stopped = true) };
    },
  });
  return { n, sent, timers, holdNext: () => (hold = true), release: () => { hold = false; release?.(); } };
}

describe('sd_notify', () => {
  it('reads the watchdog period as sd_watchdog_enabled does', () => {
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000' }, 1)).toBe(15_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }, 1)).toBe(15_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '2' }, 1)).toBeNull(); // meant for another process
    expect(watchdogInterval({ WATCHDOG_USEC: 'soon' }, 1)).toBeNull();
    expect(watchdogInterval({ WATCHDOG_USEC: '-5' }, 1)).toBeNull();
    expect(watchdogInterval({}, 1)).toBeNull();
  });

  it('READY=1 with a one-line status, then WATCHDOG=1 on every tick; STOPPING=1 ends the pings', async () => {
    const h = harness({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000' });
    expect(h.n.active).toBe(true);
    await h.n.ready('ready: http://0.0.0.0:8080,\nmode offline');
    expect(h.sent).toEqual([['READY=1', 'STATUS=ready: http://0.0.0.0:8080, mode offline']]);
    expect(h.timers).toHaveLength(1);
    expect(h.timers[0]?.ms).toBe(15_000);
    const tick = async () => {
      h.timers[0]?.fn();
      await new Promise((r) => setImmediate(r));
    };
    await tick();
    await tick();
    expect(h.sent.slice(1)).toEqual([['WATCHDOG=1'], ['WATCHDOG=1']]);
    await h.n.stopping();
    expect(h.timers[0]?.stopped).toBe(true);
    expect(h.sent.at(-1)?.[0]).toBe('STOPPING=1');
  });

  it('a ping whose helper is still out is skipped, not queued', async () => {
    const h = harness({ NOTIFY_SOCKET: '@/org/freedesktop/systemd1/notify', WATCHDOG_USEC: '1000000' });
    await h.n.ready('ready');
    h.holdNext();
    h.timers[0]?.fn();
    h.timers[0]?.fn();
    h.timers[0]?.fn();
    expect(h.sent.filter((f) => f[0] === 'WATCHDOG=1')).toHaveLength(1);
    h.release();
    await new Promise((r) => setImmediate(r));
    h.timers[0]?.fn();
    expect(h.sent.filter((f) => f[0] === 'WATCHDOG=1')).toHaveLength(2);
  });

  it('outside systemd (no NOTIFY_SOCKET) it sends nothing and starts no timer', async () => {
    const h = harness({ WATCHDOG_USEC: '1000000' });
    expect(h.n.active).toBe(false);
    await h.n.ready('ready');
    await h.n.stopping();
    expect(h.sent).toEqual([]);
    expect(h.timers).toEqual([]);
  });

  it('no WatchdogSec: READY=1 and STOPPING=1 only', async () => {
    const h = harness({ NOTIFY_SOCKET: '/run/systemd/notify' });
    await h.n.ready('ready');
    await h.n.stopping();
    expect(h.timers).toEqual([]);
    expect(h.sent.map((f) => f[0])).toEqual(['READY=1', 'STOPPING=1']);
  });
});
