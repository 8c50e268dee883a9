import { ConfigError, StoregateError } from '../core/errors.js';
import type { Config } from './schema.js';
import type { LoadedConfig } from './load.js';
import { changedPaths, deepMerge, isPlainObject, under } from './merge.js';
import type { DurableFs } from '../platform/durable-fs.js';
import { mergeOverlay, writeOverlay, type ConfigOverlay } from './overlay.js';

/**
 * Keys a running gateway applies at once when a pushed config changes them; every other change waits for a
 * restart and is reported as `restartRequired`. (Listeners, the data dir, the upstream pool, the broker link and
 * serial ports are built once at start.)
 */
export const LIVE_KEYS = [
  'log.level',
  'mode',
  'upstream.timeoutMs',
  'upstream.retry',
  'upstream.trimAttributes',
  'upstream.checkAnswers',
  'terminals',
  'offline',
  'adminToken',
  'trust.publicKeys',
  'journal.diskLowBytes',
  'overrides',
] as const;

/** Keys a push may not set: the overlay itself lives in the data dir. */
const NOT_PUSHABLE = ['dataDir'];

/**
 * Applies a change to the running gateway; returns keys it could not apply live after all (e.g. `mode` when no
 * upstream client exists). Throwing rolls the whole push back.
 */
export type LiveApplier = (next: Readonly<Config>, prev: Readonly<Config>, changed: readonly string[]) => string[] | void;

export interface ConfigApplyResult {
  changed: string[];
  restartRequired: string[];
}

/**
 * The gateway's config while it runs: the file config with head office's pushed overlay. `apply` merges a
 * pushed partial config into the overlay, validates the whole merged config, persists the overlay durably,
 * then applies live keys; if any applier fails, the previous config is applied again and persisted again, so
 * the gateway keeps its last good config.
 */
export class ConfigRuntime {
  readonly #file: LoadedConfig;
  #current: LoadedConfig;
  #overlay: ConfigOverlay | null;
  readonly #appliers: LiveApplier[] = [];
  readonly #pending = new Set<string>();
  readonly #now: () => number;
  readonly #fs: DurableFs | undefined;

  /** `fs`: where the overlay is written (default node:fs). */
  constructor(deps: { file: LoadedConfig; current: LoadedConfig; overlay: ConfigOverlay | null; now?: () => number; fs?: DurableFs }) {
    this.#file = deps.file;
    this.#current = deps.current;
    this.#overlay = deps.overlay;
    this.#now = deps.now ?? Date.now;
    this.#fs = deps.fs;
  }

  get current(): LoadedConfig {
    return this.#current;
  }

  get config(): Readonly<Config> {
    return this.#current.config;
  }

  /** Version of the last applied config push (0: none). */
  get version(): number {
    return this.#overlay?.version ?? 0;
  }

  /** Keys changed by pushes that take effect only after a restart. */
  get pendingRestart(): string[] {
    return [...this.#pending].sort();
  }

  onChange(applier: LiveApplier): void {
    this.#appliers.push(applier);
  }

  async apply(partial: unknown, version: number): Promise<ConfigApplyResult> {
    if (!isPlainObject(partial)) throw new ConfigError('a pushed config must be a JSON object', [{ path: '/config', message: 'expected an object' }]);
    for (const k of NOT_PUSHABLE) {
      if (Object.hasOwn(partial, k)) throw new ConfigError(`"${k}" cannot be pushed`, [{ path: `/config/${k}`, message: `${k} can only be set in the config file` }]);
    }
    const prevOverlay = this.#overlay;
    const merged = deepMerge(prevOverlay?.config ?? {}, partial) as Record<string, unknown>;
    const next = await mergeOverlay(this.#file, merged, version); // throws ConfigError with every path
    const prev = this.#current;
    const changed = changedPaths(prev.config, next.config);
    const overlay: ConfigOverlay = { version, config: merged, appliedAt: new Date(this.#now()).toISOString() };
    await writeOverlay(next.config.dataDir, overlay, this.#fs);

    const live = changed.filter((p) => LIVE_KEYS.some((k) => under(p, k)));
    const restart = new Set(changed.filter((p) => !live.includes(p)));
    if (live.length > 0) {
      try {
        for (const a of this.#appliers) for (const k of a(next.config, prev.config, live) ?? []) restart.add(k);
      } catch (err) {
        for (const a of this.#appliers) {
          try {
            a(prev.config, next.config, live);
          } catch {
            // best effort: the previous config was running a moment ago
          }
        }
        if (prevOverlay) await writeOverlay(next.config.dataDir, prevOverlay, this.#fs);
        else await writeOverlay(next.config.dataDir, { version: 0, config: {}, appliedAt: overlay.appliedAt }, this.#fs);
        throw new StoregateError('SG_ERR_CONFIG_APPLY', `applying the pushed config failed, the previous config is back in force: ${(err as Error).message}`, {
          statusCode: 500,
          cause: err,
        });
      }
    }
    this.#current = next;
    this.#overlay = overlay;
    for (const k of restart) this.#pending.add(k);
    return { changed: [...changed].sort(), restartRequired: [...restart].sort() };
  }
}
