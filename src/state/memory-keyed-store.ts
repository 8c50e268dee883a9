import type { KeyedStore, KeyedStoreStats } from './keyed.js';

/** The same contract in memory (unit tests that need no files). */
export class MemoryKeyedStore<V> implements KeyedStore<V> {
  readonly #map = new Map<string, { text: string; seq: number; at: number }>();
  #hw = 0;

  get size(): number {
    return this.#map.size;
  }

  get hw(): number {
    return this.#hw;
  }

  async start(): Promise<void> {}

  get(key: string): V | undefined {
    const e = this.#map.get(key);
    return e ? (JSON.parse(e.text) as V) : undefined;
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  meta(key: string): { seq: number; at: number } | undefined {
    const e = this.#map.get(key);
    return e ? { seq: e.seq, at: e.at } : undefined;
  }

  put(key: string, value: V, seq: number, at: number): void {
    this.#map.delete(key);
    this.#map.set(key, { text: JSON.stringify(value), seq, at });
    this.#hw = Math.max(this.#hw, seq);
  }

  delete(key: string, seq: number): void {
    this.#map.delete(key);
    this.#hw = Math.max(this.#hw, seq);
  }

  keys(): IterableIterator<string> {
    return this.#map.keys();
  }

  mark(seq: number): void {
    this.#hw = Math.max(this.#hw, seq);
  }

  async sync(): Promise<void> {}

  async maintain(): Promise<void> {}

  async stop(): Promise<void> {}

  stats(): KeyedStoreStats {
    return { entries: this.#map.size, cached: 0, fileBytes: 0, liveBytes: 0 };
  }
}
