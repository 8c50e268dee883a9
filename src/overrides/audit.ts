import { Counter, type Registry } from 'prom-client';
import type { TerminalAnswer, TerminalRequest } from '../checkout/checkout.js';
import type { ReconciliationEntry } from '../delivery/reconciliation.js';
import type { SnapshotStore } from '../state/snapshot-store.js';
import type { Logger } from '../telemetry/logger.js';
import { dayIn } from './day.js';

/** `overrides` (README "Manual overrides"). */
export interface OverrideSettings {
  eventType: string | null;
  offlineDailyCap: number;
}

export interface OverrideDeps {
  settings: OverrideSettings;
  /** Where today's counts live (`<dataDir>/state/overrides.json`), so a restart does not reset them. */
  store: SnapshotStore;
  /** Wall-clock ms (the clock port). */
  now: () => number;
  /** IANA time zone whose calendar day the counts follow: the Talon.One application's, from the rules. */
  timeZone: () => string;
  reconciliation: { add(e: ReconciliationEntry): Promise<void> };
  alert: (a: { kind: 'overrideCap'; [k: string]: unknown }) => void;
  registry: Registry;
  log: Logger;
}

interface TerminalCounts {
  /** Overrides reported today, answered by Talon.One or locally. */
  total: number;
  /** Of those, answered locally (offline, hybrid, or Talon.One unreachable). */
  offline: number;
  /** The `overrideCap` alert went out today. */
  alerted: boolean;
}

interface Saved {
  day: string;
  terminals: Record<string, TerminalCounts>;
  /** `terminal|Idempotency-Key` of today's counted overrides: a retried call is counted once. */
  keys: string[];
}

export interface OverrideStatus {
  eventType: string | null;
  offlineDailyCap: number;
  day: string;
  terminals: { id: string; total: number; offline: number; overCap: boolean }[];
}

const KIND = 'overrides';
const MAX_KEYS = 10_000;
/** Event attributes copied into a reconciliation entry, at most (an entry is one line of a file kept on disk). */
const MAX_ATTRIBUTE_BYTES = 4096;

/**
 * Manual overrides, audited: Talon.One's POS guide names fraud prevention for manual overrides and delayed
 * transaction syncing. A POS reports each override (a price or discount keyed in by hand) as a custom event of
 * type `overrides.eventType`; the gateway counts them per terminal and per calendar day. While Talon.One sees
 * them live it can apply its own rules; answered locally it sees them only later, so those are what the cap is
 * about: each is listed in the reconciliation report at once, and the one that takes a terminal past
 * `overrides.offlineDailyCap` in a day raises one `overrideCap` alert on `P/alerts`.
 *
 * The counts are written durably (temp file, fsync, rename) before the terminal gets its answer, so neither a
 * restart nor a crash resets them; a retry under the same `Idempotency-Key` is not counted again.
 */
export class OverrideAudit {
  #settings: OverrideSettings;
  readonly #d: OverrideDeps;
  #saved: Saved = { day: '', terminals: {}, keys: [] };
  #keys = new Set<string>();
  #writing: Promise<void> = Promise.resolve();
  readonly #counted: Counter<'terminal' | 'source'>;

  constructor(deps: OverrideDeps) {
    this.#d = deps;
    this.#settings = deps.settings;
    this.#counted = new Counter({
      name: 'storegate_overrides_total',
      help: 'Manual overrides reported by terminals (custom events of type overrides.eventType), by terminal and how they were answered (upstream, local).',
      labelNames: ['terminal', 'source'] as const,
      registers: [deps.registry],
    });
  }

  /** Loads today's counts (those of another day are dropped at the first override of the new day). */
  async start(): Promise<void> {
    try {
      const snap = await this.#d.store.load<Saved>(KIND);
      const s = snap?.data;
      if (s && typeof s.day === 'string' && s.terminals !== null && typeof s.terminals === 'object' && Array.isArray(s.keys)) {
        this.#saved = s;
        this.#keys = new Set(s.keys);
      }
    } catch (err) {
      // A damaged file must not stop the shop: the counts start again, and it says so.
      this.#d.log.error({ err }, 'manual override counts could not be read; counting starts again from zero');
    }
  }

  configure(settings: OverrideSettings): void {
    this.#settings = settings;
  }

  /**
   * Sees one answered terminal call; counts it when it reports a manual override (the promise: counted and written).
   * Any other call costs a few comparisons and no promise.
   */
  observe(req: TerminalRequest, answer: TerminalAnswer): Promise<void> | undefined {
    const eventType = this.#settings.eventType;
    if (eventType === null || req.spec.op !== 'trackEvent' || answer.status >= 300) return undefined;
    const body = req.body as { type?: unknown; profileId?: unknown; attributes?: unknown } | undefined;
    if (body?.type !== eventType || isDryRun(req.query)) return undefined;
    return this.#count(req, answer, eventType, body);
  }

  async #count(req: TerminalRequest, answer: TerminalAnswer, eventType: string, body: { profileId?: unknown; attributes?: unknown }): Promise<void> {
    const cap = this.#settings.offlineDailyCap;

    const day = dayIn(this.#d.now(), this.#d.timeZone());
    if (this.#saved.day !== day) {
      this.#saved = { day, terminals: {}, keys: [] };
      this.#keys = new Set();
    }
    if (req.idempotencyKey !== undefined) {
      const key = `${req.terminalId}|${req.idempotencyKey}`;
      if (this.#keys.has(key)) return;
      this.#keys.add(key);
      this.#saved.keys.push(key);
      if (this.#saved.keys.length > MAX_KEYS) this.#keys.delete(this.#saved.keys.shift() as string);
    }
    const t = (this.#saved.terminals[req.terminalId] ??= { total: 0, offline: 0, alerted: false });
    const offline = answer.source === 'local';
    t.total++;
    if (offline) t.offline++;
    this.#counted.inc({ terminal: req.terminalId, source: answer.source });
    const overCap = offline && t.offline > cap;
    const alert = overCap && !t.alerted;
    if (alert) t.alerted = true;

    await this.#save();
    const profileId = typeof body.profileId === 'string' ? body.profileId : '';
    const attributes = small(body.attributes);
    if (offline) await this.#record(req, answer, { eventType, profileId, ...(attributes ? { attributes } : {}), day, offlineToday: t.offline, cap, overCap });
    const fields = { terminalId: req.terminalId, day, total: t.total, offlineToday: t.offline, cap, source: answer.source };
    if (overCap) this.#d.log.warn(fields, 'manual override past the day\'s cap while answered locally');
    else this.#d.log.info(fields, 'manual override counted');
    if (alert) this.#d.alert({ kind: 'overrideCap', terminalId: req.terminalId, day, offlineOverrides: t.offline, cap, totalOverrides: t.total, profileId });
  }

  /** Writes the counts durably; one write at a time, each with the counts as they are when it starts. */
  #save(): Promise<void> {
    const next = this.#writing.then(async () => {
      try {
        await this.#d.store.save({ kind: KIND, version: 1, savedAt: this.#d.now(), data: this.#saved });
      } catch (err) {
        this.#d.log.error({ err }, 'manual override counts could not be written (they are kept in memory)');
      }
    });
    this.#writing = next;
    return next;
  }

  async #record(req: TerminalRequest, answer: TerminalAnswer, override: NonNullable<ReconciliationEntry['override']>): Promise<void> {
    if (answer.journalSeq === undefined) return; // a local answer that journaled nothing changed nothing to reconcile
    const attrs = override.attributes;
    const sessionId = typeof attrs?.sessionId === 'string' ? attrs.sessionId : typeof attrs?.customerSessionId === 'string' ? attrs.customerSessionId : '';
    const nth = `override ${override.offlineToday} answered locally today (cap ${override.cap})`;
    try {
      await this.#d.reconciliation.add({
        at: new Date(this.#d.now()).toISOString(),
        kind: 'manualOverride',
        sessionId,
        terminalId: req.terminalId,
        reason: override.overCap ? `past the cap: ${nth}` : nth,
        localEffects: [],
        upstreamEffects: [],
        seq: answer.journalSeq,
        override,
      });
    } catch (err) {
      this.#d.log.error({ err, terminalId: req.terminalId, seq: answer.journalSeq }, 'manual override could not be added to the reconciliation report');
    }
  }

  status(): OverrideStatus {
    const s = this.#saved;
    const cap = this.#settings.offlineDailyCap;
    const today = dayIn(this.#d.now(), this.#d.timeZone());
    const terminals = s.day === today ? Object.entries(s.terminals).map(([id, c]) => ({ id, total: c.total, offline: c.offline, overCap: c.offline > cap })) : [];
    return { eventType: this.#settings.eventType, offlineDailyCap: cap, day: today, terminals };
  }
}

function isDryRun(query: string): boolean {
  return query !== '' && new URLSearchParams(query).get('dry') === 'true';
}

/** The event's attributes when they are small enough to keep in a report entry. */
function small(v: unknown): Record<string, unknown> | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  return Buffer.byteLength(JSON.stringify(v)) <= MAX_ATTRIBUTE_BYTES ? (v as Record<string, unknown>) : undefined;
}
