import { LIMIT_PERIODS, OFFLINE_ACTIONS, shareKey } from '../budgets.js';
import type { Check } from './check.js';


/**
 * The rules payload's `budgets` (storegate's addition, set by head office per store; src/engine/budgets.ts):
 * `{readAt: ms, shares: [{campaignId, action, period?, share}]}` — `readAt` when head office read the budget
 * counters, each share a campaign-wide budget's part this store may spend offline (in the action's unit: currency
 * for `setDiscount`, points, or a count), for a campaign of this payload.
 */
export function checkBudgetShares(c: Check, v: unknown, campaignIds: ReadonlySet<number>): void {
  if (!c.obj(v, '/budgets')) return;
  c.int(v.readAt, '/budgets/readAt', 0);
  if (!c.arr(v.shares, '/budgets/shares', 100_000)) return;
  const seen = new Set<string>();
  v.shares.forEach((s, i) => {
    const p = `/budgets/shares/${i}`;
    if (!c.obj(s, p)) return;
    if (c.int(s.campaignId, `${p}/campaignId`, 0) && !campaignIds.has(s.campaignId)) c.fail(`${p}/campaignId`, `campaign ${s.campaignId} is not in this payload`);
    if (typeof s.action !== 'string' || OFFLINE_ACTIONS[s.action] === undefined) c.fail(`${p}/action`, `must be one of ${Object.keys(OFFLINE_ACTIONS).join(', ')}`);
    if (s.period !== undefined) c.oneOf(s.period, `${p}/period`, LIMIT_PERIODS);
    c.num(s.share, `${p}/share`, 0);
    const key = shareKey(String(s.campaignId), String(s.action), s.period === undefined || s.period === null ? undefined : String(s.period));
    if (seen.has(key)) c.fail(p, `a second share for campaign ${String(s.campaignId)}, ${String(s.action)}, ${String(s.period ?? 'overall')}`);
    seen.add(key);
  });
}
