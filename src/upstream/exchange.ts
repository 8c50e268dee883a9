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

/**
 * One HTTP exchange through undici's dispatcher interface, the answer collected into one Buffer.
 * `Pool.request()` wraps every answer in a Readable stream and a body mixin before we read it back into a
 * Buffer; for the small JSON answers of Talon.One that wrapping cost more CPU than parsing the answer. Rejects
 * with the deadline's reason when the deadline passes first (the request is aborted, or never sent if it was
 * still queued), and with undici's error otherwise.
 */
export function exchange(dispatcher: Dispatcher, opts: Dispatcher.DispatchOptions, deadline: DeadlineSignal): Promise<Exchanged> {
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
    const settle = (err: unknown, value?: Exchanged): void => {
      if (settled) return;
      settled = true;
      deadline.removeListener('abort', onDeadline);
      if (value) resolve(value);
      else reject(err);
    };
    const onDeadline = (): void => {
      controller?.abort(deadline.reason as Error);
      settle(deadline.reason);
    };
    deadline.once('abort', onDeadline);

    dispatcher.dispatch(opts, {
      onRequestStart(ctl) {
        controller = ctl;
        if (settled) ctl.abort(deadline.reason as Error);
      },
      onResponseStart(_ctl, statusCode, responseHeaders) {
        status = statusCode;
        headers = responseHeaders;
      },
      onResponseData(_ctl, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        settle(null, {
          status,
          contentType: first(headers['content-type']),
          date: first(headers.date),
          body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
        });
      },
      onResponseError(_ctl, err) {
        settle(err);
      },
    });
  });
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
