/**
 * What each shop is sent, from a pull cache: per-store rules (its campaigns, its own Store, the evaluation tree
 * with every campaign in it), coupons to `*` when every shop holds the same coupon campaigns, pushes a shop
 * verifies (src/trust verifyPush), nothing pushed again when nothing changed, and a shop that acknowledges a
 * delta or batch without the push before it gets its whole set again on its own topic, which is then cleared.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Builder, withAllCampaigns } from '../../src/headoffice/build.js';
import { PullCache } from '../../src/headoffice/cache.js';
import { Publisher } from '../../src/headoffice/publish.js';
import { Streams } from '../../src/headoffice/streams.js';
import type { FleetBroker } from '../../src/mqtt/fleet-client.js';
import { ManualClock } from '../../src/platform/clock.js';
import { FileSnapshotStore } from '../../src/state/snapshot-store.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { ed25519PrivateKey, loadTrustedKeys, verifyPush } from '../../src/trust/index.js';
import { parseRules } from '../../src/engine/ingest/rules.js';
import { keyPair } from '../helpers/signing.js';

const quiet = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const keys = keyPair();
const trusted = loadTrustedKeys([keys.publicPem]);
const rs = (id: number) => ({ id: id * 10, promotionRules: [{ title: `r${id}`, blocks: [{ id: 'a', type: 'awardDiscount', name: 'x', value: 1, partial: false, target: { type: 'cart' } }] }], strikethroughRules: [] });

class FakeBroker implements FleetBroker {
  connected = true;
  readonly sent: { topic: string; payload: string; retain: boolean }[] = [];
  readonly #cbs: ((sessionPresent: boolean) => void)[] = [];
  async publish(topic: string, payload: string | Buffer, retain: boolean): Promise<void> {
    this.sent.push({ topic, payload: String(payload), retain });
  }
  onConnect(f: (sessionPresent: boolean) => void): void {
    this.#cbs.push(f);
  }
  stats() {
    return { connected: true, since: null, reconnects: 0, broker: 'fake', lastError: null };
  }
}

async function world(maxMessageBytes = 8 * 1048576, signThreads = 0) {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-ho-pub-'));
  const cache = await PullCache.open(dir);
  const stores = [{ id: 1, integrationId: 'S1', name: 'one' }, { id: 2, integrationId: 'S2', name: 'two' }];
  const campaigns = [
    { id: 10, name: 'all', state: 'enabled', activeRulesetId: 100, features: ['coupons'] },
    { id: 20, name: 'S2 only', state: 'enabled', activeRulesetId: 200, linkedStoreIds: [2] },
  ];
  await cache.record({ t: 'app', v: { currency: 'EUR', timezone: 'Europe/Berlin', name: 'not pushed' } }, { t: 'stores', v: stores }, { t: 'filters', v: [] }, { t: 'campaigns', v: campaigns });
  await cache.record({ t: 'ruleset', campaignId: 10, rulesetId: 100, v: rs(10) }, { t: 'ruleset', campaignId: 20, rulesetId: 200, v: rs(20) });
  await cache.record({ t: 'tree', v: { id: 1, version: 1, set: { type: 'SET', operator: 'ALL', elements: [{ type: 'CAMPAIGN', campaignId: 10 }] } } });
  const coupons = Array.from({ length: 3000 }, (_, i) => ({ id: i, value: `K${i}`, campaignId: 10, usageLimit: 1, usageCounter: 0 }));
  await cache.record({ t: 'couponsPage', campaignId: 10, startedAt: 1_700_000_000_000, skip: 0, next: null, v: coupons }, { t: 'couponsDone', campaignId: 10 });
  for (const key of ['fullDone', 'couponsDone'] as const) await cache.record({ t: 'mark', key, at: 1 });
  const clock = new ManualClock(Date.parse('2026-06-01T00:00:00Z'));
  const streams = new Streams(new FileSnapshotStore(dir));
  await streams.start();
  const broker = new FakeBroker();
  const pub = new Publisher({ broker, builder: new Builder(), cache, streams, signingKey: ed25519PrivateKey(keys.privatePem), signThreads, topicPrefix: 'sg', maxMessageBytes, concurrency: 4, clock, log: quiet, priceItems: () => [] });
  return { cache, streams, broker, pub, clock };
}

async function open(jws: string, store: string, kind: 'rules' | 'coupons' | 'prices') {
  return verifyPush(jws, { keys: trusted, storeIntegrationId: store, kind, maxBytes: 64 * 1048576 });
}

describe('head office pushes', () => {
  it('sends each store its campaigns and own Store, signed (on worker threads), and pushes nothing when nothing changed', async () => {
    const w = await world(8 * 1048576, 2);
    w.pub.schedule(['rules', 'coupons']);
    await w.pub.idle();
    const rules = w.broker.sent.filter((s) => s.topic.endsWith('/rules/set'));
    expect(rules.map((s) => s.topic).sort()).toEqual(['sg/S1/rules/set', 'sg/S2/rules/set']);
    expect(rules.every((s) => s.retain)).toBe(true);
    const s1 = await open(rules.find((s) => s.topic === 'sg/S1/rules/set')?.payload as string, 'S1', 'rules');
    const d1 = s1.data as { campaigns: { campaign: { id: number } }[]; stores: { integrationId: string }[]; evaluationTree: { set: { elements: { campaignId: number }[] } }; application: Record<string, unknown> };
    expect(d1.campaigns.map((c) => c.campaign.id)).toEqual([10]);
    expect(d1.stores.map((s) => s.integrationId)).toEqual(['S1']);
    expect(d1.application).toEqual({ currency: 'EUR', timezone: 'Europe/Berlin' });
    const s2 = await open(rules.find((s) => s.topic === 'sg/S2/rules/set')?.payload as string, 'S2', 'rules');
    const d2 = s2.data as typeof d1;
    expect(d2.campaigns.map((c) => c.campaign.id)).toEqual([10, 20]);
    // Campaign 20 is missing from the tree Talon.One last notified: appended, or the shop would never run it.
    expect(d2.evaluationTree.set.elements.map((e) => e.campaignId)).toEqual([10, 20]);
    // The shop accepts it as rules data.
    expect(() => parseRules({ ...d2, version: s2.version })).not.toThrow();
    const coupons = w.broker.sent.filter((s) => s.topic.endsWith('/coupons/set'));
    expect(coupons.map((s) => s.topic)).toEqual(['sg/*/coupons/set']);
    const c = await open(coupons[0]?.payload as string, 'S1', 'coupons');
    expect(c.storeIntegrationId).toBe('*');
    // The version is no later than when the coupons were read: shops forget offline uses by it.
    expect(c.version).toBe(1_700_000_000_000);
    w.broker.sent.length = 0;
    w.pub.schedule(['rules', 'coupons']);
    await w.pub.idle();
    expect(w.broker.sent).toEqual([]);
    w.pub.stop();
  });

  it('splits coupons over the message limit, then sends changes as a delta; a shop missing the chunk before gets the whole set on its own topic, cleared once applied', async () => {
    const w = await world(96 * 1024);
    w.pub.schedule(['coupons']);
    await w.pub.idle();
    const chunks = w.broker.sent.filter((s) => s.topic === 'sg/*/coupons/set');
    expect(chunks.length).toBeGreaterThan(1);
    for (const ch of chunks) expect(ch.payload.length).toBeLessThanOrEqual(96 * 1024);
    const versions = await Promise.all(chunks.map(async (ch) => (await open(ch.payload, 'S1', 'coupons')).version));
    expect(versions).toEqual(versions.map((_, i) => (versions[0] as number) + i));
    // S1 applied every chunk in order: nothing to repair. S2 applied only the last one (it was offline).
    for (const v of versions) expect(await w.pub.acked('S1', 'coupons', v, v === versions[0] ? 0 : v - 1)).toBe(false);
    w.broker.sent.length = 0;
    const last = versions.at(-1) as number;
    expect(await w.pub.acked('S2', 'coupons', last, 0)).toBe(true);
    const repair = w.broker.sent.filter((s) => s.topic === 'sg/S2/coupons/set');
    expect(repair.length).toBe(chunks.length);
    const rv = await Promise.all(repair.map(async (r) => (await open(r.payload, 'S2', 'coupons')).version));
    expect(rv[0]).toBeGreaterThan(last);
    w.broker.sent.length = 0;
    await w.pub.acked('S2', 'coupons', rv.at(-1) as number, last);
    expect(w.broker.sent).toEqual([{ topic: 'sg/S2/coupons/set', payload: '', retain: true }]);
    // A used code: a delta, not the whole set.
    w.broker.sent.length = 0;
    const set = w.cache.coupons.get(10)?.coupons ?? [];
    await w.cache.record({ t: 'couponsPage', campaignId: 10, startedAt: 1_700_000_100_000, skip: 0, next: null, v: set.map((k, i) => (i === 5 ? { ...k, usageCounter: 1 } : k)) }, { t: 'couponsDone', campaignId: 10 });
    w.pub.schedule(['coupons']);
    await w.pub.idle();
    expect(w.broker.sent).toHaveLength(1);
    const delta = await open(w.broker.sent[0]?.payload as string, 'S1', 'coupons');
    expect(delta.data).toEqual({ full: false, coupons: [{ id: 5, value: 'K5', campaignId: 10, usageLimit: 1, usageCounter: 1 }] });
    expect(delta.version).toBe(1_700_000_100_000);
  });

  it('withAllCampaigns leaves a tree that names every campaign as it is', () => {
    const tree = { set: { type: 'SET', elements: [{ type: 'SET', elements: [{ type: 'CAMPAIGN', campaignId: 1 }] }] } };
    expect(withAllCampaigns(tree, [1])).toBe(tree);
    expect(withAllCampaigns(null, [1])).toBeNull();
  });
});
