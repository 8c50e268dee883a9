/** The soak benchmark's figures (bench/soak.ts measures them): the data dir's size, the gateway's log, the tables. */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { printTable, verdict, type Cell } from './report.js';

const MiB = 1024 * 1024;
/** Issue 10's target, in MB of 10^6 bytes (the figures are printed in MiB; 120 MB is 114.4 MiB). */
const RSS_TARGET_MB = 120;
const toMB = (mib: number) => (mib * MiB) / 1e6;

export interface Row {
  label: string;
  sim: string;
  sessions: number;
  /** The gateway's VmRSS, MiB. */
  rss: number;
  /** Its highest 200 ms sample since the row before, MiB. */
  peak: number;
  heap: number;
  heapTotal: number;
  external: number;
  /** The driver's own VmRSS (for information), MiB. */
  driver: number;
  data: number;
  parts: Record<string, number>;
  sizes: Record<string, number>;
}

export interface Drain {
  day: number;
  ms: number;
  left: number;
}

/** The gateway's RSS samples (MiB) taken while the week was in one phase. */
export interface PhaseStats {
  samples: number[];
  max: number;
}

/** Sum of allocated bytes under `dir` (what `du` counts), and by top-level name. */
export async function dirSize(dir: string): Promise<{ total: number; parts: Record<string, number> }> {
  const parts: Record<string, number> = {};
  let total = 0;
  const walk = async (d: string, top: string | null): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(d, name);
      let st;
      try {
        st = await stat(p);
      } catch {
        continue; // removed meanwhile (a delivered segment, a compacted log)
      }
      const key = top ?? name;
      if (st.isDirectory()) await walk(p, top ?? name);
      else {
        const bytes = st.blocks * 512;
        total += bytes;
        parts[key] = (parts[key] ?? 0) + bytes;
      }
    }
  };
  await walk(dir, null);
  return { total, parts };
}

/** The gateway's log (stdout, written to a file): its size and the first warnings and errors. */
export async function logSummary(file: string): Promise<{ bytes: number; warnings: string[]; count: number }> {
  const { size } = await stat(file);
  const warnings: string[] = [];
  let count = 0;
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.includes('"level":40') || line.includes('"level":50') || line.includes('"level":60')) {
      count++;
      if (warnings.length < 20) warnings.push(line.slice(0, 400));
    }
  }
  return { bytes: size, warnings, count };
}

export function printSoakReport(r: {
  title: string;
  days: number;
  rows: Row[];
  drains: Drain[];
  phases: Map<string, PhaseStats>;
  statuses: Map<string, number>;
  maxRss: number;
  hwm: number;
  driverPeak: number;
  /** The daemon bundle idle on the same config: VmRSS and VmHWM (its start's peak), MiB. */
  daemonIdle: { rss: number; peak: number };
  /** The soak gateway's VmHWM at the end of its start, MiB; `hwmReset`: VmHWM was reset then (clear_refs). */
  startPeak: number;
  hwmReset: boolean;
  log: { bytes: number; warnings: string[]; count: number };
}): void {
  const mb = (v: number) => Math.round(v * 10) / 10;
  const { rows } = r;
  printTable(
    r.title,
    ['point', 'simulated', 'sessions', 'gateway RSS MiB', 'peak since row before', 'heap used MiB', 'heap total MiB', 'external MiB', 'data dir MiB', 'journal MiB', 'state MiB', 'journal depth', 'driver RSS MiB'],
    rows.map((x): Cell[] => [x.label, x.sim, x.sessions, mb(x.rss), mb(x.peak), mb(x.heap), mb(x.heapTotal), mb(x.external), mb(x.data), mb((x.parts.journal ?? 0) / MiB), mb((x.parts.state ?? 0) / MiB), x.sizes.journalDepth ?? 0, mb(x.driver)]),
  );
  const first = rows[0] as Row;
  console.log(
    `baseline (same run): the daemon bundle (storegate run) idle on the same config, 2 s after start: ${mb(r.daemonIdle.rss)} MiB (its start peaked at ${mb(r.daemonIdle.peak)}); ` +
      `the soak's gateway process at the same point: ${mb(first.rss)} MiB (its start peaked at ${mb(r.startPeak)}${r.hwmReset ? ', VmHWM reset then' : ', VmHWM could not be reset: the week\'s VmHWM includes it'})`,
  );
  const keys = ['sessions', 'sessionsCached', 'profiles', 'profilesCached', 'followed', 'ledgerUses', 'ledgerHolds', 'loyaltySpending', 'replayCache', 'reconciliation', 'deadLetters'];
  printTable('what the state keeps (entries; sessions, profiles and replay answers are indexed in memory and kept on disk, the *Cached ones parsed in memory)', ['point', ...keys], rows.map((x): Cell[] => [x.label, ...keys.map((k) => x.sizes[k] ?? 0)]));
  printTable(
    "the gateway's RSS by phase of the week (200 ms samples)",
    ['phase', 'samples', 'median MiB', 'p95 MiB', 'max MiB'],
    [...r.phases].map(([name, p]): Cell[] => {
      const s = [...p.samples].sort((a, b) => a - b);
      const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
      return [name, s.length, mb(at(0.5)), mb(at(0.95)), mb(p.max)];
    }),
  );
  printTable('night drains (Talon.One reachable, terminals idle)', ['day', 'drain s', 'records left'], r.drains.map((d): Cell[] => [d.day, Math.round(d.ms / 100) / 10, d.left]));
  printTable('calls (op, answer source, HTTP status)', ['call', 'count'], [...r.statuses].sort().map(([k, v]): Cell[] => [k, v]));

  const last = rows[rows.length - 1] as Row;
  const mid = rows.find((x) => x.label === 'middle') ?? last;
  const fourth = rows.find((x) => x.label === `night ${Math.min(r.days, 4)}`) ?? mid;
  // What the retention bounds: everything but the journal (sessions, profiles, replay answers, ledger, logs, the
  // disk reserve) must stop growing once the oldest days are dropped. The journal is bounded by what is still
  // undelivered plus the active segment (64 MiB), whatever the number of sessions.
  const stateOf = (x: Row) => x.data - (x.parts.journal ?? 0) / MiB;
  const grows = stateOf(last) > stateOf(fourth) * 1.25 + 8;
  const journalMax = Math.max(...rows.map((x) => (x.parts.journal ?? 0) / MiB));
  const top = Math.max(r.maxRss, r.hwm);
  printTable('targets', ['target', 'measured', 'verdict'], [
    [
      `gateway RSS ≤ ${RSS_TARGET_MB} MB (${mb((RSS_TARGET_MB * 1e6) / MiB)} MiB) throughout (VmRSS every 200 ms, and VmHWM)`,
      `max ${mb(r.maxRss)} MiB sampled, VmHWM ${mb(r.hwm)} MiB = ${mb(toMB(top))} MB (middle ${mb(mid.rss)}, end ${mb(last.rss)} MiB)`,
      verdict(toMB(top) <= RSS_TARGET_MB),
    ],
    [
      'data dir bounded by the retention, not by the sessions: all but the journal',
      `${mb(stateOf(fourth))} MiB after night ${Math.min(r.days, 4)} (${fourth.sessions.toLocaleString('en-US')} sessions), ${mb(stateOf(last))} MiB at the end (${last.sessions.toLocaleString('en-US')})`,
      verdict(!grows),
    ],
    ['journal ≤ two 64 MiB segments at every point (the backlog plus the active segment)', `max ${mb(journalMax)} MiB`, verdict(journalMax <= 128)],
  ]);
  const fivexx = [...r.statuses].filter(([k]) => / 5\d\d$/.test(k)).reduce((a, [, v]) => a + v, 0);
  console.log(`driver (for information): RSS at most ${mb(r.driverPeak)} MiB`);
  console.log(`log: ${(r.log.bytes / MiB).toFixed(1)} MiB of log lines; ${r.log.count} warnings/errors${r.log.warnings.length ? ` (first: ${r.log.warnings[0]})` : ''}; ${fivexx} answers 5xx`);
}
