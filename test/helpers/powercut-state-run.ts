/**
 * One power-cut trial of the journal *with* the state around it (shared by the CI test and `npm run bench --
 * crash`): terminals' sessions compete offline for shared single-use codes (local answers, journaled, then
 * committed to the local state), some records are delivered (delivery marks as the flusher makes them), some
 * dead-lettered, with checkpoints and compactions of the stores in between. The power goes at a random
 * operation; everything is reopened as `Gateway.start` does (powercut-state-boot.ts) and checked:
 * - every acknowledged record is present exactly once (journal or dead-letter store) or durably delivered;
 *   nothing unacknowledged is invented (an unacknowledged record that survived counts as answered from then on);
 * - no ledger use is lost and none invented: every code accepted by the last answer of a session is held (open)
 *   or used (closed) by that session and by no other; a new session asking for it gets `CouponLimitReached`,
 *   and a code nobody holds is accepted;
 * - each session, profile and replay answer is back as its last answer left it (a retry with the terminal's
 *   `Idempotency-Key` gets the first answer's seq, and no second record).
 * Several cuts per trial; the next round builds on the state the last reopen restored.
 */
import { OPERATIONS } from '../../src/checkout/operations.js';
import type { TerminalRequest } from '../../src/checkout/checkout.js';
import type { JournalRecord } from '../../src/checkout/records.js';
import { DEAD_LETTERED, type MarkItem } from '../../src/delivery/flush-marks.js';
import type { JournalEntry } from '../../src/journal/index.js';
import { ManualClock } from '../../src/platform/clock.js';
import { PowerCutFs } from './powercut-fs.js';
import { rng } from './powercut-run.js';
import { type Boot, CODES, boot } from './powercut-state-boot.js';

const [UPDATE_SESSION, , , , UPDATE_PROFILE] = OPERATIONS;

/** One answer asked for, and what became of it. */
interface Rec {
  id: string;
  key: string;
  req: TerminalRequest;
  /** The journal seq (known once acknowledged, or once found after a reopen). */
  seq: number | null;
  /** Answered (or found after a reopen: it happened). */
  acked: boolean;
  /** Session records: the state it left, the code it accepted, the cart length and codes sent. */
  closes: boolean;
  accepted: string | null;
  items: number;
  codes: string[];
  /** Profile records: the attribute it set. */
  n: number;
  deliveryAsked: boolean;
  deliveredAck: boolean;
  deadAsked: boolean;
  deadAck: boolean;
}

export interface StateTrialResult {
  cuts: number;
  /** Answers acknowledged to a terminal. */
  answers: number;
  /** Of them, session closes that accepted a shared code. */
  redemptions: number;
  /** Records acknowledged as delivered, and as dead letters. */
  delivered: number;
  deadLettered: number;
  /** Acknowledged records looked for after reopens, and ledger probes (a new session asking for a code). */
  checks: number;
  probes: number;
  /** Cuts that fell inside the round's work (the others came after it, once its marks were done). */
  inside: number;
}

const acceptedOf = (body: unknown): string | null => {
  const effects = (body as { effects?: { effectType: string; props: { value?: unknown } }[] } | undefined)?.effects ?? [];
  const e = effects.find((x) => x.effectType === 'acceptCoupon');
  return typeof e?.props.value === 'string' ? e.props.value : null;
};

export async function stateCutTrial(seed: number, cuts = 3): Promise<StateTrialResult> {
  const random = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(random() * a.length)] as T;
  const fs = new PowerCutFs(random);
  const clock = new ManualClock(Date.parse('2026-12-01T10:00:00Z'));
  const recs = new Map<string, Rec>();
  const byKey = new Map<string, Rec[]>();
  const out: StateTrialResult = { cuts, answers: 0, redemptions: 0, delivered: 0, deadLettered: 0, checks: 0, probes: 0, inside: 0 };
  let next = 0;
  let probe = 0;
  const bySeq = new Map<number, Rec>();
  const onMarked = (batch: MarkItem[]) => {
    for (const m of batch) {
      const r = bySeq.get(m.seq);
      if (!r || m.how === DEAD_LETTERED) continue;
      r.deliveredAck = true;
      out.delivered++;
    }
  };

  const add = (r: Rec): void => {
    recs.set(r.id, r);
    let list = byKey.get(r.key);
    if (!list) byKey.set(r.key, (list = []));
    list.push(r);
  };

  /** Sends one answer and records what the terminal saw. */
  const send = async (b: Boot, r: Rec): Promise<void> => {
    try {
      const a = await b.answers.answer(r.req, r.id);
      r.acked = true;
      r.seq = a.journalSeq ?? null;
      if (r.seq === null) throw new Error(`answer ${r.id} acknowledged without a journal seq`);
      bySeq.set(r.seq, r);
      if (r.key.startsWith('session:')) r.accepted = acceptedOf(a.body);
      out.answers++;
      if (r.closes && r.accepted) out.redemptions++;
    } catch (err) {
      if (!fs.dead) throw err; // only the power cut may fail an answer
    }
  };

  const sessionReq = (id: string, codes: string[], closes: boolean, items: number, own: boolean, rid: string): TerminalRequest => ({
    spec: UPDATE_SESSION as TerminalRequest['spec'],
    terminalId: `T${Math.floor(random() * 4) + 1}`,
    params: { customerSessionId: id },
    query: '',
    body: {
      customerSession: {
        profileId: 'P-1',
        couponCodes: codes,
        state: closes ? 'closed' : 'open',
        cartItems: Array.from({ length: items }, (_, i) => ({ sku: `SKU-${i}`, name: 'Pan', quantity: 1, price: 30, category: 'Kitchen' })),
      },
    },
    ...(own ? { idempotencyKey: rid } : {}),
  });

  const fresh = (id: string, key: string, req: TerminalRequest, f: Partial<Rec>): Rec => ({
    id, key, req, seq: null, acked: false, closes: false, accepted: null, items: 0, codes: [], n: 0,
    deliveryAsked: false, deliveredAck: false, deadAsked: false, deadAck: false, ...f,
  });

  /** The next step of a session (new, or an open one continued) or a profile update. */
  const act = (busy: Set<string>): Rec | null => {
    const rid = `r-${seed}-${next++}`;
    const own = random() < 0.4;
    if (random() < 0.15) {
      const pid = `P-${Math.floor(random() * 3)}`;
      const key = `profile:${pid}`;
      if (busy.has(key)) return null;
      busy.add(key);
      const n = next;
      const req: TerminalRequest = { spec: UPDATE_PROFILE as TerminalRequest['spec'], terminalId: 'T1', params: { integrationId: pid }, query: '', body: { attributes: { n } }, ...(own ? { idempotencyKey: rid } : {}) };
      return fresh(rid, key, req, { n });
    }
    const open = [...byKey].filter(([k, l]) => k.startsWith('session:') && !busy.has(k) && l.every((r) => r.acked) && !(l.at(-1) as Rec).closes);
    let sid: string;
    let prev: Rec | undefined;
    if (open.length > 0 && random() < 0.5) {
      const [k, l] = pick(open);
      sid = k.slice('session:'.length);
      prev = l.at(-1);
    } else sid = `S-${seed}-${next}`;
    const key = `session:${sid}`;
    busy.add(key);
    const codes = prev && random() < 0.5 ? prev.codes : random() < 0.75 ? [pick(CODES)] : [];
    const closes = random() < (prev ? 0.6 : 0.35);
    const items = (prev?.items ?? 0) + 1;
    return fresh(rid, key, sessionReq(sid, codes, closes, items, own, rid), { closes, items, codes });
  };

  /** Hands some keys' undelivered records to the delivery path: delivered upstream, or refused for good. */
  const deliver = async (b: Boot): Promise<void> => {
    const groups = new Map<string, JournalEntry[]>();
    for (const e of b.journal.undelivered()) {
      const r = recs.get(e.id);
      if (!r || r.deliveryAsked || r.deadAsked) continue;
      let g = groups.get(e.key);
      if (!g) groups.set(e.key, (g = []));
      g.push(e);
    }
    for (const group of groups.values()) {
      if (random() > 0.3) continue;
      const rs = group.map((e) => recs.get(e.id) as Rec);
      if (random() < 0.75) {
        // As the flusher does once Talon.One answered: confirm the uses of closes, then mark.
        for (const e of group) b.state.confirmUses(e.payload as JournalRecord);
        for (const r of rs) r.deliveryAsked = true;
        b.marker.add(group, 'sent');
      } else {
        for (const r of rs) r.deadAsked = true;
        try {
          await b.deadStore.add(group.map((e) => ({ entry: e, status: 400, body: '{"message":"refused"}', failedAt: clock.now() })));
        } catch {
          continue; // not recorded: the flusher sends the group again later
        }
        for (const r of rs) r.deadAck = true;
        out.deadLettered += rs.length;
        b.marker.add(group, DEAD_LETTERED);
      }
    }
  };

  let b = await boot(fs, clock, onMarked);
  for (let round = 0; round <= cuts; round++) {
    const last = round === cuts;
    // Cut somewhere inside this round's work (a round makes 200-300 mutating operations).
    if (!last) fs.cutAfter(1 + Math.floor(random() * 280));
    for (let wave = 0; wave < 10 && !fs.dead; wave++) {
      clock.advance(Math.floor(random() * 4000)); // checkpoints (every 5 s) follow the clock at the next commit
      const busy = new Set<string>();
      const batch: Rec[] = [];
      for (let i = 0, n = 1 + Math.floor(random() * 6); i < n; i++) {
        const r = act(busy);
        if (r) batch.push(r);
      }
      for (const r of batch) add(r);
      await Promise.all(batch.map((r) => send(b, r)));
      if (fs.dead) break;
      await retryOne(b);
      await deliver(b).catch((err: unknown) => {
        if (!fs.dead) throw err; // a payload read or a dead-letter write as the power went
      });
      const roll = random();
      try {
        if (roll < 0.15) await b.state.checkpoint();
        else if (roll < 0.27) await pick(b.stores).compact();
        else if (roll < 0.32) await b.state.upkeep();
      } catch (err) {
        if (!fs.dead) throw err;
      }
    }
    if (fs.dead) out.inside++;
    else await b.marker.drain();
    if (last) break;
    fs.powerOff();
    b.abandon();
    fs.crash();
    b = await boot(fs, clock, onMarked); // must open: no cursor ahead of its data, no damage in synced bytes
    check(b);
    await probeCodes(b);
  }
  await b.marker.drain();
  b.abandon();
  return out;

  /** A terminal retries an answered call with its own key: same seq, no second record. */
  async function retryOne(bt: Boot): Promise<void> {
    const own = [...recs.values()].filter((r) => r.acked && r.req.idempotencyKey !== undefined && r.seq !== null);
    if (own.length === 0 || random() > 0.3) return;
    const r = pick(own);
    const depth = bt.journal.undelivered().length;
    const a = await bt.answers.answer(r.req, `retry-${next++}`).catch((err: unknown) => {
      if (fs.dead) return null;
      throw err;
    });
    if (a === null) return;
    if (a.journalSeq !== r.seq) throw new Error(`retry of ${r.id} answered with seq ${a.journalSeq}, first answer had ${r.seq}`);
    if (bt.journal.undelivered().length !== depth) throw new Error(`retry of ${r.id} journaled a second record`);
  }

  /** The conservation law after a reopen; then what was found settles what unacknowledged answers did. */
  function check(bt: Boot): void {
    const present = new Map<string, { where: 'journal' | 'dead'; e: JournalEntry }>();
    const note = (e: JournalEntry, where: 'journal' | 'dead') => {
      if (present.has(e.id)) throw new Error(`record ${e.id} present twice (${present.get(e.id)?.where} and ${where})`);
      const r = recs.get(e.id);
      if (!r) throw new Error(`invented record ${e.id} (${where})`);
      if (r.seq !== null && r.seq !== e.seq) throw new Error(`record ${e.id} came back as seq ${e.seq}, acknowledged as ${r.seq}`);
      if (e.key !== r.key) throw new Error(`record ${e.id} came back under ${e.key}`);
      present.set(e.id, { where, e });
    };
    for (const e of bt.journal.undelivered()) note(e, 'journal');
    for (const d of bt.deadStore.list()) note(d, 'dead');
    for (const r of [...recs.values()]) {
      const p = present.get(r.id);
      if (r.acked) {
        out.checks++;
        if (r.deliveredAck && p) throw new Error(`record ${r.id} acknowledged as delivered is back (${p.where})`);
        if (r.deadAck && p?.where !== 'dead') throw new Error(`acknowledged dead letter ${r.id} ${p ? 'back in the journal' : 'lost'}`);
        if (!r.deliveryAsked && !p) throw new Error(`acknowledged record ${r.id} (seq ${r.seq}) lost`);
      }
      if (p) {
        // It happened (answered, or durable before the power went): its content is what the journal holds.
        const payload = p.e.payload as JournalRecord & { state?: string; local?: { acceptedCoupons: string[] }; body?: { customerSession?: { cartItems?: unknown[] }; attributes?: { n?: number } } };
        r.acked = true;
        r.seq = p.e.seq;
        bySeq.set(r.seq, r);
        if (payload.kind === 'updateSession') {
          r.accepted = payload.local?.acceptedCoupons[0] ?? null;
          r.closes = payload.state === 'closed';
        }
        r.deliveryAsked = r.deliveredAck = false;
        r.deadAsked = r.deadAck = p.where === 'dead';
      } else if (!r.acked) {
        recs.delete(r.id); // never answered and not durable: it never happened (its seq goes to a later record)
        const list = byKey.get(r.key) as Rec[];
        list.splice(list.indexOf(r), 1);
        if (list.length === 0) byKey.delete(r.key);
      } else r.deliveredAck = true; // gone from both: its delivery mark landed
    }
    // What the state must show: each key as its last answer left it.
    const owner = new Map<string, string>();
    for (const [key, list] of byKey) {
      const lastRec = list.at(-1) as Rec;
      if (key.startsWith('profile:')) {
        const n = bt.state.profile(key.slice('profile:'.length))?.attributes?.['n'];
        if (n !== lastRec.n) throw new Error(`profile ${key} came back with n=${String(n)}, its last answer set ${lastRec.n}`);
        continue;
      }
      const sid = key.slice('session:'.length);
      const s = bt.state.localSession(sid);
      if (!s) throw new Error(`session ${sid} lost from local state`);
      if (s.state !== (lastRec.closes ? 'closed' : 'open') || s.updateCount !== list.length || s.cartItems.length !== lastRec.items) {
        throw new Error(`session ${sid} came back ${s.state} after ${s.updateCount} updates with ${s.cartItems.length} items; expected ${lastRec.closes ? 'closed' : 'open'}, ${list.length}, ${lastRec.items}`);
      }
      if (lastRec.accepted) {
        const other = owner.get(lastRec.accepted);
        if (other) throw new Error(`code ${lastRec.accepted} accepted for two sessions: ${other} and ${sid}`);
        owner.set(lastRec.accepted, sid);
      }
    }
    const ledger = new Map<string, string[]>();
    for (const c of bt.state.ledger.export().codes) {
      ledger.set(c.code, [...c.holds.map((h) => `${h.sessionId}:hold`), ...c.uses.map((u) => `${u.sessionId}:use`)]);
    }
    for (const code of CODES) {
      const sid = owner.get(code);
      const want = sid ? [`${sid}:${(byKey.get(`session:${sid}`)?.at(-1) as Rec).closes ? 'use' : 'hold'}`] : [];
      const got = ledger.get(code) ?? [];
      if (got.join() !== want.join()) throw new Error(`ledger: code ${code} counted for [${got.join(', ')}], its answers left [${want.join(', ')}]`);
    }
    for (const r of recs.values()) {
      if (!r.req.idempotencyKey || !r.acked) continue;
      const hit = bt.replay.get(r.req.idempotencyKey);
      if (hit?.seq !== r.seq) throw new Error(`replay answer of ${r.id} (seq ${r.seq}) came back as ${hit ? `seq ${hit.seq}` : 'nothing'}`);
    }
  }

  /** A new session asks for every code (a dry run: nothing journaled): taken ones are refused, free ones accepted. */
  async function probeCodes(bt: Boot): Promise<void> {
    const taken = new Set<string>();
    for (const [key, list] of byKey) if (key.startsWith('session:') && (list.at(-1) as Rec).accepted) taken.add((list.at(-1) as Rec).accepted as string);
    for (const code of CODES) {
      const req = sessionReq(`probe-${probe++}`, [code], true, 2, false, '');
      const a = await bt.answers.answer({ ...req, query: 'dry=true' }, `probe-${probe}`);
      const effects = (a.body as { effects: { effectType: string; props: { value?: string; rejectionReason?: string } }[] }).effects;
      const refused = effects.find((e) => e.effectType === 'rejectCoupon' && e.props.value === code);
      if (taken.has(code) && refused?.props.rejectionReason !== 'CouponLimitReached') throw new Error(`code ${code} is used, yet a new session was not refused it (CouponLimitReached)`);
      if (!taken.has(code) && acceptedOf(a.body) !== code) throw new Error(`code ${code} is free, yet a new session was refused it`);
      out.probes++;
    }
  }
}
