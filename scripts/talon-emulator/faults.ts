/**
 * Fault injection for API routes (never `/_emulator/*`). `refuse` is handled by the server
 * (it stops listening); everything else is decided per request here.
 */
import { ApiError, invalid, problem } from './errors.js';
import { CORRUPT_MODES, type CorruptMode, type Faults } from './types.js';

const NUMS = ['latencyMs', 'jitterMs', 'errorRate', 'errorStatus', 'rate429', 'status409Rate', 'refuseForMs', 'failNext', 'stallMs', 'stallNext', 'corruptNext'] as const;
const RATES = new Set(['errorRate', 'rate429', 'status409Rate']);
const BOOLS = ['hang', 'refuse'] as const;

/** Validates a faults body (admin route); unknown keys are rejected so typos do not pass silently. */
export function parseFaults(body: unknown): Faults {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw invalid([problem('/', 'Invalid type', 'faults must be a JSON object')]);
  const o = body as Record<string, unknown>;
  const errs = [];
  const f: Faults = {};
  for (const [k, v] of Object.entries(o)) {
    if ((NUMS as readonly string[]).includes(k)) {
      const ok = typeof v === 'number' && Number.isFinite(v) && v >= 0 && (!RATES.has(k) || v <= 1) && (k !== 'errorStatus' || (v >= 100 && v <= 599));
      if (!ok) errs.push(problem(`/${k}`, 'Invalid value', RATES.has(k) ? `${k} must be a number in 0..1` : `${k} must be a non-negative number`));
      else (f as Record<string, unknown>)[k] = v;
    } else if ((BOOLS as readonly string[]).includes(k)) {
      if (typeof v !== 'boolean') errs.push(problem(`/${k}`, 'Invalid type', `${k} must be a boolean`));
      else (f as Record<string, unknown>)[k] = v;
    } else if (k === 'corrupt') {
      if (typeof v !== 'string' || !(CORRUPT_MODES as readonly string[]).includes(v)) errs.push(problem('/corrupt', 'Invalid value', `corrupt must be one of ${CORRUPT_MODES.join(', ')}`));
      else f.corrupt = v as CorruptMode;
    } else if (k === 'paths') {
      if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) errs.push(problem('/paths', 'Invalid type', 'paths must be an array of strings'));
      else f.paths = v as string[];
    } else {
      errs.push(problem(`/${k}`, 'Unknown', `unknown fault "${k}"`));
    }
  }
  if (errs.length) throw invalid(errs);
  return f;
}

export interface Injected { status: number; body: Record<string, unknown> }

export class FaultController {
  private f: Faults = {};
  /** True when any per-request fault is set (lets the hot path skip all checks). */
  active = false;
  constructor(private readonly random: () => number = Math.random) {}

  set(f: Faults): void {
    this.f = { ...f };
    if (f.paths) this.f.paths = [...f.paths];
    const x = this.f;
    this.active = !!(x.latencyMs || x.jitterMs || x.errorRate || x.rate429 || x.status409Rate || x.hang || x.failNext || x.stallMs || x.corrupt);
  }

  get(): Faults {
    return { ...this.f, ...(this.f.paths ? { paths: [...this.f.paths] } : {}) };
  }

  applies(pathname: string): boolean {
    if (!this.active) return false;
    const p = this.f.paths;
    return !p || p.length === 0 || p.some((prefix) => pathname.startsWith(prefix));
  }

  hang(pathname: string): boolean {
    return this.f.hang === true && this.applies(pathname);
  }

  /**
   * How long to hold this request before anything else happens to it (outside the session queue, so a
   * later request of the same session can overtake it); consumes one `stallNext`. The last one clears the stall.
   */
  stallMs(pathname: string): number {
    const f = this.f;
    if (!f.stallMs || !this.applies(pathname)) return 0;
    const ms = f.stallMs;
    if (f.stallNext && f.stallNext > 0) {
      f.stallNext--;
      if (f.stallNext === 0) {
        const { stallMs: _ms, stallNext: _n, ...rest } = f;
        this.set(rest);
      }
    }
    return ms;
  }

  delayMs(pathname: string): number {
    if (!this.applies(pathname)) return 0;
    const base = this.f.latencyMs ?? 0;
    const j = this.f.jitterMs ?? 0;
    return base + (j > 0 ? Math.floor(this.random() * j) : 0);
  }

  /** How to spoil this request's 2xx answer, if at all; consumes one `corruptNext`. */
  corruption(pathname: string): CorruptMode | undefined {
    const f = this.f;
    if (!f.corrupt || !this.applies(pathname)) return undefined;
    const mode = f.corrupt;
    if (f.corruptNext && f.corruptNext > 0) {
      f.corruptNext--;
      if (f.corruptNext === 0) {
        const { corrupt: _c, corruptNext: _n, ...rest } = f;
        this.set(rest);
      }
    }
    return mode;
  }

  /** An injected error for this request, if any; consumes one `failNext`. */
  injected(pathname: string): Injected | undefined {
    if (!this.applies(pathname)) return undefined;
    const f = this.f;
    const status = f.errorStatus ?? 500;
    if (f.failNext && f.failNext > 0) {
      f.failNext--;
      if (f.failNext === 0) this.set({ ...f, failNext: 0 });
      return err(status);
    }
    if (f.errorRate && this.random() < f.errorRate) return err(status);
    if (f.rate429 && this.random() < f.rate429) return err(429);
    if (f.status409Rate && this.random() < f.status409Rate) {
      return { status: 409, body: new ApiError(409, 'Too many requests are updating this session at the same time').body() };
    }
    return undefined;
  }
}

function err(status: number): Injected {
  const message = status === 429 ? 'Too many requests' : status >= 500 ? 'Internal server error (emulated fault)' : `Emulated fault ${status}`;
  return { status, body: { message, errors: [], StatusCode: status } };
}

/** A 2xx answer as `corrupt` spoils it (the answer text in, the text sent out). */
export function corruptAnswer(mode: CorruptMode, payload: string | undefined): string {
  if (mode === 'notJson') return '<html><body>502 Bad Gateway</body></html>';
  const doc = payload ? (JSON.parse(payload) as Record<string, unknown>) : {};
  const effects = Array.isArray(doc.effects) ? (doc.effects as Record<string, unknown>[]) : [];
  const envelope = { campaignId: (effects[0]?.campaignId as number | undefined) ?? 101, rulesetId: 1, ruleIndex: 0, ruleName: 'corrupted' };
  const session = doc.customerSession as { total?: number } | undefined;
  switch (mode) {
    case 'unknownEffectType':
      doc.effects = [...effects, { ...envelope, effectType: 'teleportCart', props: {} }];
      break;
    case 'discountAboveTotal':
      doc.effects = [...effects, { ...envelope, effectType: 'setDiscount', props: { name: 'too much', value: Math.max(1, (session?.total ?? 10) * 10) } }];
      break;
    case 'badPosition':
      doc.effects = effects.map((e) => (e.effectType === 'setDiscountPerItem' ? { ...e, props: { ...(e.props as object), position: 9999 } } : e));
      break;
    case 'unknownCampaign':
      doc.effects = effects.map((e) => ({ ...e, campaignId: 999999 }));
      break;
    case 'missingEffects':
      delete doc.effects;
      break;
  }
  return JSON.stringify(doc);
}
