import { DataError } from '../../core/errors.js';
import type { LoyaltyPayload } from '../types.js';
import { Check } from './check.js';

/**
 * Validates a loyalty payload `{version, programs, balances}`; each balance names a profile or a card, and a
 * subledger's balance its `subledgerId` (non-empty; absent for the program's main ledger).
 */
export function parseLoyalty(payload: unknown): LoyaltyPayload {
  const c = new Check();
  if (!c.obj(payload, '')) throw new DataError('invalid loyalty data', c.errors);
  c.version(payload);
  if (c.arr(payload.programs, '/programs', 10_000)) {
    payload.programs.forEach((pr, i) => {
      if (!c.obj(pr, `/programs/${i}`)) return;
      c.int(pr.id, `/programs/${i}/id`, 0);
      if (pr.cardBased !== undefined) c.bool(pr.cardBased, `/programs/${i}/cardBased`);
    });
  }
  if (c.arr(payload.balances, '/balances', 1_000_000)) {
    payload.balances.forEach((b, i) => {
      const p = `/balances/${i}`;
      if (!c.obj(b, p)) return;
      c.int(b.programId, `${p}/programId`, 0);
      const hasP = b.profileId !== undefined, hasC = b.cardId !== undefined;
      if (hasP === hasC) c.fail(p, 'must have exactly one of profileId, cardId');
      if (hasP) c.str(b.profileId, `${p}/profileId`, 1);
      if (hasC) c.str(b.cardId, `${p}/cardId`, 1);
      if (b.subledgerId !== undefined) c.str(b.subledgerId, `${p}/subledgerId`, 1);
      c.num(b.activePoints, `${p}/activePoints`);
      if (b.pendingPoints !== undefined) c.num(b.pendingPoints, `${p}/pendingPoints`);
    });
  }
  if (!c.ok) throw new DataError('invalid loyalty data', c.errors);
  return payload as unknown as LoyaltyPayload;
}
