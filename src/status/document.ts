import type { Config } from '../config/schema.js';
import type { StatusDoc } from '../http/ops-routes.js';
import type { UpstreamClient } from '../upstream/client.js';
import type { Journal } from '../journal/index.js';
import type { LocalData } from '../engine/index.js';
import type { MqttBridge } from '../mqtt/bridge.js';
import type { Flusher } from '../delivery/flusher.js';
import type { AttributeTrimmer } from '../trim/trimmer.js';
import type { AnswerChecker } from '../answers/checker.js';
import type { OverrideAudit } from '../overrides/audit.js';
import type { PushService } from '../pushes/service.js';
import type { AlertBus } from '../alerts/bus.js';
import type { SerialService } from '../serial/service.js';
import type { HttpsFront } from '../tls/server.js';
import type { TerminalActivity } from './activity.js';
import { judge } from './verdict.js';
import { VERSION } from '../version.js';

/**
 * The running parts the status documents read: whatever has started (a part not built yet, or not configured, is
 * null). The gateway hands them over at each call; nothing here keeps state.
 */
export interface StatusParts {
  config: Config;
  now: number;
  startedAt: number;
  mode: string | null;
  configVersion: number;
  pendingRestart: readonly string[];
  upstream: UpstreamClient | null;
  journal: Journal | null;
  deadLetters: number;
  diskReserve: boolean;
  localData: LocalData | null;
  flusher: Flusher | null;
  reconciliation: number;
  edge: { trimmer: AttributeTrimmer; checker: AnswerChecker; overrides: OverrideAudit } | null;
  mqtt: MqttBridge | null;
  pushes: PushService | null;
  alerts: AlertBus | null;
  serial: SerialService | null;
  activity: TerminalActivity | null;
  https: HttpsFront | null;
}

/** The `/status` document (README "Operations API"), with the status page's verdict. Never carries a secret. */
export function statusDocument(p: StatusParts): StatusDoc {
  const { config } = p;
  const up = p.upstream?.health.snapshot();
  const journal = p.journal;
  const j = journal?.stats();
  const cache = p.localData?.status();
  const mq = p.mqtt?.stats();
  const doc: StatusDoc = {
    version: VERSION,
    mode: p.mode ?? config.mode,
    store: config.store.integrationId,
    uptimeSec: Math.round((p.now - p.startedAt) / 1000),
    upstream: up
      ? { configured: true, state: up.state, lastOkAt: up.lastOkAt, latencyMsP50: up.latencyMsP50, latencyMsP95: up.latencyMsP95, lastError: up.lastError }
      : { configured: false, state: 'down', lastOkAt: null, latencyMsP50: null, latencyMsP95: null, lastError: 'no upstream configured' },
    journal: journal && j
      ? {
          depth: j.depth,
          bytes: j.bytes,
          maxBytes: config.journal.maxBytes,
          oldestAgeSec: j.oldestAgeSec,
          dead: p.deadLetters,
          segments: j.segments,
          lastSeq: j.lastSeq,
          diskReserve: p.diskReserve,
          ...journalWrites(journal),
        }
      : null,
    flush: p.flusher?.stats() ?? null,
    cache: cache
      ? {
          rulesVersion: cache.rulesVersion,
          pricesVersion: cache.pricesVersion,
          couponsVersion: cache.couponsVersion,
          loyaltyVersion: cache.loyaltyVersion,
          catalogVersion: cache.catalogVersion,
          collectionsVersion: cache.collectionsVersion,
          updatedAt: cache.updatedAt,
          pricedSkus: cache.pricedSkus,
          coupons: cache.coupons,
          catalogItems: cache.catalogItems,
          collections: cache.collections,
          collectionItems: cache.collectionItems,
          budgetShares: cache.budgetShares,
          campaigns: cache.campaigns,
          fallback: cache.fallback,
        }
      : null,
    reconciliation: p.reconciliation,
    trimAttributes: p.edge?.trimmer.status() ?? null,
    answerChecks: p.edge?.checker.status() ?? null,
    overrides: p.edge?.overrides.status() ?? null,
    config: { version: p.configVersion, pendingRestart: p.pendingRestart },
    mqtt: mq
      ? { configured: true, connected: mq.connected, since: mq.since, reconnects: mq.reconnects, queued: mq.queued, dropped: mq.dropped, protocolVersion: mq.protocolVersion, broker: mq.broker, lastError: mq.lastError }
      : { connected: false, configured: false },
    pushes: p.pushes?.lastPushes() ?? {},
    alerts: p.alerts?.counts() ?? {},
    serial: p.serial?.status() ?? [],
    clockSkewMs: up?.clockSkewMs ?? null,
    terminals: p.activity?.terminals() ?? [],
    tls: p.https?.status() ?? { enabled: false },
    process: processFigures(),
  };
  return { verdict: judge(doc, p.now), ...doc };
}

/**
 * The retained `P/status` payload (README "Head office and MQTT"). Looked at every second and published when it
 * changes: only the versions, not the campaign list that `statusDocument` builds.
 */
export function mqttStatusDocument(p: Pick<StatusParts, 'config' | 'mode' | 'configVersion' | 'upstream' | 'journal' | 'localData'>) {
  const v = p.localData?.versions();
  const j = p.journal?.stats();
  return {
    mode: p.mode ?? p.config.mode,
    upstream: p.upstream ? p.upstream.health.state : 'none',
    journalDepth: j?.depth ?? 0,
    // Whole minutes: an age in seconds would change the retained status, hence publish it, every second of an outage.
    journalOldestAgeSec: j ? Math.floor(j.oldestAgeSec / 60) * 60 : 0,
    version: VERSION,
    configVersion: p.configVersion,
    rulesVersion: v?.rules ?? 0,
    pricesVersion: v?.prices ?? 0,
    couponsVersion: v?.coupons ?? 0,
    loyaltyVersion: v?.loyalty ?? 0,
    catalogVersion: v?.catalog ?? 0,
    collectionsVersion: v?.collections ?? 0,
  };
}

/** Whether sales reach the disk (the status page's red verdict when not). */
function journalWrites(journal: Journal): { writable: boolean; lastWriteError: { code: string; at: string } | null } {
  const w = journal.writeHealth();
  const f = w.lastFailure;
  return { writable: w.writable, lastWriteError: f ? { code: f.code, at: new Date(f.at).toISOString() } : null };
}

/** Memory figures for technicians (MB): a leak shows here long before the OOM killer acts. */
function processFigures(): Record<string, number> {
  const m = process.memoryUsage();
  const mb = (b: number) => Math.round((b / 1048576) * 10) / 10;
  return { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external) };
}
