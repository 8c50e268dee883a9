import type { Clock } from '../platform/clock.js';

/** A small binary min-heap of `{at, item}` (the flusher's backoff schedule: next key due first). */
export class MinHeap<T> {
  #a: { at: number; item: T }[] = [];

  get size(): number {
    return this.#a.length;
  }

  peek(): { at: number; item: T } | undefined {
    return this.#a[0];
  }

  push(at: number, item: T): void {
    const a = this.#a;
    a.push({ at, item });
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((a[p] as { at: number }).at <= at) break;
      [a[p], a[i]] = [a[i] as { at: number; item: T }, a[p] as { at: number; item: T }];
      i = p;
    }
  }

  pop(): { at: number; item: T } | undefined {
    const a = this.#a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && (a[l] as { at: number }).at < (a[m] as { at: number }).at) m = l;
        if (r < a.length && (a[r] as { at: number }).at < (a[m] as { at: number }).at) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i] as { at: number; item: T }, a[m] as { at: number; item: T }];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.#a = [];
  }
}

/**
 * The flusher's backoff schedule: items due at a `clock.monotonic()` time, one pending `clock.sleep` for the
 * earliest. `onDue` gets the items whose time has come; entries whose `current(item, at)` is false (the
 * item was rescheduled or released meanwhile) are skipped.
 */
export class DueTimer<T> {
  readonly #heap = new MinHeap<T>();
  readonly #clock: Clock;
  readonly #current: (item: T, at: number) => boolean;
  readonly #onDue: (items: T[]) => void;
  #armed: { at: number; ac: AbortController } | undefined;
  #stopped = false;

  constructor(clock: Clock, current: (item: T, at: number) => boolean, onDue: (items: T[]) => void) {
    this.#clock = clock;
    this.#current = current;
    this.#onDue = onDue;
  }

  schedule(at: number, item: T): void {
    this.#stopped = false;
    this.#heap.push(at, item);
    this.#arm();
  }

  stop(): void {
    this.#stopped = true;
    this.#armed?.ac.abort();
    this.#armed = undefined;
  }

  #arm(): void {
    const top = this.#heap.peek();
    if (!top || this.#stopped) return;
    if (this.#armed && this.#armed.at <= top.at) return;
    this.#armed?.ac.abort();
    const t = { at: top.at, ac: new AbortController() };
    this.#armed = t;
    this.#clock.sleep(Math.max(0, top.at - this.#clock.monotonic()), t.ac.signal).then(
      () => {
        if (this.#armed !== t) return;
        this.#armed = undefined;
        const now = this.#clock.monotonic();
        const due: T[] = [];
        for (let e = this.#heap.peek(); e && e.at <= now; e = this.#heap.peek()) {
          this.#heap.pop();
          if (this.#current(e.item, e.at)) due.push(e.item);
        }
        if (due.length > 0) this.#onDue(due);
        this.#arm();
      },
      () => undefined,
    );
  }
}
