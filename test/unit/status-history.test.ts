/**
 * The status page's last hour: one point per interval on the injected clock (no sleeping), answers counted per
 * interval (not since the start), at most an hour kept, and the running interval shown as the last point.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { HISTORY_INTERVAL_MS, HISTORY_POINTS, StatusHistory } from '../../src/status/history.js';
import { TerminalActivity } from '../../src/status/activity.js';

function world() {
  const clock = new ManualClock(Date.parse('2026-12-07T12:00:00Z'));
  const terminals = ['T1', 'T2'];
  const activity = new TerminalActivity({ configured: () => terminals, now: () => clock.now() });
  let depth = 0;
  let p50: number | null = null;
  const history = new StatusHistory({ clock, readings: { upstreamP50Ms: () => p50, journalDepth: () => depth, answers: () => activity.answers() } });
  return {
    clock,
    activity,
    history,
    terminals,
    set: (d: number, p: number | null) => {
      depth = d;
      p50 = p;
    },
  };
}

/** Lets the sampler's loop run after the clock moved (its sleep resolves on a microtask). */
const settle = () => new Promise((r) => setImmediate(r));

describe('StatusHistory', () => {
  it('samples every 30 s on the clock it is given, with answers per interval by source', async () => {
    const w = world();
    w.history.start();
    w.activity.record('T1', 'local');
    w.activity.record('T1', 'local');
    w.activity.record('T2', 'upstream');
    w.set(2, 40);
    w.clock.advance(HISTORY_INTERVAL_MS);
    await settle();
    w.activity.record('T1', 'upstream');
    w.activity.record('T1', 'gateway');
    w.set(0, 55);
    w.clock.advance(HISTORY_INTERVAL_MS);
    await settle();
    w.activity.record('T2', 'local');
    const points = w.history.snapshot().points;
    expect(points).toHaveLength(3);
    expect(points.map((p) => [p.local, p.upstream, p.gateway, p.journalDepth, p.upstreamP50Ms])).toEqual([
      [2, 1, 0, 2, 40],
      [0, 1, 1, 0, 55],
      [1, 0, 0, 0, 55], // the running interval
    ]);
    expect(points[1]!.at - points[0]!.at).toBe(HISTORY_INTERVAL_MS);
    expect(w.history.snapshot().intervalSec).toBe(30);
    w.history.stop();
  });

  it('keeps one hour: the oldest points go first', () => {
    const w = world();
    for (let i = 0; i < HISTORY_POINTS + 30; i++) {
      w.set(i, null);
      w.clock.advance(HISTORY_INTERVAL_MS);
      w.history.tick();
    }
    const points = w.history.snapshot().points;
    expect(points).toHaveLength(HISTORY_POINTS);
    // Oldest first, each interval once, ending with the running one.
    expect(points.map((p) => p.journalDepth)).toEqual([...Array.from({ length: HISTORY_POINTS - 1 }, (_, i) => i + 31 + 0), HISTORY_POINTS + 29]);
    const ats = points.map((p) => p.at);
    expect([...ats].sort((a, b) => a - b)).toEqual(ats);
    expect(ats.at(-1)! - ats[0]!).toBe((HISTORY_POINTS - 2) * HISTORY_INTERVAL_MS);
  });

  it('stops sampling when stopped', async () => {
    const w = world();
    w.history.start();
    w.clock.advance(HISTORY_INTERVAL_MS);
    await settle();
    w.history.stop();
    w.clock.advance(HISTORY_INTERVAL_MS * 5);
    await settle();
    expect(w.history.snapshot().points).toHaveLength(2); // one stored point and the running interval
  });

  it('a reading that throws skips the point and keeps sampling', async () => {
    const clock = new ManualClock();
    let fail = true;
    const history = new StatusHistory({
      clock,
      readings: {
        upstreamP50Ms: () => null,
        journalDepth: () => {
          if (fail) throw new Error('journal closed');
          return 7;
        },
        answers: () => ({ upstream: 0, local: 0, gateway: 0 }),
      },
    });
    history.start();
    clock.advance(HISTORY_INTERVAL_MS);
    await settle();
    fail = false;
    clock.advance(HISTORY_INTERVAL_MS);
    await settle();
    expect(history.snapshot().points.map((p) => p.journalDepth)).toEqual([7, 7]);
    history.stop();
  });
});

describe('TerminalActivity', () => {
  it('lists every configured terminal, seen or not, with its last request and count', () => {
    const w = world();
    w.activity.record('T2', 'local');
    w.clock.advance(5000);
    w.activity.record('T2', 'upstream');
    expect(w.activity.terminals()).toEqual([
      { id: 'T1', lastSeenAt: null, requests: 0 },
      { id: 'T2', lastSeenAt: '2026-12-07T12:00:05.000Z', requests: 2 },
    ]);
    expect(w.activity.answers()).toEqual({ upstream: 1, local: 1, gateway: 0 });
  });

  it('is bounded by the configured terminals: others are neither kept nor counted', () => {
    const w = world();
    for (let i = 0; i < 10_000; i++) w.activity.record(`X${i}`, 'gateway');
    expect(w.activity.terminals().map((t) => t.id)).toEqual(['T1', 'T2']);
    expect(w.activity.answers()).toEqual({ upstream: 0, local: 0, gateway: 0 });
  });

  it('forgets a terminal a pushed config removed, and lists one it added', () => {
    const w = world();
    w.activity.record('T1', 'local');
    w.terminals.splice(0, 1, 'T3');
    expect(w.activity.terminals()).toEqual([
      { id: 'T3', lastSeenAt: null, requests: 0 },
      { id: 'T2', lastSeenAt: null, requests: 0 },
    ]);
    w.terminals.push('T1');
    expect(w.activity.terminals().find((t) => t.id === 'T1')).toEqual({ id: 'T1', lastSeenAt: null, requests: 0 });
  });
});
