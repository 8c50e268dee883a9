/** Counts undelivered records per ordering key, so "does this session still wait for the flush?" is O(1). */
export class KeyCount {
  readonly #counts = new Map<string, number>();

  add(key: string, delta: number): void {
    const n = (this.#counts.get(key) ?? 0) + delta;
    if (n > 0) this.#counts.set(key, n);
    else this.#counts.delete(key);
  }

  has(key: string): boolean {
    return this.#counts.has(key);
  }
}
