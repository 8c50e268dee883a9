/**
 * Messages waiting for the broker. While the connection is down the gateway keeps answering terminals, and
 * what it would have published waits here, bounded:
 * - a message with a `slot` (the retained status, acks) replaces the older one of the same slot: only the
 *   latest state matters;
 * - other messages (alerts, scans) are kept in order up to `limit`; past it the oldest is dropped and
 *   counted, so a week-long broker outage costs bounded memory and the loss is visible in `/status`.
 */
export interface OutMessage {
  topic: string;
  payload: string | Buffer;
  qos: 0 | 1;
  retain: boolean;
  /** Same slot = the newer message replaces the older one. */
  slot?: string;
  /** Counter label for drops (`alert`, `scan`, …). */
  label: string;
}

export class Outbox {
  readonly #limit: number;
  readonly #slots = new Map<string, OutMessage>();
  #fifo: OutMessage[] = [];
  #dropped = new Map<string, number>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#slots.size + this.#fifo.length;
  }

  /** Dropped messages by label, since start. */
  dropped(): Record<string, number> {
    return Object.fromEntries(this.#dropped);
  }

  push(m: OutMessage): void {
    if (m.slot !== undefined) {
      this.#slots.delete(m.slot); // re-insert: slots drain in the order of their latest update
      this.#slots.set(m.slot, m);
      return;
    }
    this.#fifo.push(m);
    if (this.#fifo.length > this.#limit) {
      const gone = this.#fifo.shift() as OutMessage;
      this.#dropped.set(gone.label, (this.#dropped.get(gone.label) ?? 0) + 1);
    }
  }

  /** Everything queued, slots first (the status before the alerts that explain it), and empties the box. */
  drain(): OutMessage[] {
    const out = [...this.#slots.values(), ...this.#fifo];
    this.#slots.clear();
    this.#fifo = [];
    return out;
  }
}
