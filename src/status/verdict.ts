/**
 * The shop's verdict for a technician: is this shop OK, and if not, what to do. One pure function of the
 * `/status` document (README "Operations API") and the time, so the page, `/status` and the tests agree, and
 * every rule is a row of a table test. Red: sales are at risk now (a till gets errors, or journaled sales
 * cannot reach Talon.One); amber: something needs a look but tills are served; green: nothing to do.
 * The texts never carry a secret or a file path: they are shown on the public page.
 */
import { CLOCK_SKEW_ALERT_MS } from '../alerts/watch.js';
import { formatCount } from '../core/count.js';

export type Level = 'green' | 'amber' | 'red';

export interface Reason {
  level: 'amber' | 'red';
  /** Stable id of the rule (tests, and a page that wants to link help). */
  code: string;
  /** What is wrong, in one short sentence. */
  text: string;
  /** What the technician does about it. */
  action: string;
}

export interface Verdict {
  level: Level;
  headline: string;
  /** Red reasons first, then amber; empty when green. */
  reasons: Reason[];
}

/** The limits the rules use (README "Status page"). */
export const VERDICT_LIMITS = {
  /** Journal use (bytes of `journal.maxBytes`) that is amber, and red: at 100 % tills get errors. */
  journalAmberRatio: 0.7,
  journalRedRatio: 0.9,
  /** Upstream down this long with at least `deepJournal` sales waiting is red (shorter or shallower: amber). */
  upstreamDownRedSec: 30 * 60,
  deepJournal: 100,
  /** Talon.One up but the oldest sale still undelivered after this long: delivery is stuck. */
  deliveryBehindSec: 10 * 60,
  /** Beyond this, offline validity windows and coupon expiry drift (same limit as the `clockSkew` alert). */
  clockSkewMs: CLOCK_SKEW_ALERT_MS,
  /** Local rules and prices not updated for this long are amber. */
  cacheOldSec: 7 * 24 * 3600,
} as const;

type Doc = Record<string, unknown>;

const obj = (v: unknown): Doc | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Doc) : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const plural = (n: number, one: string, many = `${one}s`) => `${formatCount(n)} ${n === 1 ? one : many}`;

/** "40 s", "12 min", "3 h 5 min", "2 days": how long, for a person. */
export function duration(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)} h${s % 3600 >= 60 ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
  return `${Math.floor(s / 86400)} days`;
}

/** Seconds since an ISO time, or null when absent or unreadable. */
function ageSec(iso: unknown, now: number): number | null {
  const s = str(iso);
  if (s === null) return null;
  const t = Date.parse(s);
  return Number.isFinite(t) ? Math.max(0, (now - t) / 1000) : null;
}

const HEADLINES: Record<Level, string> = {
  green: 'All good: nothing to do',
  amber: 'Needs a look: tills are served',
  red: 'Action needed',
};

/** The verdict of a `/status` document at `now` (ms). A section missing from the document is not judged. */
export function judge(doc: Doc, now: number): Verdict {
  const reasons: Reason[] = [
    ...journalRules(obj(doc.journal)),
    ...upstreamRules(doc, now),
    ...clockRules(doc),
    ...mqttRules(obj(doc.mqtt), now),
    ...serialRules(arr(doc.serial)),
    ...cacheRules(obj(doc.cache), now),
    ...configRules(obj(doc.config)),
  ];
  // Stable: within a level, the order above (most urgent part first).
  reasons.sort((a, b) => (a.level === b.level ? 0 : a.level === 'red' ? -1 : 1));
  const level: Level = reasons.some((r) => r.level === 'red') ? 'red' : reasons.length > 0 ? 'amber' : 'green';
  return { level, headline: HEADLINES[level], reasons };
}

function journalRules(j: Doc | null): Reason[] {
  if (!j) return [];
  const out: Reason[] = [];
  if (j.writable === false) {
    const code = str(obj(j.lastWriteError)?.code);
    out.push(
      code === 'SG_ERR_DISK_FULL'
        ? {
            level: 'red',
            code: 'journal.diskFull',
            text: 'The disk is full: sales cannot be recorded, tills get errors instead of offline answers.',
            action: 'Free space on the mini-PC\'s disk (sudo df -h shows it; old logs: sudo journalctl --vacuum-size=100M). Answers resume by themselves once there is room.',
          }
        : {
            level: 'red',
            code: 'journal.notWritable',
            text: 'Sales cannot be written to the journal (a disk error): tills get errors instead of offline answers.',
            action: 'Restart storegate (sudo systemctl restart storegate). If it comes back, the disk may be failing: look at sudo dmesg and replace it.',
          },
    );
  }
  const bytes = num(j.bytes);
  const max = num(j.maxBytes);
  if (bytes !== null && max !== null && max > 0) {
    const ratio = bytes / max;
    if (ratio >= VERDICT_LIMITS.journalAmberRatio) {
      out.push({
        level: ratio >= VERDICT_LIMITS.journalRedRatio ? 'red' : 'amber',
        code: 'journal.nearFull',
        text: `The journal is ${Math.floor(ratio * 100)} % full: at 100 % tills get errors instead of offline answers.`,
        action: 'It empties as Talon.One takes the sales: get the internet link back. If Talon.One is reachable, unlock below and press Flush now.',
      });
    }
  }
  const dead = num(j.dead) ?? 0;
  if (dead > 0) {
    out.push({
      level: 'red',
      code: 'journal.deadLetters',
      text: `Talon.One refused ${plural(dead, 'sale')} (dead letters): ${dead === 1 ? 'it is' : 'they are'} not in Talon.One.`,
      action: 'Unlock the technician actions below to see why each was refused; fix the cause, then press Retry dead letters (or discard one with storegate journal discard).',
    });
  }
  return out;
}

function upstreamRules(doc: Doc, now: number): Reason[] {
  const up = obj(doc.upstream);
  if (!up) return [];
  if (up.configured === false) {
    return [
      {
        level: 'amber',
        code: 'upstream.notConfigured',
        text: 'No Talon.One connection is configured: sales are answered here and stay in the journal.',
        action: 'Set upstream.baseUrl and upstream.apiKeyFile in the config (README "Configuration"), then restart storegate.',
      },
    ];
  }
  const j = obj(doc.journal);
  const depth = num(j?.depth) ?? 0;
  const state = str(up.state);
  if (state === 'down') {
    // Down since the last good call, or since the start when there was none.
    const downSec = ageSec(up.lastOkAt, now) ?? num(doc.uptimeSec) ?? 0;
    const long = downSec >= VERDICT_LIMITS.upstreamDownRedSec && depth >= VERDICT_LIMITS.deepJournal;
    return [
      {
        level: long ? 'red' : 'amber',
        code: long ? 'upstream.downLong' : 'upstream.down',
        text: `Talon.One has been unreachable for ${duration(downSec)}; ${plural(depth, 'sale')} wait${depth === 1 ? 's' : ''} in the journal. Tills are answered offline.`,
        action: 'Check the shop\'s internet link (router, cables, provider). The sales are kept and sent by themselves once Talon.One is back.',
      },
    ];
  }
  const out: Reason[] = [];
  if (state === 'degraded') {
    const p95 = num(up.latencyMsP95);
    out.push({
      level: 'amber',
      code: 'upstream.degraded',
      text: `Talon.One is slow or failing${p95 !== null ? ` (95 % of calls within ${Math.round(p95)} ms)` : ''}; tills are still served.`,
      action: 'If it lasts, check the internet link\'s speed and whether other traffic fills it.',
    });
  }
  const oldest = num(j?.oldestAgeSec) ?? 0;
  if (depth > 0 && oldest >= VERDICT_LIMITS.deliveryBehindSec) {
    out.push({
      level: 'amber',
      code: 'journal.behind',
      text: `Talon.One is reachable but the oldest waiting sale is ${duration(oldest)} old.`,
      action: 'Delivery retries by itself. Unlock below to see the last delivery error, and press Flush now once it is fixed.',
    });
  }
  return out;
}

function clockRules(doc: Doc): Reason[] {
  const skew = num(doc.clockSkewMs);
  if (skew === null || Math.abs(skew) <= VERDICT_LIMITS.clockSkewMs) return [];
  return [
    {
      level: 'red',
      code: 'clock.skew',
      text: `This computer's clock is ${duration(Math.abs(skew) / 1000)} ${skew > 0 ? 'behind' : 'ahead of'} Talon.One's: promotion hours and coupon expiry are judged wrongly offline.`,
      action: 'Turn on time sync (sudo timedatectl set-ntp true) and check that NTP (UDP port 123) can leave the shop network.',
    },
  ];
}

function mqttRules(m: Doc | null, now: number): Reason[] {
  if (!m || m.configured === false || m.connected !== false) return [];
  const since = ageSec(m.since, now);
  return [
    {
      level: 'amber',
      code: 'mqtt.disconnected',
      text: `Not connected to head office's broker${since !== null ? ` for ${duration(since)}` : ''}: new rules and prices do not arrive. Tills are not affected.`,
      action: 'Check that the mini-PC reaches the broker over the network; it reconnects by itself.',
    },
  ];
}

function serialRules(ports: unknown[]): Reason[] {
  const out: Reason[] = [];
  for (const p of ports.map(obj)) {
    if (!p || p.open !== false) continue;
    const id = str(p.id) ?? 'a scanner';
    const code = str(obj(p.lastError)?.code);
    out.push({
      level: 'amber',
      code: 'serial.gone',
      text: `Scanner ${id} is not connected${code === 'EACCES' ? ' (permission denied)' : ''}.`,
      action:
        code === 'EACCES'
          ? 'storegate may not open the port: its user must be in the dialout group (README "Serial scanners"), then restart storegate.'
          : 'Check its USB cable and plug it in again; it is picked up within seconds.',
    });
  }
  return out;
}

function cacheRules(c: Doc | null, now: number): Reason[] {
  if (!c) return [];
  const out: Reason[] = [];
  const campaigns = arr(c.campaigns).map(obj).filter((x): x is Doc => x !== null);
  if (campaigns.length === 0) {
    out.push({
      level: 'amber',
      code: 'cache.empty',
      text: 'No campaign rules are loaded: offline answers give no discounts.',
      action: 'Ask head office to push this shop\'s rules (storegate push rules), or set dataFiles.rules in the config.',
    });
  } else {
    const age = ageSec(c.updatedAt, now);
    if (age !== null && age >= VERDICT_LIMITS.cacheOldSec) {
      out.push({
        level: 'amber',
        code: 'cache.old',
        text: `Local rules and prices were last updated ${duration(age)} ago.`,
        action: 'Check that head office\'s pushes reach this shop (broker connected; unlock below for the last push outcome).',
      });
    }
  }
  const notOffline = campaigns.filter((x) => x.running !== false && x.offlineCapable === false).length;
  if (notOffline > 0) {
    out.push({
      level: 'amber',
      code: 'cache.notOfflineCapable',
      text: `${plural(notOffline, 'running campaign')} cannot be applied offline: without Talon.One, tills get no discount from ${notOffline === 1 ? 'it' : 'them'}.`,
      action: 'Unlock below to see which and why; head office can simplify them. Nothing to fix in the shop.',
    });
  }
  return out;
}

function configRules(c: Doc | null): Reason[] {
  const pending = arr(c?.pendingRestart).length;
  if (pending === 0) return [];
  return [
    {
      level: 'amber',
      code: 'config.pendingRestart',
      text: `A config change from head office waits for a restart (${plural(pending, 'setting')}).`,
      action: 'Restart storegate at a quiet moment (sudo systemctl restart storegate): it takes a few seconds.',
    },
  ];
}
