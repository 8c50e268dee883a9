import { randomBytes } from 'node:crypto';
import type { CodeKind } from './classify.js';

/** A scan of a `role: terminal` scanner, as published on `P/terminals/<id>/scans` and streamed to the terminal. */
export interface ScanEvent {
  scannerId: string;
  terminalId: string;
  code: string;
  kind: CodeKind;
  /** ISO time of the scan. */
  at: string;
  /** AIM symbology identifier (`]E0`…) when the port strips it. */
  symbology?: string;
}

/** One open event stream (the SSE route adapts an HTTP response to this). */
export interface ScanSubscriber {
  /** Writes one event; false when the client cannot keep up (its buffer is full): it is then closed. */
  send(id: string, event: ScanEvent): boolean;
  /** A comment line that keeps proxies and the client's idle timers from closing a quiet stream. */
  ping(): boolean;
  close(): void;
}

/** Streams per terminal at once; a further one closes the oldest (a POS reconnecting over a half-dead link). */
export const MAX_STREAMS_PER_TERMINAL = 4;
/** Recent events per terminal kept for a client reconnecting with `Last-Event-ID`. */
export const REPLAY_EVENTS = 32;
const PING_MS = 15_000;

/**
 * Fan-out of scans to the terminals' event streams, with a short replay for a client that reconnects: event
 * ids are `<boot>-<n>` (boot: random per process), so an id from before a restart is recognised as such and
 * nothing is replayed for it rather than the wrong events.
 */
export class ScanHub {
  readonly #boot = randomBytes(4).toString('hex');
  #seq = 0;
  readonly #streams = new Map<string, ScanSubscriber[]>();
  readonly #recent = new Map<string, { seq: number; id: string; event: ScanEvent }[]>();
  #pinger: NodeJS.Timeout | null = null;
  /** Shutting down: a stream opened now is ended at once (an open one would hold the server's drain). */
  #closed = false;

  /** Registers a stream for `terminalId`; replays the events after `lastEventId` first. Returns the unsubscribe. */
  subscribe(terminalId: string, sub: ScanSubscriber, lastEventId?: string): () => void {
    if (this.#closed) {
      sub.close();
      return () => undefined;
    }
    const list = this.#streams.get(terminalId) ?? [];
    while (list.length >= MAX_STREAMS_PER_TERMINAL) list.shift()?.close();
    list.push(sub);
    this.#streams.set(terminalId, list);
    this.#startPings();
    const after = this.#seqOf(lastEventId);
    if (after !== null) {
      for (const r of this.#recent.get(terminalId) ?? []) {
        if (r.seq > after && !sub.send(r.id, r.event)) break;
      }
    }
    return () => this.#remove(terminalId, sub);
  }

  publish(event: ScanEvent): void {
    const seq = ++this.#seq;
    const id = `${this.#boot}-${seq}`;
    const recent = this.#recent.get(event.terminalId) ?? [];
    recent.push({ seq, id, event });
    if (recent.length > REPLAY_EVENTS) recent.shift();
    this.#recent.set(event.terminalId, recent);
    for (const sub of [...(this.#streams.get(event.terminalId) ?? [])]) {
      if (!sub.send(id, event)) {
        this.#remove(event.terminalId, sub);
        sub.close();
      }
    }
  }

  /** Open streams per terminal (for `/status`). */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.#streams].map(([t, l]) => [t, l.length]));
  }

  closeAll(): void {
    this.#closed = true;
    for (const list of this.#streams.values()) for (const s of list) s.close();
    this.#streams.clear();
    if (this.#pinger) clearInterval(this.#pinger);
    this.#pinger = null;
  }

  #remove(terminalId: string, sub: ScanSubscriber): void {
    const list = this.#streams.get(terminalId);
    if (!list) return;
    const i = list.indexOf(sub);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#streams.delete(terminalId);
    if (this.#streams.size === 0 && this.#pinger) {
      clearInterval(this.#pinger);
      this.#pinger = null;
    }
  }

  #startPings(): void {
    if (this.#pinger) return;
    this.#pinger = setInterval(() => {
      for (const [t, list] of this.#streams) {
        for (const s of [...list]) {
          if (!s.ping()) {
            this.#remove(t, s);
            s.close();
          }
        }
      }
    }, PING_MS);
    this.#pinger.unref();
  }

  /**
   * The sequence number a client's `Last-Event-ID` names in this process, or null (none, malformed, or from
   * before a restart: replaying by a number of another process would send the wrong events).
   */
  #seqOf(lastEventId: string | undefined): number | null {
    if (!lastEventId) return null;
    const m = /^([0-9a-f]{8})-(\d{1,15})$/.exec(lastEventId);
    if (!m || m[1] !== this.#boot) return null;
    return Number(m[2]);
  }
}
