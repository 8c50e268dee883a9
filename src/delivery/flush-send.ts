/**
 * One upstream delivery attempt of a group of journal records (one key's head, possibly coalesced), and
 * the classification of its outcome (README "Durability and the journal", "Dead letters"):
 * - 2xx → delivered (an `updateSession` answer is reconciled first);
 * - 409, 429, 408, 5xx, network errors → retry later; 401/403 too (a key problem is not the record's fault);
 * - 400 to a session record whose effect upstream already shows (`alreadyApplied`: a replayed close gets 400)
 *   → delivered;
 * - other 4xx → dead letter with the upstream body text.
 * Records older than `oldRecordMs` (session kinds) are checked with a GET first.
 */
import type { JournalRecord } from '../checkout/records.js';
import { upstreamBody, upstreamRoute } from '../checkout/records.js';
import type { Effect } from '../engine/index.js';
import type { Clock } from '../platform/clock.js';
import { isRetryableStatus } from '../platform/backoff.js';
import { type UpstreamClient, UpstreamUnavailableError } from '../upstream/client.js';
import { alreadyApplied, getUpstreamSession, sessionIdOf, type UpstreamSession } from './flush-check.js';
import type { JournalEntry } from '../journal/index.js';

export type Outcome =
  | { t: 'delivered'; how: 'sent' | 'alreadyUpstream' | 'closedUpstream' }
  | { t: 'dead'; status: number; body: string }
  | { t: 'retry'; reason: string };

export interface SendContext {
  upstream: UpstreamClient;
  clock: Clock;
  oldRecordMs: number;
  /** Compares the local answer of `rec` with upstream's effects; rejects to have the send retried. */
  reconcile: (rec: JournalRecord, last: JournalEntry, upstreamEffects: Effect[]) => Promise<void>;
  /** The text of a session update (README "Lean payloads": trimmed as a live call is); default: whole. */
  serializeUpdate?: (body: Record<string, unknown>) => { json: string };
}

/** Sends `group` (its last record's body, `Idempotency-Key` = its id) once and classifies the outcome. */
export async function deliverGroup(ctx: SendContext, group: readonly JournalEntry[]): Promise<Outcome> {
  const head = group[0] as JournalEntry;
  const last = group[group.length - 1] as JournalEntry;
  const rec = last.payload as JournalRecord;
  let route: ReturnType<typeof upstreamRoute> | undefined;
  let body: string | undefined;
  try {
    route = upstreamRoute(rec);
    body = rec.kind === 'updateSession' && ctx.serializeUpdate ? ctx.serializeUpdate(rec.body as Record<string, unknown>).json : upstreamBody(rec);
    if (!route) throw new Error(`unknown record kind ${String((rec as { kind?: unknown }).kind)}`);
  } catch (err) {
    return { t: 'dead', status: 0, body: `storegate could not build the upstream request: ${(err as Error).message}` };
  }
  const sessionId = sessionIdOf(rec);
  if (sessionId !== undefined && ctx.clock.now() - head.at > ctx.oldRecordMs) {
    const s = await getUpstreamSession(ctx.upstream, sessionId);
    if ('retry' in s) return { t: 'retry', reason: `check_${s.retry}` };
    if (alreadyApplied(rec, s)) {
      await reconcileFromGet(ctx, rec, last, s);
      return { t: 'delivered', how: 'alreadyUpstream' };
    }
  }
  let res;
  try {
    res = await ctx.upstream.request({ op: route.op, method: route.method, path: route.path, body, idempotencyKey: last.id, attempts: 1 });
  } catch (err) {
    if (err instanceof UpstreamUnavailableError) return { t: 'retry', reason: err.kind };
    throw err;
  }
  const st = res.status;
  if (st >= 200 && st < 300) {
    if (rec.kind === 'updateSession') {
      const effects = effectsOf(res.body);
      if (effects) await ctx.reconcile(rec, last, effects);
    }
    return { t: 'delivered', how: 'sent' };
  }
  if (isRetryableStatus(st) || st === 408) return { t: 'retry', reason: st >= 500 ? 'http_5xx' : `http_${st}` };
  // A bad or revoked API key is not the record's fault: keep it and retry (health goes down meanwhile).
  if (st === 401 || st === 403) return { t: 'retry', reason: `auth_${st}` };
  if (st === 400 && sessionId !== undefined) {
    // Talon.One answers 400 to any update of a session already closed upstream, even the same close again
    // (undocumented; scripts/talon-emulator/README.md, "Session state machine"). If upstream
    // already shows what this record does (e.g. it is closed and the record closes it), the record went
    // through earlier and its acknowledgement was lost: delivered, not a dead letter.
    const s = await getUpstreamSession(ctx.upstream, sessionId);
    if ('retry' in s) return { t: 'retry', reason: `check_${s.retry}` };
    if (alreadyApplied(rec, s)) {
      await reconcileFromGet(ctx, rec, last, s);
      return { t: 'delivered', how: 'closedUpstream' };
    }
  }
  return { t: 'dead', status: st, body: res.body.toString('utf8') };
}

/** Only a closing record against an upstream close compares like with like (GET gives the valid effects). */
async function reconcileFromGet(ctx: SendContext, rec: JournalRecord, last: JournalEntry, s: UpstreamSession): Promise<void> {
  if (rec.kind === 'updateSession' && rec.state === 'closed' && 'found' in s && s.found && s.state === 'closed') {
    await ctx.reconcile(rec, last, s.effects);
  }
}

function effectsOf(body: Buffer): Effect[] | undefined {
  try {
    const j = JSON.parse(body.toString('utf8')) as { effects?: unknown };
    return Array.isArray(j.effects) ? (j.effects as Effect[]) : undefined;
  } catch {
    return undefined;
  }
}
