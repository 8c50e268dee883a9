/**
 * The live-call registry (src/checkout/live-calls.ts): a key is held from a live call's start until it is known
 * finished — at once when it ends within its deadline, when its abandoned exchange is over, or at the safety
 * cap (on an injected clock), which aborts the exchange and is counted.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { ABANDONED_CAP_MS, LiveCalls } from '../../src/checkout/live-calls.js';
import { ManualClock } from '../../src/platform/clock.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import type { AbandonedEnd, AbandonedExchange } from '../../src/upstream/client.js';

function rig(capMs?: number) {
  const clock = new ManualClock();
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write(c: Buffer, _e, cb) { lines.push(JSON.parse(c.toString()) as Record<string, unknown>); cb(); } }));
  const metrics = new Metrics({ defaultMetrics: false });
  const calls = new LiveCalls({ clock, log, metrics, ...(capMs === undefined ? {} : { capMs }) });
  const finished: string[] = [];
  calls.onFinished((k) => finished.push(k));
  return { clock, lines, metrics, calls, finished };
}

/** An exchange whose end the test decides. */
function exchange() {
  let end!: (e: AbandonedEnd) => void;
  const aborted: unknown[] = [];
  const ex: AbandonedExchange = {
    finished: new Promise<AbandonedEnd>((r) => (end = r)),
    abort: (reason) => {
      aborted.push(reason);
      end({ how: 'failed', error: reason });
    },
  };
  return { ex, end: (e: AbandonedEnd) => end(e), aborted };
}

const tick = () => new Promise((r) => setImmediate(r));
const metric = async (m: Metrics, name: string) => (await m.registry.getSingleMetricAsString(name)).split('\n').filter((l) => !l.startsWith('#'));

describe('LiveCalls', () => {
  it('holds a key while a call is live and releases it when the call ends in time', () => {
    const { calls, finished } = rig();
    const c = calls.begin('session:a');
    expect(calls.unfinished('session:a')).toBe(true);
    expect(calls.abandoned('session:a')).toBe(false);
    expect(calls.unfinished('session:b')).toBe(false);
    c.end();
    c.end(); // twice is once
    expect(calls.unfinished('session:a')).toBe(false);
    expect(finished).toEqual(['session:a']); // it was asked about while held
    const d = calls.begin('session:a');
    d.end();
    expect(finished).toEqual(['session:a']); // nobody asked: nobody told
  });

  it('keeps an abandoned call\'s key held until its exchange is over, then tells the listeners', async () => {
    const { calls, finished, metrics, lines } = rig();
    const c = calls.begin('session:a');
    const x = exchange();
    c.abandon(x.ex);
    c.end(); // the terminal's call is over, the exchange is not
    expect(calls.unfinished('session:a')).toBe(true);
    expect(calls.abandoned('session:a')).toBe(true);
    expect(calls.stats()).toEqual({ abandoned: 1, capped: 0 });
    expect(await metric(metrics, 'storegate_upstream_abandoned_inflight')).toContain('storegate_upstream_abandoned_inflight 1');
    await tick();
    expect(finished).toEqual([]);
    x.end({ how: 'answered', status: 200 });
    await tick();
    expect(calls.unfinished('session:a')).toBe(false);
    expect(calls.abandoned('session:a')).toBe(false);
    expect(finished).toEqual(['session:a']);
    expect(calls.stats()).toEqual({ abandoned: 0, capped: 0 });
    expect(await metric(metrics, 'storegate_upstream_abandoned_total')).toContain('storegate_upstream_abandoned_total{outcome="answered"} 1');
    expect(lines.some((l) => l.key === 'session:a' && l.outcome === 'answered' && l.status === 200)).toBe(true);
  });

  it('releases a key only when every call of it is over', async () => {
    const { calls, finished } = rig();
    const a = calls.begin('profile:p');
    const b = calls.begin('profile:p');
    const x = exchange();
    a.abandon(x.ex);
    expect(calls.unfinished('profile:p')).toBe(true);
    x.end({ how: 'failed', error: new Error('socket closed') });
    await tick();
    expect(calls.unfinished('profile:p')).toBe(true); // b is still live
    expect(calls.abandoned('profile:p')).toBe(false);
    b.end();
    expect(calls.unfinished('profile:p')).toBe(false);
    expect(finished).toEqual(['profile:p']);
  });

  it('gives up at the cap: aborts the exchange, releases the key once, counts and logs it', async () => {
    const { calls, clock, finished, metrics, lines } = rig(2000);
    const c = calls.begin('session:w');
    const x = exchange();
    c.abandon(x.ex);
    c.end();
    expect(calls.unfinished('session:w')).toBe(true);
    clock.advance(1999);
    await tick();
    expect(calls.unfinished('session:w')).toBe(true);
    expect(x.aborted).toEqual([]);
    clock.advance(1);
    await tick();
    expect(x.aborted).toHaveLength(1);
    expect(calls.unfinished('session:w')).toBe(false);
    expect(finished).toEqual(['session:w']);
    expect(calls.stats()).toEqual({ abandoned: 0, capped: 1 });
    await tick(); // the exchange's own end (after the abort) changes nothing more
    expect(finished).toEqual(['session:w']);
    expect(await metric(metrics, 'storegate_upstream_abandoned_total')).toEqual(expect.arrayContaining(['storegate_upstream_abandoned_total{outcome="cap"} 1']));
    expect(lines.some((l) => l.level === 40 && l.key === 'session:w' && l.capMs === 2000)).toBe(true);
  });

  it('does not fire the cap for a call that finished first', async () => {
    const { calls, clock } = rig();
    const c = calls.begin('session:f');
    const x = exchange();
    c.abandon(x.ex);
    x.end({ how: 'answered', status: 503 });
    await tick();
    clock.advance(ABANDONED_CAP_MS + 1);
    await tick();
    expect(x.aborted).toEqual([]);
    expect(calls.stats()).toEqual({ abandoned: 0, capped: 0 });
  });

  it('holds the key again when a call is abandoned after it was ended', async () => {
    const { calls } = rig();
    const c = calls.begin('session:late');
    c.end();
    const x = exchange();
    c.abandon(x.ex);
    expect(calls.abandoned('session:late')).toBe(true);
    x.end({ how: 'answered', status: 200 });
    await tick();
    expect(calls.unfinished('session:late')).toBe(false);
  });
});
