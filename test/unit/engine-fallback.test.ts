/**
 * Fallback promotions: a small local rule set (RulesetV2 shape) given instead of the rules when they are empty or
 * too old, and beside them for a campaign of this store that is not offline-capable; marked in the rule name.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FALLBACK_PREFIX, parseFallback } from '../../src/engine/fallback.js';
import { LocalData } from '../../src/engine/local-data.js';
import { CouponLedger } from '../../src/engine/coupon-ledger.js';
import { LoyaltyLimits } from '../../src/engine/loyalty.js';
import { FileSnapshotStore } from '../../src/state/snapshot-store.js';
import { ManualClock } from '../../src/platform/clock.js';
import { DataError } from '../../src/core/errors.js';
import { campaign, cart, NOW, rulesPayload, type B } from './engine-helpers.js';

const pct = (name: string, p: number): B => ({ type: 'awardDiscount', name, value: `{{$Session.CartItemTotal * ${p}}}`, target: { type: 'cart' } });
const everyday = { campaign: { id: 9001, name: 'Everyday 5%' }, ruleset: { id: 1, promotionRules: [{ title: 'Everyday 5%', blocks: [pct('Everyday 5%', 0.05)] }] } };
const standIn = { campaign: { id: 9002, name: 'Members 2 EUR' }, ruleset: { id: 2, promotionRules: [{ title: 'Members 2 EUR', blocks: [{ type: 'awardDiscount', name: 'Members 2 EUR', value: 2, target: { type: 'cart' } }] }] }, replaces: [3] };
const fallbackSet = { campaigns: [everyday, standIn] };

function errorsOf(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return (e as DataError).details.map((d) => `${d.path}: ${d.message}`);
  }
  throw new Error('expected a DataError');
}

async function local(clock = new ManualClock(NOW), maxRulesAgeSec: number | null = null) {
  const ld = new LocalData({ store: new FileSnapshotStore(mkdtempSync(path.join(tmpdir(), 'sg-fb-'))), clock, storeIntegrationId: 'store-042' });
  ld.setFallback(parseFallback(fallbackSet, maxRulesAgeSec));
  await ld.start();
  return ld;
}
const session = { profileId: 'p1', cartItems: cart(['A', 40], ['B', 60]) };
const run = (ld: LocalData, now = NOW, explain = false) => ld.engine().evaluate({ customerSessionId: 's1', session, now, ledger: new CouponLedger(), loyalty: new LoyaltyLimits(0), explain });

// Campaign 1: 10% over 50 (offline-capable). Campaign 3: a referral campaign (not offline-capable), replaced by 9002.
const mainRules = (version = 1, extra3: B = {}) => rulesPayload([
  campaign(1, [[{ type: 'checkAttribute', attribute: '$Session.Total', operator: 'greaterThan', value: 50 }, pct('Ten', 0.1)]]),
  campaign(3, [[{ type: 'checkReferral' }, pct('Referral', 0.2)]], { campaign: extra3 }),
], { version });

describe('fallback rule set', () => {
  it('is validated with JSON paths: a campaign that cannot run in the shop is refused', () => {
    expect(errorsOf(() => parseFallback([], null))).toEqual(['/: must be an object {campaigns: [{campaign, ruleset, replaces?}]}']);
    expect(errorsOf(() => parseFallback({ campaigns: {}, extra: 1 }, null))).toEqual(['/extra: unknown key (allowed: application, evaluationTree, campaigns, cartItemFilters)', '/campaigns: must be a list']);
    expect(errorsOf(() => parseFallback({ campaigns: [{ ...everyday, replaces: 'x' }] }, null))).toEqual(['/campaigns/0/replaces: must be a non-empty list of campaign ids (integers)']);
    expect(errorsOf(() => parseFallback({ campaigns: [{ campaign: { id: 1 }, ruleset: { id: 1, promotionRules: [] } }] }, null))).toEqual(['/campaigns/0/campaign/name: must be a string']);
    expect(errorsOf(() => parseFallback({ campaigns: [{ campaign: { id: 1, name: 'x' }, ruleset: { id: 1, promotionRules: [{ title: 't', blocks: [{ type: 'checkReferral' }] }] } }] }, null)))
      .toEqual(['/campaigns/0/ruleset: campaign 1 cannot be evaluated in the shop (block checkReferral is not supported offline): a fallback promotion must be']);
  });

  it('marks every rule name and defaults the state to enabled', () => {
    const fb = parseFallback(fallbackSet, 3600);
    expect(fb.rules.list.map((c) => [c.campaign.state, c.rules[0]?.title])).toEqual([['enabled', `${FALLBACK_PREFIX}Everyday 5%`], ['enabled', `${FALLBACK_PREFIX}Members 2 EUR`]]);
    expect(fb.maxRulesAgeMs).toBe(3_600_000);
    expect([...fb.replaces]).toEqual([[9002, [3]]]);
  });
});

describe('when fallback promotions apply', () => {
  it('no rules data: every fallback campaign, instead (rulesEmpty)', async () => {
    const ld = await local();
    const out = run(ld);
    expect(out.fallback).toBe('rulesEmpty');
    expect(out.effects.map((e) => [e.campaignId, e.ruleName, e.props.value])).toEqual([[9001, '[fallback] Everyday 5%', 5], [9002, '[fallback] Members 2 EUR', 2]]);
    expect(ld.status().fallback).toEqual({ campaigns: 2, maxRulesAgeSec: null, instead: 'rulesEmpty', standsIn: [] });
  });

  it('fresh rules: the rules, plus a stand-in for the running campaign that is not offline-capable (after them)', async () => {
    const ld = await local();
    await ld.ingest('rules', mainRules());
    const out = run(ld);
    expect(out.fallback).toBe('notOfflineCapable');
    expect(out.effects.map((e) => [e.campaignId, e.ruleName, e.props.value])).toEqual([[1, 'R1.0', 10], [9002, '[fallback] Members 2 EUR', 2]]);
    expect(out.evaluatedCampaignIds).toEqual([1, 9002]);
    expect(ld.status().fallback?.standsIn).toEqual([9002]);
  });

  it('no stand-in while the replaced campaign is not running here (ended, or another store\'s)', async () => {
    for (const extra of [{ endTime: '2026-01-01T00:00:00Z' }, { linkedStoreIds: [7] }, { state: 'disabled' }]) {
      const ld = await local();
      await ld.ingest('rules', mainRules(1, extra));
      const out = run(ld);
      expect(out.fallback).toBeUndefined();
      expect(out.effects.map((e) => e.campaignId)).toEqual([1]);
    }
  });

  it('a stand-in outside its own window (or disabled) is not given: head office can schedule them', async () => {
    for (const extra of [{ endTime: '2026-01-01T00:00:00Z' }, { startTime: '2027-01-01T00:00:00Z' }, { state: 'disabled' }]) {
      const ld = new LocalData({ store: new FileSnapshotStore(mkdtempSync(path.join(tmpdir(), 'sg-fb-'))), clock: new ManualClock(NOW), storeIntegrationId: 'store-042' });
      ld.setFallback(parseFallback({ campaigns: [{ ...standIn, campaign: { ...standIn.campaign, ...extra } }] }, null));
      await ld.start();
      await ld.ingest('rules', mainRules());
      expect(run(ld).effects.map((e) => e.campaignId)).toEqual([1]);
    }
  });

  it('rules older than maxRulesAgeSec: the fallback set instead of them (rulesStale), until fresh rules come', async () => {
    const clock = new ManualClock(NOW);
    const ld = await local(clock, 3600);
    await ld.ingest('rules', mainRules());
    expect(run(ld, NOW + 3_600_000).fallback).toBe('notOfflineCapable');
    const stale = run(ld, NOW + 3_600_001);
    expect(stale.fallback).toBe('rulesStale');
    expect(stale.effects.map((e) => e.campaignId)).toEqual([9001, 9002]);
    clock.advance(7_200_000);
    expect(ld.status().fallback?.instead).toBe('rulesStale');
    await ld.ingest('rules', mainRules(2));
    expect(run(ld, NOW + 7_200_000).effects.map((e) => e.campaignId)).toEqual([1, 9002]);
  });

  it('explained: the cached campaigns as replaced, the fallback campaigns marked', async () => {
    const clock = new ManualClock(NOW);
    const ld = await local(clock, 3600);
    await ld.ingest('rules', mainRules());
    const x = run(ld, NOW + 4_000_000, true).explanation;
    expect(x?.campaigns.map((c) => [c.id, c.outcome, c.fallback ?? false])).toEqual([[1, 'replacedByFallback', false], [3, 'replacedByFallback', false], [9001, 'triggered', true], [9002, 'triggered', true]]);
    expect(x?.fallback).toMatch(/older than offline.fallback.maxRulesAgeSec \(3600 s\)/);
    const fresh = run(ld, NOW, true).explanation;
    expect(fresh?.campaigns.map((c) => [c.id, c.outcome])).toEqual([[1, 'triggered'], [3, 'notOfflineCapable'], [9001, 'fallbackIdle'], [9002, 'triggered']]);
  });

  it('removed (setFallback(null)): nothing of it is given', async () => {
    const ld = await local();
    ld.setFallback(null);
    expect(run(ld).effects).toEqual([]);
    expect(ld.status().fallback).toBeNull();
  });
});
