import { describe, expect, it } from 'vitest';
import { UpstreamHealth } from '../../src/upstream/health.js';
import { ManualClock } from '../../src/platform/clock.js';

function health(timeoutMs = 800) {
  const clock = new ManualClock(Date.parse('2026-11-25T10:00:00Z'));
  return { h: new UpstreamHealth({ timeoutMs, clock }), clock };
}

describe('upstream health', () => {
  it('starts up, and reports p50 latency and lastOkAt', () => {
    const { h } = health();
    expect(h.state).toBe('up');
    for (let i = 1; i <= 30; i++) h.recordSuccess(i);
    const s = h.snapshot();
    expect(s.state).toBe('up');
    expect(s.latencyMsP50).toBe(15);
    expect(s.lastOkAt).toBe('2026-11-25T10:00:00.000Z');
  });

  it('is degraded after one failure and down after three in a row', () => {
    const { h } = health();
    const seen: string[] = [];
    h.onChange((s) => seen.push(s));
    h.recordFailure('ECONNREFUSED');
    expect(h.state).toBe('degraded');
    h.recordSuccess(5);
    expect(h.state).toBe('up');
    h.recordFailure('a');
    h.recordFailure('b');
    h.recordFailure('c');
    expect(h.state).toBe('down');
    expect(seen).toEqual(['degraded', 'up', 'degraded', 'down']);
  });

  it('stays down on terminal successes until the probe says it is back', () => {
    const { h } = health();
    for (let i = 0; i < 3; i++) h.recordFailure('timeout');
    h.recordSuccess(3);
    expect(h.state).toBe('down');
    h.probeSucceeded(4);
    expect(h.state).toBe('up');
    expect(h.snapshot().consecutiveFailures).toBe(0);
  });

  it('goes down when p95 latency exceeds the deadline, degraded past half of it', () => {
    const { h } = health(100);
    for (let i = 0; i < 40; i++) h.recordSuccess(60);
    expect(h.state).toBe('degraded');
    for (let i = 0; i < 64; i++) h.recordSuccess(150);
    expect(h.state).toBe('down');
  });

  it('measures clock skew from the upstream Date header, ignoring sub-second noise', () => {
    const { h, clock } = health();
    h.recordClockSkew(new Date(clock.now() + 400).toUTCString(), clock.now());
    expect(h.snapshot().clockSkewMs).toBe(0);
    h.recordClockSkew(new Date(clock.now() + 5000).toUTCString(), clock.now());
    expect(h.snapshot().clockSkewMs).toBe(5000);
    h.recordClockSkew('garbage', clock.now());
    expect(h.snapshot().clockSkewMs).toBe(5000);
  });
});
