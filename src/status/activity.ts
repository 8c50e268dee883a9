/**
 * Which terminals talk to this gateway, and where their answers come from: fed by every terminal request
 * (HTTP or MQTT RPC, both go through the HTTP app), read by the status page. Bounded by the configured
 * terminals: an id that is not configured (now) is neither kept nor listed.
 */
export type AnswerSource = 'upstream' | 'local' | 'gateway';

export interface TerminalSeen {
  id: string;
  /** ISO time of its last request; null when not seen since the start. */
  lastSeenAt: string | null;
  /** Requests since the start. */
  requests: number;
}

export interface AnswerCounts {
  /** Answered by Talon.One. */
  upstream: number;
  /** Answered here (offline, hybrid, or connected with Talon.One down or slow). */
  local: number;
  /** Refused by storegate itself (bad request, auth, a full journal…). */
  gateway: number;
}

export class TerminalActivity {
  readonly #configured: () => readonly string[];
  readonly #now: () => number;
  readonly #seen = new Map<string, { at: number; requests: number }>();
  readonly #answers: AnswerCounts = { upstream: 0, local: 0, gateway: 0 };

  /** `configured` is asked each time: a pushed config can add or remove terminals. */
  constructor(deps: { configured: () => readonly string[]; now: () => number }) {
    this.#configured = deps.configured;
    this.#now = deps.now;
  }

  /** One answered terminal request. Only configured terminals are counted. */
  record(terminalId: string, source: AnswerSource): void {
    let s = this.#seen.get(terminalId);
    if (!s) {
      if (!this.#configured().includes(terminalId)) return;
      s = { at: 0, requests: 0 };
      this.#seen.set(terminalId, s);
    }
    s.at = this.#now();
    s.requests++;
    this.#answers[source]++;
  }

  /** Every configured terminal, seen or not, in config order. Terminals no longer configured are forgotten. */
  terminals(): TerminalSeen[] {
    const ids = this.#configured();
    for (const id of this.#seen.keys()) if (!ids.includes(id)) this.#seen.delete(id);
    return ids.map((id) => {
      const s = this.#seen.get(id);
      return { id, lastSeenAt: s ? new Date(s.at).toISOString() : null, requests: s?.requests ?? 0 };
    });
  }

  /** Answers since the start, by source (cumulative: the history takes differences). */
  answers(): AnswerCounts {
    return { ...this.#answers };
  }
}
