/** Coalescing rule of the flusher (src/delivery/coalesce.ts): which head records go upstream as one send. */
import { describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../src/checkout/records.js';
import { coalesceHead } from '../../src/delivery/coalesce.js';
import type { JournalEntry } from '../../src/journal/types.js';
import { reopen, returnItems, trackEvent, updateSession } from '../helpers/flush-fixtures.js';

let seq = 0;
function entries(...recs: JournalRecord[]): JournalEntry[] {
  return recs.map((payload) => ({ seq: ++seq, id: `id-${seq}`, key: 'k', kind: payload.kind, at: 0, mono: 0, payload }));
}
const kinds = (g: JournalEntry[]) => g.map((e) => {
  const r = e.payload as JournalRecord;
  return r.kind === 'updateSession' ? r.state : r.kind;
});

describe('coalesceHead', () => {
  it('merges a run of open updates and the close that ends it; the close is the last member', () => {
    const q = entries(updateSession('s', 'open'), updateSession('s', 'open'), updateSession('s', 'closed'), updateSession('s', 'cancelled'));
    const g = coalesceHead(q);
    expect(kinds(g)).toEqual(['open', 'open', 'closed']);
    expect(g[g.length - 1]).toBe(q[2]);
  });

  it('merges open updates only (a trailing open run with nothing after it)', () => {
    expect(kinds(coalesceHead(entries(updateSession('s', 'open'), updateSession('s', 'open'), updateSession('s', 'open'))))).toEqual(['open', 'open', 'open']);
  });

  it('sends a closing or cancelling head alone', () => {
    expect(kinds(coalesceHead(entries(updateSession('s', 'closed'), updateSession('s', 'closed'))))).toEqual(['closed']);
    expect(kinds(coalesceHead(entries(updateSession('s', 'cancelled'), updateSession('s', 'open'))))).toEqual(['cancelled']);
  });

  it('never crosses a cancel, a return, a reopen or a change of query', () => {
    expect(kinds(coalesceHead(entries(updateSession('s', 'open'), updateSession('s', 'cancelled'))))).toEqual(['open']);
    expect(kinds(coalesceHead(entries(updateSession('s', 'open'), reopen('s'), updateSession('s', 'closed'))))).toEqual(['open']);
    expect(kinds(coalesceHead(entries(updateSession('s', 'open'), returnItems('s', [{ position: 0, quantity: 1 }]))))).toEqual(['open']);
    const other = { ...updateSession('s', 'closed'), query: 'x=1' };
    expect(kinds(coalesceHead(entries(updateSession('s', 'open'), other)))).toEqual(['open']);
  });

  it('ends a run with a record that replaces a live call, so it is sent under its own id (that call\'s Idempotency-Key)', () => {
    const replaced = (state: 'open' | 'closed') => ({ ...updateSession('s', state), replacesLiveCall: true as const });
    const head = entries(replaced('open'), updateSession('s', 'open'), updateSession('s', 'closed'));
    expect(coalesceHead(head)).toEqual([head[0]]);
    const mid = entries(updateSession('s', 'open'), replaced('open'), updateSession('s', 'open'));
    const g = coalesceHead(mid);
    expect(g).toEqual([mid[0], mid[1]]);
    expect(g.at(-1)!.id).toBe(mid[1]!.id);
  });

  it('sends non-session-update records alone, and respects the size cap', () => {
    expect(kinds(coalesceHead(entries(reopen('s'), updateSession('s', 'open'))))).toEqual(['reopenSession']);
    expect(kinds(coalesceHead(entries(trackEvent('p', 1), trackEvent('p', 2))))).toEqual(['trackEvent']);
    const many = entries(...Array.from({ length: 10 }, () => updateSession('s', 'open')));
    expect(coalesceHead(many, 4)).toHaveLength(4);
    expect(coalesceHead([])).toEqual([]);
  });
});
