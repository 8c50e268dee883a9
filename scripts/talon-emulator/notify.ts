/**
 * Talon.One's outbound notifications (https://docs.talon.one/oas/outbound-notifications.yaml), sent by the emulator: an HTTP POST
 * of the notification body to a URL, with the `X-UUID` header ("The unique message ID. You can use it, for
 * example, to deduplicate messages") and the headers configured for that notification (in the Campaign
 * Manager: a secret header, say).
 *
 * Targets registered with `PUT /_emulator/notifications` get the campaign and evaluation-tree notifications
 * of every change made through `/_emulator/management/*`, as Talon.One sends Application notifications;
 * `POST /_emulator/notify` sends one body (a strikethrough batch, say) to one URL or to the targets of its kind.
 */
import { randomUUID } from 'node:crypto';
import type { MgmtEvent } from './management.js';

export type NotificationKind = 'campaign' | 'tree' | 'strikethrough';

export interface NotificationTarget {
  url: string;
  headers?: Record<string, string>;
  /** Which notifications this target gets (default: all). */
  kinds?: NotificationKind[];
}

export interface SentNotification {
  url: string;
  kind: NotificationKind | 'custom';
  uuid: string;
  /** HTTP status of the answer, or 0 when the target could not be reached. */
  status: number;
  at: number;
  ms: number;
}

export class Notifier {
  #targets: NotificationTarget[] = [];
  readonly sent: SentNotification[] = [];

  setTargets(t: NotificationTarget[]): void {
    this.#targets = t.map((x) => ({ ...x }));
  }

  targets(): NotificationTarget[] {
    return this.#targets.map((x) => ({ ...x }));
  }

  /** Sends the notifications of a management change (one POST per event and target), without waiting. */
  emit(events: MgmtEvent[]): void {
    for (const e of events) {
      const body = e.kind === 'campaign'
        ? { NotificationType: 'CampaignNotification', TotalResultSize: 1, Data: [{ Event: e.event, ...e.item }] }
        : { NotificationType: 'CampaignNotification', TotalResultSize: 1, Data: [e.item] };
      for (const t of this.#targets) {
        if (t.kinds && !t.kinds.includes(e.kind)) continue;
        void this.send(t.url, body, { headers: t.headers ?? {}, kind: e.kind });
      }
    }
  }

  /** To the registered targets of `kind` (strikethrough batches, say). */
  broadcast(kind: NotificationKind, body: unknown, uuid?: string): Promise<SentNotification[]> {
    return Promise.all(this.#targets.filter((t) => !t.kinds || t.kinds.includes(kind)).map((t) => this.send(t.url, body, { headers: t.headers ?? {}, kind, ...(uuid ? { uuid } : {}) })));
  }

  /** One POST; resolves with its outcome (never rejects). */
  async send(url: string, body: unknown, o: { headers?: Record<string, string>; kind?: NotificationKind | 'custom'; uuid?: string } = {}): Promise<SentNotification> {
    const uuid = o.uuid ?? randomUUID();
    const t0 = performance.now();
    let status = 0;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-uuid': uuid, ...(o.headers ?? {}) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      status = res.status;
      await res.arrayBuffer();
    } catch {
      status = 0;
    }
    const s: SentNotification = { url, kind: o.kind ?? 'custom', uuid, status, at: Date.now(), ms: performance.now() - t0 };
    this.sent.push(s);
    if (this.sent.length > 10_000) this.sent.splice(0, 1000);
    return s;
  }
}
