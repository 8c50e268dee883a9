import type { Exec } from './blocks.js';
import type { CompiledCampaign } from './compile-rules.js';
import { BudgetError, EvalError, type EvalCtx } from './context.js';
import { rejectCoupon, type CouponCandidate } from './coupon-check.js';
import type { Explainer } from './explain.js';
import type { Getter } from './paths.js';
import { failsAt, failsPrecheck, tripleKey, UNREAD } from './precheck.js';
import type { Run, RuleEnvelope } from './rule-run.js';
import type { Coupon, Effect } from './types.js';

/**
 * The campaign sweep of `evaluate`: the evaluation plan walked in order, each campaign's rules run with
 * rollback, coupons accepted or rejected. Most of a store's campaigns (hundreds) fail a precheck for a
 * given cart; the sweep settles those from a side table in typed arrays ({@link LeafTable}), in a tight
 * loop that touches neither their leaf objects nor their compiled rules.
 */

/** A plan leaf with what the sweep needs inline (fewer objects touched per campaign). */
export interface RLeaf {
  kind: 'campaign'; id: number; offline: boolean; c: CompiledCampaign;
  /** Row of this leaf in the engine's {@link LeafTable}. */
  j: number;
  /** The rules' compiled blocks and envelopes, side by side (one object less to reach per rule). */
  execs: Exec[]; envs: RuleEnvelope[]; pres: (readonly unknown[] | undefined)[];
  /** Rule count and rule 0 inline: most campaigns have one rule, and each array is one more cache line. */
  n: number; exec0: Exec | undefined; env0: RuleEnvelope | undefined; pre0: readonly unknown[] | undefined;
}
/** A set; `idx[i]` is the leaf row of child `i`, or -1 for a nested set (the sweep reads rows, not leaves). */
export type RNode = RLeaf | { kind: 'set'; operator: 'ALL' | 'FIRST'; mode: string; children: RNode[]; idx: Int32Array };

export type Outcome = 'triggered' | 'notTriggered' | 'notFirst' | 'lowerDiscount' | 'skipped';

/**
 * One row per plan leaf, in plan order. A leaf is *quick* when its campaign is offline-capable and has one
 * rule with prechecks (`precheck.ts`). Its prechecks become distinct conditions (`tripleKey`): a condition
 * shared by many campaigns ("segment is seg7") is evaluated once per evaluation, and each condition lists
 * the quick leaves it belongs to. (`checkCoupon`'s condition is evaluated without a coupon, i.e. false;
 * it only counts for leaves without a coupon candidate.)
 */
export class LeafTable {
  /** Campaign id per leaf (a plain array: small integers stay small integers in `evaluatedCampaignIds`). */
  readonly ids: number[] = [];
  readonly #win: number[] = [];
  readonly #quick: number[] = [];
  /** One triple (`[slot, op, operand]`) per condition, and the quick leaves having it. */
  readonly triples: (readonly unknown[])[] = [];
  readonly #leavesOf: number[][] = [];
  readonly #keys = new Map<string, number>();
  /** Leaf rows per campaign id (to mark the leaves of coupon candidates). */
  readonly byCampaign = new Map<number, number[]>();
  /** `[start, end)` ms per leaf, side by side. */
  windows = new Float64Array(0);
  quick = new Uint8Array(0);
  /** Leaves of condition `c`: `condLeaves[condFrom[c] .. condFrom[c + 1])`. */
  condFrom = new Int32Array(0);
  condLeaves = new Int32Array(0);

  /** Adds a leaf; `pre0` is rule 0's precheck when the leaf is quick (else undefined). Returns its row. */
  add(id: number, startMs: number, endMs: number, pre0: readonly unknown[] | undefined): number {
    const j = this.ids.length;
    this.ids.push(id);
    this.#win.push(startMs, endMs);
    this.#quick.push(pre0 !== undefined ? 1 : 0);
    for (let i = 0; pre0 !== undefined && i < pre0.length; i += 3) {
      const key = tripleKey(pre0, i);
      let c = key !== undefined ? this.#keys.get(key) : undefined;
      if (c === undefined) {
        c = this.triples.length;
        this.triples.push(pre0.slice(i, i + 3));
        this.#leavesOf.push([]);
        if (key !== undefined) this.#keys.set(key, c);
      }
      (this.#leavesOf[c] as number[]).push(j);
    }
    const at = this.byCampaign.get(id);
    if (at) at.push(j); else this.byCampaign.set(id, [j]);
    return j;
  }

  /** Copies the rows into typed arrays (once, after the last `add`). */
  seal(): void {
    this.windows = Float64Array.from(this.#win);
    this.quick = Uint8Array.from(this.#quick);
    const from = [0];
    for (const ls of this.#leavesOf) from.push((from[from.length - 1] as number) + ls.length);
    this.condFrom = Int32Array.from(from);
    this.condLeaves = Int32Array.from(this.#leavesOf.flat());
  }
}

/**
 * Scratch state of the sweep, reused by one engine's evaluations (`evaluate` is synchronous and never
 * re-entered; `reset` starts each one afresh).
 */
export class SweepState {
  /** Per leaf: 1 when its campaign has a coupon candidate in this evaluation. */
  readonly cand: Uint8Array;
  /**
   * Per leaf: 0 to run (not quick, or a coupon candidate), 1 quick without a candidate and all its
   * prechecks true (rule 0 runs without them), 2 quick without a candidate and a precheck false (settled).
   */
  readonly verdict: Uint8Array;
  /** `evaluatedCampaignIds` so far: `ev[0 .. evTop)` (grown once, then reused). */
  readonly ev: number[] = [];
  evTop = 0;

  constructor(readonly table: LeafTable) {
    this.cand = new Uint8Array(table.ids.length);
    this.verdict = new Uint8Array(table.ids.length);
  }

  /**
   * Starts an evaluation: marks the leaves of coupon candidates, evaluates every condition once (pure:
   * path values are read into `values`, as `failsPrecheck` does; `ctx.coupon` is undefined here) and
   * settles the quick leaves of the false ones.
   */
  reset(candidates: Iterable<number>, values: unknown[], getters: readonly Getter[], ctx: EvalCtx): void {
    const t = this.table, v = this.verdict, cand = this.cand;
    cand.fill(0);
    v.set(t.quick);
    this.evTop = 0;
    for (const id of candidates) {
      const js = t.byCampaign.get(id);
      if (js) for (let k = 0; k < js.length; k++) { cand[js[k] as number] = 1; v[js[k] as number] = 0; }
    }
    const triples = t.triples, from = t.condFrom, leaves = t.condLeaves;
    for (let c = 0; c < triples.length; c++) {
      if (!failsAt(triples[c] as readonly unknown[], 0, values, getters, ctx)) continue;
      for (let k = from[c] as number, end = from[c + 1] as number; k < end; k++) {
        const j = leaves[k] as number;
        if (v[j] === 1) v[j] = 2;
      }
    }
  }

  pushEvaluated(id: number): void {
    const ev = this.ev, top = this.evTop;
    if (top < ev.length) ev[top] = id; else ev.push(id);
    this.evTop = top + 1;
  }

  /**
   * Settles the leaves `idx[from..to)` in order while it can: a leaf not running at `now` (nothing
   * recorded), or with verdict 2 (evaluated, nothing else). Returns the position of the first child it
   * cannot settle (a nested set, or a running leaf to run), or `to`.
   */
  scan(idx: Int32Array, from: number, to: number, now: number): number {
    const win = this.table.windows, v = this.verdict, ids = this.table.ids;
    let i = from;
    for (; i < to; i++) {
      const j = idx[i] as number;
      if (j < 0) break;
      if (now < (win[2 * j] as number) || now >= (win[2 * j + 1] as number)) continue;
      if (v[j] !== 2) break;
      this.pushEvaluated(ids[j] as number);
    }
    return i;
  }
}

/** `$Coupon` of the campaign being evaluated. */
function couponView(c: Coupon): Record<string, unknown> {
  return {
    Id: c.id, Code: c.value, Value: c.value, CampaignId: c.campaignId, UsageLimit: c.usageLimit ?? 0, UsageCounter: c.usageCounter ?? 0,
    Attributes: c.attributes ?? {}, StartDate: c.startDate ?? undefined, ExpiryDate: c.expiryDate ?? undefined, RecipientIntegrationId: c.recipientIntegrationId ?? undefined,
  };
}

/**
 * One evaluation's sweep. A leaf settled by `scan` ends in the state the general path (`#campaign`) would
 * leave: marks, rollback and release change nothing for a rule failing before any effect, pure prechecks
 * never throw, and `run.env`, `run.couponUse` and `ctx.coupon` are set again before the next rule reads
 * them (`ctx.coupon` is undefined between campaigns).
 */
export class Sweep {
  readonly outcome = new Map<number, Outcome>();
  readonly accepted: { code: string; redeem: boolean }[] = [];
  readonly #values: unknown[] = [];
  readonly #hasCands: boolean;
  /** Explained evaluation: every campaign's outcome is noted (not only coupon candidates'). */
  readonly #all: boolean;

  constructor(
    readonly st: SweepState,
    readonly run: Run,
    readonly ctx: EvalCtx,
    readonly bind: Record<string, unknown>,
    readonly now: number,
    readonly candidates: ReadonlyMap<number, CouponCandidate>,
    readonly skipped: Map<number, string>,
    readonly getters: readonly Getter[],
    /** Set only when the caller asked why (`explain`): each rule run is reported to it. */
    readonly x?: Explainer,
  ) {
    for (let i = 0; i < getters.length; i++) this.#values.push(UNREAD);
    this.#all = x !== undefined;
    this.#hasCands = candidates.size > 0 || this.#all;
    st.reset(candidates.keys(), this.#values, getters, ctx);
    // Explained: no leaf is settled by `scan` from its prechecks; each runs (with the same prechecks, so the same
    // result) and a failed one is described.
    if (x !== undefined) st.verdict.fill(0);
  }

  /** The evaluated campaign ids, in order. */
  evaluated(): number[] {
    return this.st.ev.slice(0, this.st.evTop);
  }

  #note(id: number, o: Outcome): void {
    if (this.#hasCands && (this.#all || this.candidates.has(id))) this.outcome.set(id, o);
  }

  #markAll(nodes: readonly RNode[], why: Outcome): void {
    for (const p of nodes) {
      if (p.kind === 'campaign') { if (!this.outcome.has(p.id)) this.#note(p.id, why); } else this.#markAll(p.children, why);
    }
  }

  node(n: RNode): boolean {
    if (n.kind === 'campaign') return this.#leaf(n);
    const ch = n.children;
    if (n.mode === 'lowestDiscount' || n.mode === 'highestDiscount') {
      const run = this.run, st = this.st, accepted = this.accepted;
      let best = -1, bestValue = 0;
      for (let i = 0; i < ch.length; i++) {
        const node = ch[i] as RNode;
        const m = run.mark();
        const before = run.discountTotal;
        const evalLen = st.evTop, accLen = accepted.length;
        const t = this.node(node);
        const v = run.discountTotal - before;
        run.rollback(m);
        st.evTop = evalLen;
        accepted.length = accLen;
        if (node.kind === 'campaign') this.outcome.delete(node.id);
        if (t && (best < 0 || (n.mode === 'highestDiscount' ? v > bestValue : v < bestValue))) { best = i; bestValue = v; }
      }
      if (best >= 0) this.node(ch[best] as RNode);
      ch.forEach((node, i) => { if (i !== best && node.kind === 'campaign' && !this.outcome.has(node.id)) this.#note(node.id, best < 0 ? 'notTriggered' : 'lowerDiscount'); });
      return best >= 0;
    }
    let any = false;
    const idx = n.idx, st = this.st, to = ch.length;
    for (let i = st.scan(idx, 0, to, this.now); i < to; i = st.scan(idx, i + 1, to, this.now)) {
      const t = (idx[i] as number) >= 0 ? this.#campaign(ch[i] as RLeaf) : this.node(ch[i] as RNode);
      any = any || t;
      if (t && n.operator === 'FIRST') { if (this.#hasCands) this.#markAll(ch.slice(i + 1), 'notFirst'); break; }
    }
    return any;
  }

  /** A leaf on its own (children of lowest/highestDiscount sets): `scan`'s checks, then `#campaign`. */
  #leaf(leaf: RLeaf): boolean {
    const j = leaf.j, st = this.st, win = st.table.windows;
    if (this.now < (win[2 * j] as number) || this.now >= (win[2 * j + 1] as number)) return false;
    if (st.verdict[j] === 2) { st.pushEvaluated(leaf.id); return false; }
    return this.#campaign(leaf);
  }

  /** A running leaf that `scan` did not settle: its rules, in order, with rollback. */
  #campaign(leaf: RLeaf): boolean {
    const { run, ctx, bind } = this;
    const id = leaf.id;
    if (!leaf.offline) { this.skipped.set(id, leaf.c.reason ?? 'not offline-capable'); this.#note(id, 'skipped'); return false; }
    const cand: CouponCandidate | undefined = this.st.cand[leaf.j] !== 0 ? this.candidates.get(id) : undefined;
    if (cand === undefined && leaf.n === 1) return this.#oneRule(leaf);
    // Quick without a candidate and not settled: rule 0's prechecks are true.
    const pre0Ok = this.st.verdict[leaf.j] === 1;
    ctx.coupon = cand?.coupon;
    if (cand) bind.Coupon = couponView(cand.coupon);
    const start = run.out.length;
    const campaignMark = run.mark();
    let triggered = false;
    let couponUsed: boolean | undefined;
    const n = leaf.n;
    try {
      for (let k = 0; k < n; k++) {
        run.env = (k === 0 ? leaf.env0 : leaf.envs[k]) as RuleEnvelope;
        run.couponUse = undefined;
        const ruleStart = run.out.length;
        const m = run.mark();
        let ok: boolean;
        const pre = k === 0 ? leaf.pre0 : leaf.pres[k];
        if (pre !== undefined && !(k === 0 && pre0Ok) && failsPrecheck(pre, this.#values, this.getters, ctx)) ok = false; // as running it would
        else try { ok = ((k === 0 ? leaf.exec0 : leaf.execs[k]) as Exec)(ctx); } catch (e) { if (e instanceof EvalError && !(e instanceof BudgetError)) ok = false; else throw e; }
        // A rule whose effects overrun the campaign's budgets fails, as upstream (budgets.ts).
        if (ok && leaf.c.budget !== undefined && ctx.budgets?.fits(id) !== true) ok = false;
        if (!ok) { run.rollback(m, true); run.flushFailures(); if (this.x !== undefined) this.x.rule(leaf.c, k, false, ctx, run, cand?.coupon); continue; }
        if (this.x !== undefined) this.x.rule(leaf.c, k, true, ctx, run, cand?.coupon);
        run.release(m);
        triggered = true;
        if (run.couponUse !== undefined && cand) {
          for (let i = ruleStart; i < run.out.length; i++) (run.out[i] as Effect).triggeredByCoupon = cand.coupon.id;
          if (couponUsed === undefined) {
            run.emit('acceptCoupon', { value: cand.code });
            const acc = run.out.pop() as Effect;
            acc.triggeredByCoupon = cand.coupon.id;
            run.out.splice(ruleStart, 0, acc);
          }
          couponUsed = (couponUsed ?? false) || run.couponUse;
        }
        run.flushFailures();
      }
    } catch (e) {
      if (!(e instanceof BudgetError)) throw e;
      run.rollback(campaignMark);
      run.out.length = start;
      this.skipped.set(id, 'evaluation budget exceeded');
      this.#note(id, 'skipped');
      ctx.coupon = undefined;
      bind.Coupon = undefined;
      return false;
    }
    run.release(campaignMark);
    ctx.coupon = undefined;
    if (cand) bind.Coupon = undefined;
    this.st.pushEvaluated(id);
    if (cand) {
      if (couponUsed !== undefined) this.accepted.push({ code: cand.code, redeem: couponUsed });
      else run.out.push(rejectCoupon(cand.code, 'CouponRejectedByCondition', leaf.c, {}, cand.coupon.id));
    }
    if (cand || this.#all) this.outcome.set(id, triggered ? 'triggered' : 'notTriggered');
    return triggered;
  }

  /**
   * `#campaign` for one rule and no coupon candidate (most campaigns): the same steps with one mark where
   * it takes two (the campaign's and the rule's cover the same effects then; only `run.couponUse`, reset
   * before any rule reads it, differs between them).
   */
  #oneRule(leaf: RLeaf): boolean {
    const { run, ctx } = this;
    run.env = leaf.env0 as RuleEnvelope;
    run.couponUse = undefined;
    const m = run.mark();
    let ok: boolean;
    try {
      const pre = leaf.pre0;
      if (pre !== undefined && this.st.verdict[leaf.j] !== 1 && failsPrecheck(pre, this.#values, this.getters, ctx)) ok = false; // as running it would
      else try { ok = (leaf.exec0 as Exec)(ctx); } catch (e) { if (e instanceof EvalError && !(e instanceof BudgetError)) ok = false; else throw e; }
      if (ok && leaf.c.budget !== undefined && ctx.budgets?.fits(leaf.id) !== true) ok = false;
    } catch (e) {
      if (!(e instanceof BudgetError)) throw e;
      run.rollback(m);
      this.skipped.set(leaf.id, 'evaluation budget exceeded');
      this.#note(leaf.id, 'skipped');
      ctx.coupon = undefined;
      this.bind.Coupon = undefined;
      return false;
    }
    if (ok) run.release(m); else run.rollback(m, true);
    run.flushFailures();
    if (this.x !== undefined) this.x.rule(leaf.c, 0, ok, ctx, run, undefined);
    this.st.pushEvaluated(leaf.id);
    return ok;
  }
}
