/**
 * Head office's Prometheus metrics (`GET /metrics`): per-shop gauges read from the fleet view at scrape time
 * (so they never go stale), and counters of what head office did (Management API requests by endpoint and
 * outcome, pushes and bytes published, notifications received).
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { ShopView } from './fleet.js';

export class HeadOfficeMetrics {
  readonly registry = new Registry();
  #shops: () => ShopView[] = () => [];
  #pull: () => Record<string, { requests: number; rateLimited: number; errors: number }> = () => ({});

  readonly pushes = new Counter({ name: 'storegate_headoffice_pushes_total', help: 'Signed pushes published, by kind and target scope (store or fleet).', labelNames: ['kind', 'scope'] as const, registers: [this.registry] });
  readonly pushBytes = new Counter({ name: 'storegate_headoffice_push_bytes_total', help: 'Bytes of signed pushes published, by kind.', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly notifications = new Counter({ name: 'storegate_headoffice_notifications_total', help: 'Notifications received, by kind and outcome (accepted, duplicate, refused).', labelNames: ['kind', 'outcome'] as const, registers: [this.registry] });
  readonly repairs = new Counter({ name: 'storegate_headoffice_repairs_total', help: 'Whole sets sent again to a shop that applied a push without the one before it, by kind.', labelNames: ['kind'] as const, registers: [this.registry] });

  constructor() {
    const self = this;
    const perShop = (name: string, help: string, value: (s: ShopView) => number | null, extra: string[] = []) =>
      new Gauge({
        name,
        help,
        labelNames: ['store', ...extra],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const s of self.#shops()) {
            const v = value(s);
            if (v !== null) this.set({ store: s.store }, v);
          }
        },
      });
    perShop('storegate_headoffice_shop_online', 'The shop is connected (1), gone (0).', (s) => (s.online === null ? null : s.online ? 1 : 0));
    perShop('storegate_headoffice_shop_journal_depth', 'Journal records the shop has not delivered to Talon.One yet.', (s) => s.journalDepth);
    perShop('storegate_headoffice_shop_oldest_undelivered_seconds', 'Age of the oldest undelivered journal record, when the shop reports it.', (s) => s.oldestUndeliveredAgeSec);
    perShop('storegate_headoffice_shop_last_seen_seconds', 'Seconds since the shop last published its status.', (s) => (s.lastSeen ? Math.max(0, (Date.now() - Date.parse(s.lastSeen)) / 1000) : null));
    perShop('storegate_headoffice_shop_lagging', '1 when the shop has not applied the latest push of some kind within fleet.lagAfterSec.', (s) => (s.lagging ? 1 : 0));
    perShop('storegate_headoffice_shop_refusing', '1 when the shop refused its last push of some kind.', (s) => (s.refusing ? 1 : 0));
    new Gauge({
      name: 'storegate_headoffice_shop_behind',
      help: 'Per shop and kind: 1 when the version applied is below the latest pushed.',
      labelNames: ['store', 'kind'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of self.#shops()) for (const k of ['rules', 'coupons', 'loyalty', 'prices', 'collections'] as const) if (s.latest[k] !== null) this.set({ store: s.store, kind: k }, s.behind.includes(k) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'storegate_headoffice_shop_applied_version',
      help: 'Per shop and kind: the version applied.',
      labelNames: ['store', 'kind'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of self.#shops()) for (const [k, v] of Object.entries(s.applied)) if (v !== null) this.set({ store: s.store, kind: k }, v);
      },
    });
    new Gauge({
      name: 'storegate_headoffice_management_requests',
      help: 'Management API requests since start, by endpoint (and 429s, failures).',
      labelNames: ['endpoint', 'outcome'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [e, s] of Object.entries(self.#pull())) {
          this.set({ endpoint: e, outcome: 'sent' }, s.requests);
          this.set({ endpoint: e, outcome: 'rate_limited' }, s.rateLimited);
          this.set({ endpoint: e, outcome: 'failed' }, s.errors);
        }
      },
    });
  }

  bind(shops: () => ShopView[], pull: () => Record<string, { requests: number; rateLimited: number; errors: number }>): void {
    this.#shops = shops;
    this.#pull = pull;
  }
}
