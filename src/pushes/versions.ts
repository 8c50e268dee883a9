import type { SnapshotStore } from '../state/snapshot-store.js';
import type { PushKind } from '../trust/index.js';

/** The outcome of the last push of one kind, for `/status`, the status page and the version gate. */
export interface PushRecord {
  version: number | null;
  ok: boolean;
  error: string | null;
  code: string | null;
  via: 'mqtt' | 'http';
  at: string;
}

interface KindState {
  /** Highest version applied (the rollback floor). */
  applied: number;
  last: PushRecord | null;
}

type State = Partial<Record<PushKind, KindState>>;

/**
 * Applied push versions per kind, persisted (`state/pushes.json`, durable) so that a retained push delivered
 * again after a restart or a reconnect is recognised, and a lower version is refused as a rollback, across
 * restarts. A refusal changes nothing on disk: it is kept in memory for `/status` only.
 */
export class PushVersions {
  readonly #store: SnapshotStore;
  #state: State = {};

  constructor(store: SnapshotStore) {
    this.#store = store;
  }

  async start(): Promise<void> {
    const snap = await this.#store.load<State>('pushes');
    this.#state = snap?.data ?? {};
  }

  applied(kind: PushKind): number {
    return this.#state[kind]?.applied ?? 0;
  }

  last(kind: PushKind): PushRecord | null {
    return this.#state[kind]?.last ?? null;
  }

  all(): Partial<Record<PushKind, PushRecord>> {
    const out: Partial<Record<PushKind, PushRecord>> = {};
    for (const [k, v] of Object.entries(this.#state) as [PushKind, KindState][]) if (v.last) out[k] = v.last;
    return out;
  }

  /** Records an outcome; an accepted version raises the floor and is durable before this resolves. */
  async record(kind: PushKind, rec: PushRecord): Promise<void> {
    const cur = this.#state[kind] ?? { applied: 0, last: null };
    const applied = rec.ok && rec.version !== null ? Math.max(cur.applied, rec.version) : cur.applied;
    this.#state = { ...this.#state, [kind]: { applied, last: rec } };
    if (rec.ok) await this.#store.save({ kind: 'pushes', version: 1, savedAt: Date.parse(rec.at), data: this.#state });
  }
}
