import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The gateway's Prometheus metrics. One registry per gateway instance (not prom-client's global one), so
 * tests can run several gateways in one process and read each one's figures.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'storegate_http_requests_total',
    help: 'Terminal and operations requests, by route, answer source and status.',
    labelNames: ['route', 'source', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'storegate_http_request_duration_seconds',
    help: 'Time from request received to response sent, by route, source and status.',
    labelNames: ['route', 'source', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly upstreamDuration = new Histogram({
    name: 'storegate_upstream_request_duration_seconds',
    help: 'Upstream (Talon.One) call latency per attempt, by operation and status (or error kind).',
    labelNames: ['op', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly upstreamRetries = new Counter({
    name: 'storegate_upstream_retries_total',
    help: 'Upstream retries, by operation and the reason for the retry.',
    labelNames: ['op', 'reason'] as const,
    registers: [this.registry],
  });

  readonly upstreamErrors = new Counter({
    name: 'storegate_upstream_errors_total',
    help: 'Upstream calls that failed without a usable answer, by kind (timeout, connect, reset, http_5xx, …).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly upstreamState = new Gauge({
    name: 'storegate_upstream_up',
    help: 'Upstream health: 1 up, 0.5 degraded, 0 down.',
    registers: [this.registry],
  });

  readonly upstreamAbandonedInFlight = new Gauge({
    name: 'storegate_upstream_abandoned_inflight',
    help: 'Terminal calls that missed their deadline (answered locally) whose request may still reach Talon.One; their sessions and profiles are held until they end.',
    registers: [this.registry],
  });

  readonly upstreamAbandoned = new Counter({
    name: 'storegate_upstream_abandoned_total',
    help: 'Terminal calls that missed their deadline with the request out, by how they ended: answered, failed (connection error or closed), or cap (given up after the safety cap).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  // --- journal flusher (README "Durability and the journal") ---
  readonly flushDelivered = new Counter({
    name: 'storegate_flush_delivered_total',
    help: 'Journal records delivered upstream by the flusher (coalesced records count each), by record kind and how.',
    labelNames: ['kind', 'how'] as const,
    registers: [this.registry],
  });

  readonly flushDeadLetters = new Counter({
    name: 'storegate_flush_dead_letters_total',
    help: 'Journal records moved to the dead letters (upstream 4xx other than 409/429), by record kind and status.',
    labelNames: ['kind', 'status'] as const,
    registers: [this.registry],
  });

  readonly flushRetries = new Counter({
    name: 'storegate_flush_retries_total',
    help: 'Flusher sends to be retried later with backoff, by reason (http_409, http_429, http_5xx, timeout, connect, …).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly flushInFlight = new Gauge({
    name: 'storegate_flush_in_flight',
    help: 'Flusher requests in flight (at most one per session/profile key).',
    registers: [this.registry],
  });

  readonly reconciliations = new Counter({
    name: 'storegate_reconciliation_entries_total',
    help: 'Differences between local answers and the upstream answer on flush, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  // --- MQTT: read from the bridge when scraped ---
  /** Set by the gateway when a broker is configured. */
  mqttStats: (() => { connected: boolean; reconnects: number; queued: number; dropped: Record<string, number> }) | null = null;

  readonly mqttConnected = new Gauge({
    name: 'storegate_mqtt_connected',
    help: 'Broker connection: 1 connected, 0 not (absent when no broker is configured).',
    registers: [this.registry],
    collect: () => {
      const st = this.mqttStats?.();
      if (st) this.mqttConnected.set(st.connected ? 1 : 0);
    },
  });

  readonly mqttReconnects = new Gauge({
    name: 'storegate_mqtt_reconnects',
    help: 'Reconnects to the broker since start.',
    registers: [this.registry],
    collect: () => {
      const st = this.mqttStats?.();
      if (st) this.mqttReconnects.set(st.reconnects);
    },
  });

  readonly mqttQueued = new Gauge({
    name: 'storegate_mqtt_queued_messages',
    help: 'Messages waiting for the broker (status, acks, alerts, scans).',
    registers: [this.registry],
    collect: () => {
      const st = this.mqttStats?.();
      if (st) this.mqttQueued.set(st.queued);
    },
  });

  readonly mqttDropped = new Gauge({
    name: 'storegate_mqtt_dropped_messages',
    help: 'Messages dropped since start because the broker was away too long (the bounded queue was full), by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
    collect: () => {
      const st = this.mqttStats?.();
      if (st) for (const [kind, n] of Object.entries(st.dropped)) this.mqttDropped.set({ kind }, n);
    },
  });

  readonly pushes = new Counter({
    name: 'storegate_pushes_total',
    help: "Head office's pushes, by kind, channel (mqtt, http) and outcome (applied, refused, duplicate).",
    labelNames: ['kind', 'via', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly pushVersion = new Gauge({
    name: 'storegate_push_applied_version',
    help: 'Version of the last applied push, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly rpcRequests = new Counter({
    name: 'storegate_rpc_requests_total',
    help: 'Terminal RPC calls over MQTT, by method and answer status.',
    labelNames: ['method', 'status'] as const,
    registers: [this.registry],
  });

  readonly rpcDuration = new Histogram({
    name: 'storegate_rpc_duration_seconds',
    help: 'Time from an RPC request received to its answer handed to the broker, by method.',
    labelNames: ['method'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly alerts = new Counter({
    name: 'storegate_alerts_total',
    help: 'Alerts raised (sent to P/alerts when a broker is configured), by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  // --- serial scanners (README "Serial scanners") ---
  readonly serialScans = new Counter({
    name: 'storegate_serial_scans_total',
    help: 'Codes read from serial scanners and forwarded, by scanner and kind (coupon, loyaltyCard, item, unknown).',
    labelNames: ['scanner', 'kind'] as const,
    registers: [this.registry],
  });

  readonly serialDropped = new Counter({
    name: 'storegate_serial_dropped_lines_total',
    help: 'Lines read from serial scanners and dropped, never forwarded, by scanner and reason (too_long, incomplete, garbage, control_chars, empty).',
    labelNames: ['scanner', 'reason'] as const,
    registers: [this.registry],
  });

  readonly serialPriceChecks = new Counter({
    name: 'storegate_serial_price_checks_total',
    help: 'Price checks answered, by scanner and outcome (found, not_found).',
    labelNames: ['scanner', 'outcome'] as const,
    registers: [this.registry],
  });

  serialStats: (() => readonly { id: string; open: boolean; reopenCount: number }[]) | null = null;

  readonly serialOpen = new Gauge({
    name: 'storegate_serial_port_open',
    help: 'Serial scanner ports: 1 open, 0 closed (unplugged or failing to open), by scanner.',
    labelNames: ['scanner'] as const,
    registers: [this.registry],
    collect: () => {
      for (const p of this.serialStats?.() ?? []) this.serialOpen.set({ scanner: p.id }, p.open ? 1 : 0);
    },
  });

  readonly serialReopens = new Gauge({
    name: 'storegate_serial_port_reopens',
    help: 'Serial scanner ports reopened since start (each replug or recovered failure), by scanner.',
    labelNames: ['scanner'] as const,
    registers: [this.registry],
    collect: () => {
      for (const p of this.serialStats?.() ?? []) this.serialReopens.set({ scanner: p.id }, p.reopenCount);
    },
  });

  readonly memoryTrimPause = new Histogram({
    name: 'storegate_memory_trim_pause_seconds',
    help: 'Memory trims (V8 last-resort collections after a busy spell, Node.js 24 only) and the event-loop pause of each.',
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  #processMetrics = false;

  /** `defaultMetrics: false`: Node's process metrics only once {@link collectProcessMetrics} is called, if ever. */
  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) this.collectProcessMetrics();
  }

  /** Registers Node's default process metrics (CPU, memory, heap spaces, event-loop lag, GC) once. */
  collectProcessMetrics(): void {
    if (this.#processMetrics) return;
    this.#processMetrics = true;
    collectDefaultMetrics({ register: this.registry, prefix: 'storegate_' });
  }
}
