/**
 * Alerts for head office (`P/alerts`, README "Head office and MQTT"): what a shop cannot fix alone. Producers (the flusher, the
 * upstream health, the watchers, the dead-letter admin) emit; sinks (the log, the MQTT bridge) subscribe. Kinds:
 * `deadLetter`, `deadLetterDiscarded`, `reconciliation`, `diskLow`, `clockSkew`, `upstreamDown`, `upstreamUp`,
 * `scannerGone` (a serial scanner closed longer than its `goneAlertSec`), `scannerBack`, `upstreamAnswerInvalid` (an
 * answer of Talon.One failed its checks: src/answers/), `overrideCap` (a terminal's manual overrides answered
 * locally passed the day's cap: src/overrides/).
 */
export type AlertKind =
  | 'deadLetter'
  | 'deadLetterDiscarded'
  | 'reconciliation'
  | 'diskLow'
  | 'clockSkew'
  | 'upstreamDown'
  | 'upstreamUp'
  | 'scannerGone'
  | 'scannerBack'
  | 'upstreamAnswerInvalid'
  | 'overrideCap';

export interface Alert {
  kind: AlertKind;
  /** ISO time. */
  at: string;
  store: string;
  [k: string]: unknown;
}

export class AlertBus {
  readonly #sinks: ((a: Alert) => void)[] = [];
  readonly #store: string;
  readonly #now: () => number;
  readonly #counts = new Map<string, number>();

  constructor(store: string, now: () => number = Date.now) {
    this.#store = store;
    this.#now = now;
  }

  subscribe(sink: (a: Alert) => void): void {
    this.#sinks.push(sink);
  }

  emit(a: { kind: AlertKind; at?: string; [k: string]: unknown }): void {
    const alert: Alert = { ...a, kind: a.kind, at: a.at ?? new Date(this.#now()).toISOString(), store: this.#store };
    this.#counts.set(a.kind, (this.#counts.get(a.kind) ?? 0) + 1);
    for (const s of this.#sinks) {
      try {
        s(alert);
      } catch {
        // a sink's failure is its own; the other sinks still get the alert
      }
    }
  }

  counts(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}
