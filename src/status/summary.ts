/**
 * The public summary behind the status page (`GET /ui/status.json`, no token): the verdict and the figures a
 * technician reads, built field by field from the `/status` document — never by copying a section — so nothing
 * reaches the shop's Wi-Fi that was not chosen here. Left out on purpose: error texts (they can name hosts,
 * addresses or files), device paths, the broker address, terminal ids, campaign names and reasons, push
 * outcomes, config keys; those are in `/status`, which needs the admin token (README "Status page").
 */
import type { HistorySnapshot } from './history.js';
import type { Verdict } from './verdict.js';

type Doc = Record<string, unknown>;

export interface PublicSummary {
  store: string | null;
  version: string | null;
  /** When this summary was made (ISO). */
  at: string;
  uptimeSec: number | null;
  verdict: Verdict;
  mode: string | null;
  upstream: { configured: boolean; state: string | null; latencyMsP50: number | null; latencyMsP95: number | null; lastOkAt: string | null };
  journal: { depth: number; oldestAgeSec: number; bytes: number; maxBytes: number | null; usedPct: number | null; dead: number; writable: boolean } | null;
  flush: { lastFlushAt: string | null; retrying: number; inFlight: number; delivered: number } | null;
  reconciliation: number;
  cache: {
    rulesVersion: number | null;
    pricesVersion: number | null;
    couponsVersion: number | null;
    loyaltyVersion: number | null;
    updatedAt: string | null;
    campaigns: number;
    running: number;
    notOfflineCapable: number;
    pricedSkus: number | null;
    coupons: number | null;
  } | null;
  terminals: { configured: number; seen: number; lastSeenAt: string | null; requests: number };
  scanners: { id: string; role: string | null; open: boolean; since: string | null; lastScanAt: string | null; scans: number; errorCode: string | null }[];
  mqtt: { configured: boolean; connected: boolean; since: string | null; reconnects: number; queued: number };
  clockSkewMs: number | null;
  pendingRestart: number;
  history: HistorySnapshot;
}

const obj = (v: unknown): Doc => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Doc) : {});
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** Error codes only (ENOENT, EACCES, SG_ERR_…): a word, never a message. */
const codeOnly = (v: unknown): string | null => {
  const s = str(v);
  return s !== null && /^[A-Z][A-Z0-9_]{1,40}$/.test(s) ? s : null;
};

export function publicSummary(doc: Doc, verdict: Verdict, history: HistorySnapshot, now: number): PublicSummary {
  const up = obj(doc.upstream);
  const j = doc.journal === null || doc.journal === undefined ? null : obj(doc.journal);
  const f = doc.flush === null || doc.flush === undefined ? null : obj(doc.flush);
  const c = doc.cache === null || doc.cache === undefined ? null : obj(doc.cache);
  const m = obj(doc.mqtt);
  const campaigns = arr(c?.campaigns).map(obj);
  const terminals = arr(doc.terminals).map(obj);
  const lastSeen = terminals.map((t) => str(t.lastSeenAt)).filter((t): t is string => t !== null).sort().at(-1) ?? null;
  const maxBytes = num(j?.maxBytes);
  const bytes = num(j?.bytes) ?? 0;
  return {
    store: str(doc.store),
    version: str(doc.version),
    at: new Date(now).toISOString(),
    uptimeSec: num(doc.uptimeSec),
    verdict,
    mode: str(doc.mode),
    upstream: {
      configured: up.configured !== false,
      state: str(up.state),
      latencyMsP50: num(up.latencyMsP50),
      latencyMsP95: num(up.latencyMsP95),
      lastOkAt: str(up.lastOkAt),
    },
    journal: j && {
      depth: num(j.depth) ?? 0,
      oldestAgeSec: Math.round(num(j.oldestAgeSec) ?? 0),
      bytes,
      maxBytes,
      usedPct: maxBytes ? Math.round((bytes / maxBytes) * 1000) / 10 : null,
      dead: num(j.dead) ?? 0,
      writable: j.writable !== false,
    },
    flush: f && { lastFlushAt: str(f.lastFlushAt), retrying: num(f.retrying) ?? 0, inFlight: num(f.inFlight) ?? 0, delivered: num(f.delivered) ?? 0 },
    reconciliation: num(doc.reconciliation) ?? 0,
    cache: c && {
      rulesVersion: num(c.rulesVersion),
      pricesVersion: num(c.pricesVersion),
      couponsVersion: num(c.couponsVersion),
      loyaltyVersion: num(c.loyaltyVersion),
      updatedAt: str(c.updatedAt),
      campaigns: campaigns.length,
      running: campaigns.filter((x) => x.running !== false).length,
      notOfflineCapable: campaigns.filter((x) => x.running !== false && x.offlineCapable === false).length,
      pricedSkus: num(c.pricedSkus),
      coupons: num(c.coupons),
    },
    terminals: {
      configured: terminals.length,
      seen: terminals.filter((t) => str(t.lastSeenAt) !== null).length,
      lastSeenAt: lastSeen,
      requests: terminals.reduce((n, t) => n + (num(t.requests) ?? 0), 0),
    },
    // Scanner ids are the names a technician finds on the devices' labels; their paths stay behind the token.
    scanners: arr(doc.serial)
      .map(obj)
      .map((p) => ({
        id: str(p.id) ?? '?',
        role: str(p.role),
        open: p.open === true,
        since: str(p.since),
        lastScanAt: str(p.lastScanAt),
        scans: num(p.scans) ?? 0,
        errorCode: codeOnly(obj(p.lastError).code),
      })),
    mqtt: {
      configured: m.configured !== false,
      connected: m.connected === true,
      since: str(m.since),
      reconnects: num(m.reconnects) ?? 0,
      queued: num(m.queued) ?? 0,
    },
    clockSkewMs: num(doc.clockSkewMs),
    pendingRestart: arr(obj(doc.config).pendingRestart).length,
    history,
  };
}
