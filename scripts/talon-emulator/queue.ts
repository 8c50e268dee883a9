/**
 * Per-key serialisation, as Talon.One does per session/profile: one request runs, up to two wait
 * (https://docs.talon.one/integration-api, "Rate limiting"); a request arriving while three are in flight is
 * refused (the caller answers 409).
 */
interface Slot { tail: Promise<unknown>; count: number }

export class KeyedQueue {
  private readonly slots = new Map<string, Slot>();
  constructor(private readonly limit = 3) {}

  inFlight(key: string): number {
    return this.slots.get(key)?.count ?? 0;
  }

  /** Runs `fn` after the earlier work for `key`; returns undefined (fn not run) when the key is full. */
  run<T>(key: string, fn: () => T | PromiseLike<T>): Promise<T> | undefined {
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { tail: Promise.resolve(), count: 0 };
      this.slots.set(key, slot);
    }
    if (slot.count >= this.limit) return undefined;
    slot.count++;
    const s = slot;
    const p = s.tail.then(fn);
    s.tail = p.then(
      () => this.release(key, s),
      () => this.release(key, s),
    );
    return p;
  }

  private release(key: string, s: Slot): void {
    s.count--;
    if (s.count === 0 && this.slots.get(key) === s) this.slots.delete(key);
  }

  clear(): void {
    this.slots.clear();
  }
}
