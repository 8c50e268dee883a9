import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { reconnectDelay } from '../../src/mqtt/reconnect.js';
import { Outbox } from '../../src/mqtt/outbox.js';
import { Topics } from '../../src/mqtt/topics.js';

describe('reconnectDelay', () => {
  const policy = { minMs: 1000, spreadMs: 20_000, maxMs: 120_000 };
  it('stays within [minMs, minMs + min(maxMs, spreadMs·2^n)] and spreads the first wave over spreadMs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (n, r) => {
        const d = reconnectDelay(n, policy, () => r);
        return d >= policy.minMs && d <= policy.minMs + Math.min(policy.maxMs, policy.spreadMs * 2 ** Math.min(n, 30));
      }),
    );
    expect(reconnectDelay(0, policy, () => 0)).toBe(1000);
    expect(reconnectDelay(0, policy, () => 0.999999)).toBe(20_999);
    expect(reconnectDelay(10, policy, () => 0.999999)).toBe(120_999);
  });
});

describe('Outbox', () => {
  it('keeps only the newest message of a slot, keeps others in order, drops the oldest past the limit and counts it', () => {
    const box = new Outbox(3);
    const m = (label: string, payload: string, slot?: string) => ({ topic: 't', payload, qos: 1 as const, retain: false, label, ...(slot ? { slot } : {}) });
    box.push(m('status', 's1', 'status'));
    for (const p of ['a1', 'a2', 'a3', 'a4', 'a5']) box.push(m('alert', p));
    box.push(m('status', 's2', 'status'));
    expect(box.size).toBe(4);
    expect(box.dropped()).toEqual({ alert: 2 });
    expect(box.drain().map((x) => x.payload)).toEqual(['s2', 'a3', 'a4', 'a5']);
    expect(box.size).toBe(0);
  });
});

describe('Topics', () => {
  const t = new Topics('storegate', 'store-042');
  it('recognises push topics of the store and of the fleet, and nothing else', () => {
    expect(t.pushKindOf('storegate/store-042/rules/set')).toBe('rules');
    expect(t.pushKindOf('storegate/*/config/set')).toBe('config');
    expect(t.pushKindOf('storegate/store-043/rules/set')).toBeNull();
    expect(t.pushKindOf('storegate/store-042/evil/set')).toBeNull();
    expect(t.rpcMethodOf('storegate/store-042/rpc/trackEvent')).toBe('trackEvent');
  });

  it('forbids RPC answers over the gateway topics of any shop, and wildcards', () => {
    for (const bad of ['storegate/store-042/status', 'storegate/store-7/config/set', 'storegate/*/rules/set', 'storegate/store-042/prices/ack', 'storegate/store-042/alerts', 'storegate/store-042/rpc/trackEvent', 'storegate/store-042/terminals/T1/scans', 'storegate/store-042/pricecheck/p1', 'a/+/b', 'a/#', '']) {
      expect(t.isForbiddenResponseTopic(bad), bad).toBe(true);
    }
    for (const ok of ['pos/T1/replies', 'storegate/store-042/terminals/T1/replies', 'storegate/store-042/replies/T1']) {
      expect(t.isForbiddenResponseTopic(ok), ok).toBe(false);
    }
  });
});
