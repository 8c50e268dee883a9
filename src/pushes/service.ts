import { StoregateError, isStoregateError } from '../core/errors.js';
import type { ConfigRuntime } from '../config/runtime.js';
import type { LocalData } from '../engine/index.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import { claimedVersion, stalePush, verifyPush, type PushEnvelope, type PushKind, type TrustedKey } from '../trust/index.js';
import type { PushRecord, PushVersions } from './versions.js';

/** The answer to a push, published on `P/<kind>/ack` and returned over HTTP. */
export interface PushAck {
  version: number | null;
  ok: boolean;
  error?: string;
  code?: string;
  restartRequired?: string[];
  /** Data pushes: items changed. */
  changed?: number;
  /** The same version was seen before (a retained push delivered again): nothing was done. */
  duplicate?: boolean;
  /** A refusal's problems with their JSON paths (at most 20). */
  details?: { path: string; message: string }[];
}

export interface PushServiceDeps {
  storeIntegrationId: string;
  /** The trusted keys now (`trust.publicKeys` can be rotated by a push). */
  keys: () => readonly TrustedKey[];
  maxBytes: number;
  versions: PushVersions;
  config: ConfigRuntime;
  localData: LocalData;
  clock: Clock;
  log: Logger;
  /** Every outcome, for metrics and the MQTT ack of HTTP pushes. */
  onOutcome?: (kind: PushKind, ack: PushAck, via: 'mqtt' | 'http') => void;
}

const FINAL_REFUSALS = new Set(['SG_ERR_PUSH_INVALID', 'SG_ERR_PUSH_STALE', 'SG_ERR_PUSH_WRONG_STORE', 'SG_ERR_DATA_INVALID', 'SG_ERR_DATA_STALE', 'SG_ERR_CONFIG_INVALID']);
const VERSIONED_DATA = new Set<PushKind>(['rules', 'coupons', 'loyalty', 'catalog', 'collections']);

/**
 * Head office's pushes, from MQTT or HTTP, through one gate: signature (src/trust), version above the applied
 * one (rollback refused), then apply — config through {@link ConfigRuntime}, data through {@link LocalData}
 * (both validate the whole result and change nothing when it fails). One push at a time; every outcome is
 * recorded durably and logged.
 */
export class PushService {
  readonly #d: PushServiceDeps;
  #queue: Promise<unknown> = Promise.resolve();
  /** Verified pushes decided in this process, per kind (a few recent versions). */
  readonly #seen = new Map<PushKind, Map<number, PushAck>>();

  constructor(deps: PushServiceDeps) {
    this.#d = deps;
  }

  /** A JWS compact push. Never throws: a refusal is an ack with `ok: false`. */
  signed(kind: PushKind, raw: string | Buffer, via: 'mqtt' | 'http'): Promise<PushAck> {
    return this.#serial(async () => {
      let env: PushEnvelope;
      try {
        env = await verifyPush(raw, { keys: this.#d.keys(), storeIntegrationId: this.#d.storeIntegrationId, kind, maxBytes: this.#d.maxBytes });
      } catch (err) {
        return this.#refuse(kind, claimedVersion(raw), err, via);
      }
      // A retained push comes again on every reconnect and restart (and a fleet-wide one beside the store's own):
      // a version already decided is not decided again. Only verified pushes get here, so a forged message that
      // claims an upcoming version cannot block the genuine one.
      const seen = this.#seen.get(kind)?.get(env.version) ?? (env.version === this.#d.versions.applied(kind) ? { version: env.version, ok: true } : undefined);
      if (seen) {
        this.#d.log.debug({ kind, version: env.version, via }, 'push seen before (retained re-delivery): nothing to do');
        return { ...seen, duplicate: true };
      }
      const ack = await this.#gateAndApply(kind, env.version, kind === 'config' ? env.config : env.data, via, env.kid);
      // A refusal that may go away (a full disk, an I/O error) is not remembered: the next delivery tries again.
      if (ack.ok || FINAL_REFUSALS.has(ack.code ?? '')) this.#remember(kind, env.version, ack);
      return ack;
    });
  }

  /**
   * A plain JSON push under the admin token (HTTP only). Config: `{version, config}`; data: the local-data
   * payload (README "Local data") itself (its own `version`; prices have none).
   */
  plain(kind: PushKind, body: unknown): Promise<PushAck> {
    return this.#serial(async () => {
      const b = body as Record<string, unknown> | null;
      if (kind === 'config') {
        const version = b?.version;
        if (typeof b !== 'object' || b === null || !Number.isSafeInteger(version) || (version as number) < 1 || typeof b.config !== 'object') {
          return this.#refuse(kind, null, new StoregateError('SG_ERR_PUSH_INVALID', 'a config push is {"version": n, "config": {…}}', { statusCode: 400, details: [{ path: '/version', message: 'a positive integer' }] }), 'http');
        }
        return this.#gateAndApply(kind, version as number, b.config, 'http', null);
      }
      const version = kind === 'prices' ? null : typeof b?.version === 'number' ? b.version : null;
      return this.#gateAndApply(kind, version, body, 'http', null);
    });
  }

  lastPushes(): Partial<Record<PushKind, PushRecord>> {
    return this.#d.versions.all();
  }

  async #gateAndApply(kind: PushKind, version: number | null, content: unknown, via: 'mqtt' | 'http', kid: string | null): Promise<PushAck> {
    try {
      if (version !== null) {
        const floor = this.#floor(kind);
        if (version <= floor) throw stalePush(kind, version, floor);
      }
      const ack = await this.#apply(kind, version, content);
      await this.#record(kind, ack, via);
      this.#d.log.info({ kind, version: ack.version, via, kid, changed: ack.changed, restartRequired: ack.restartRequired }, 'push applied');
      this.#d.onOutcome?.(kind, ack, via);
      return ack;
    } catch (err) {
      return this.#refuse(kind, version, err, via);
    }
  }

  /** The rollback floor: the highest version applied by a push, or held by the data or config in use. */
  #floor(kind: PushKind): number {
    const pushed = this.#d.versions.applied(kind);
    if (kind === 'config') return Math.max(pushed, this.#d.config.version);
    if (kind === 'prices') return pushed;
    const s = this.#d.localData.status();
    const held = kind === 'rules' ? s.rulesVersion : kind === 'coupons' ? s.couponsVersion : kind === 'catalog' ? s.catalogVersion : kind === 'collections' ? s.collectionsVersion : s.loyaltyVersion;
    return Math.max(pushed, held);
  }

  async #apply(kind: PushKind, version: number | null, content: unknown): Promise<PushAck> {
    if (kind === 'config') {
      const r = await this.#d.config.apply(content, version as number);
      return { version, ok: true, ...(r.restartRequired.length > 0 ? { restartRequired: r.restartRequired } : {}) };
    }
    let data = content;
    if (VERSIONED_DATA.has(kind) && version !== null) {
      if (typeof data !== 'object' || data === null || Array.isArray(data)) {
        throw new StoregateError('SG_ERR_PUSH_INVALID', `${kind} data must be a JSON object`, { statusCode: 400, details: [{ path: '/data', message: 'expected an object' }] });
      }
      const own = (data as { version?: unknown }).version;
      if (own !== undefined && own !== version) {
        throw new StoregateError('SG_ERR_PUSH_INVALID', `data.version ${String(own)} differs from the push version ${version}`, { statusCode: 400, details: [{ path: '/data/version', message: 'must equal the push version' }] });
      }
      data = { ...(data as object), version };
    }
    const r = await this.#d.localData.ingest(kind, data);
    return { version: kind === 'prices' ? (version ?? r.version) : r.version, ok: true, changed: r.changed };
  }

  async #refuse(kind: PushKind, version: number | null, err: unknown, via: 'mqtt' | 'http'): Promise<PushAck> {
    const e = isStoregateError(err) ? err : null;
    const details = e?.details.slice(0, 5).map((d) => `${d.path ?? '/'}: ${d.message}`).join('; ');
    const error = e ? `${e.message}${details ? ` (${details})` : ''}` : `internal error: ${(err as Error).message}`;
    const ack: PushAck = { version, ok: false, error: error.slice(0, 2000), code: e?.code ?? 'SG_ERR_INTERNAL' };
    if (e && e.details.length > 0) ack.details = e.details.slice(0, 20).map((d) => ({ path: d.path ?? '/', message: d.message.slice(0, 500) }));
    this.#d.log.warn({ kind, version, via, code: ack.code, error: ack.error }, 'push refused; nothing changed');
    try {
      await this.#record(kind, ack, via);
    } catch (recErr) {
      this.#d.log.error({ err: recErr, kind }, 'could not record a push refusal');
    }
    this.#d.onOutcome?.(kind, ack, via);
    return ack;
  }

  #record(kind: PushKind, ack: PushAck, via: 'mqtt' | 'http'): Promise<void> {
    return this.#d.versions.record(kind, {
      version: ack.version,
      ok: ack.ok,
      error: ack.error ?? null,
      code: ack.code ?? null,
      via,
      at: new Date(this.#d.clock.now()).toISOString(),
    });
  }

  #remember(kind: PushKind, version: number, ack: PushAck): void {
    let m = this.#seen.get(kind);
    if (!m) this.#seen.set(kind, (m = new Map()));
    m.set(version, ack);
    if (m.size > 16) m.delete(m.keys().next().value as number);
  }

  #serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(f, f);
    this.#queue = p.catch(() => undefined);
    return p;
  }
}
