/**
 * At start, before anything is replayed or flushed, the journal and the dead-letter store are made to agree:
 * - a record in both (the flusher wrote it to the store, then the process died before the journal recorded
 *   it as gone) is kept in the store only: its journal copy is marked delivered, so it is neither sent again
 *   nor replayed twice;
 * - dead letters an older storegate kept in the journal (listed in its cursor) are taken over: written to the
 *   store, then marked delivered in the journal, whose segments can then go. Whether a later record of their
 *   key reached Talon.One is not known (that version went on delivering them), so a retry of one needs force.
 * Both steps write the store first: a crash anywhere repeats them at the next start with the same result.
 */
import type { Journal } from '../journal/index.js';
import type { Logger } from '../telemetry/logger.js';
import { type DeadLetterStore, LATER_SENT_UNKNOWN } from './dead-letter-store.js';

export async function reconcileDeadLetters(journal: Journal, store: DeadLetterStore, log: Logger): Promise<{ duplicates: number; takenOver: number }> {
  const legacy = journal.legacyDeadLetters();
  const fresh = legacy.filter((d) => !store.has(d.entry.seq));
  if (fresh.length > 0) {
    await store.add(fresh.map((d) => ({ entry: d.entry, status: d.status, body: d.body, failedAt: d.at, laterSent: LATER_SENT_UNKNOWN })));
  }
  // Asked per dead letter (few), not per undelivered record (a backlog of 100,000 is not made into objects).
  const duplicates = store.list().map((d) => d.seq).filter((seq) => journal.isUndelivered(seq)).sort((a, b) => a - b);
  const gone = [...legacy.map((d) => d.entry.seq), ...duplicates];
  if (gone.length > 0) await journal.markDelivered(gone);
  if (legacy.length > 0) log.warn({ takenOver: legacy.length }, 'dead letters of an older journal cursor moved to the dead-letter store');
  if (duplicates.length > 0) log.info({ seqs: duplicates }, 'dead letters also found in the journal (a crash while moving them) kept once');
  return { duplicates: duplicates.length, takenOver: legacy.length };
}
