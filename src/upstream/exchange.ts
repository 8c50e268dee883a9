import type { Dispatcher } from 'undici';

/** What a call's deadline must offer: undici-style abort state plus one `abort` event. */
export interface DeadlineSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  once(event: 'abort', fn: () => void): unknown;
  removeListener(event: 'abort', fn: () => void): unknown;
}

export interface Exchanged {
  status: number;
  contentType: string | undefined;
  /** The upstream's `Date` header (clock-skew tracking). */
  date: string | undefined;
  body: Buffer;
}

/** How an exchange the caller stopped waiting for ended. */
export type AbandonedEnd =
  | { how: 'answered'; status: number }
  /** undici reported an error: the request failed, its socket closed, or `abort()` was called. */
  | { how: 'failed'; error: unknown };

/**
 * An exchange whose deadline passed after its request had started to go out: the caller has its rejection,
 * but the request may still reach (or already be at) the upstream, which may still execute it.
 */
export interface AbandonedExchange {
  /**
   * Settles (never rejects) when undici reports the exchange over: the whole answer received, or an error
   * (connection reset or closed, `abort()`). Every request undici accepted ends in exactly one of the two.
   */
  readonly finished: Promise<AbandonedEnd>;
  /** Gives up on it: aborts the request, which destroys its socket (`finished` then settles as failed). */
  abort(reason?: Error): void;
}

/**
 * One HTTP exchange through undici's dispatcher interface, the answer collected into one Buffer.
 * `Pool.request()` wraps every answer in a Readable stream and a body mixin before we read it back into a
 * Buffer; for the small JSON answers of Talon.One that wrapping cost more CPU than parsing the answer. Rejects
 * with the deadline's reason when the deadline passes first, and with undici's error otherwise.
 *
 * When the deadline passes, a request still queued in the pool is never sent (it is aborted when it gets a
 * socket, before any byte is written). A request already started is aborted (its socket destroyed) unless
 * `onAbandoned` is given: then it is left to finish and handed to `onAbandoned` (synchronously, before the
 * returned promise rejects), so the caller can tell when the upstream has answered it or it is gone. Aborting
 * would not stop it anyway: bytes already written still reach the upstream, which executes a request it
 * received whole, and the caller could then not know when that happened.
 */
export function exchange(
  dispatcher: Dispatcher,
  opts: Dispatcher.DispatchOptions,
  deadline: DeadlineSignal,
  onAbandoned?: (abandoned: AbandonedExchange) => void,
): Promise<Exchanged> {
  return new Promise<Exchanged>((resolve, reject) => {
    if (deadline.aborted) {
      reject(deadline.reason);
      return;
    }
    let controller: Dispatcher.DispatchController | null = null;
    let settled = false;
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    const chunks: Buffer[] = [];
    /** Set while an abandoned exchange runs on: resolves its `finished`. */
    let ended: ((end: AbandonedEnd) => void) | null = null;
    const settle = (err: unknown, value?: Exchanged): void => {
      if (settled) return;
      settled = true;
      deadline.removeListener('abort', onDeadline);
      if (value) resolve(value);
      else reject(err);
    };
    const onDeadline = (): void => {
      if (controller !== null && onAbandoned !== undefined) {
        const ctl = controller;
        const finished = new Promise<AbandonedEnd>((r) => (ended = r));
        chunks.length = 0; // nobody reads this answer any more
        onAbandoned({ finished, abort: (reason) => ctl.abort(reason ?? new Error('abandoned upstream call given up')) });
      } else {
        controller?.abort(deadline.reason as Error);
      }
      settle(deadline.reason);
    };
    deadline.once('abort', onDeadline);

    dispatcher.dispatch(opts, {
      onRequestStart(ctl) {
        controller = ctl;
        if (settled) ctl.abort(deadline.reason as Error); // never written
      },
      onResponseStart(_ctl, statusCode, responseHeaders) {
        status = statusCode;
        headers = responseHeaders;
      },
      onResponseData(_ctl, chunk) {
        if (ended === null) chunks.push(chunk);
      },
      onResponseEnd() {
        if (ended !== null) {
          ended({ how: 'answered', status });
          return;
        }
        settle(null, {
          status,
          contentType: first(headers['content-type']),
          date: first(headers.date),
          body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
        });
      },
      onResponseError(_ctl, err) {
        if (ended !== null) {
          ended({ how: 'failed', error: err });
          return;
        }
        settle(err);
      },
    });
  });
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
