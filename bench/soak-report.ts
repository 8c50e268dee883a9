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
  /** The gateway's VmRSS, MiB, and its parts: anonymous memory, and file pages (the node binary's code, shared). */
  rss: number;
  anon: number;
  file: number;
  /** Its highest 200 ms sample since the row before, MiB. */
  peak: number;
  heap: number;
  heapTotal: number;
  external: number;
  /** The driver's own VmRSS (for information), MiB. */
  driver: number;
  data: number;
  parts: Record<string, number>;
  /** Bytes of each file (or folder) in the data dir's state/. */
  stateFiles: Record<string, number>;
  sizes: Record<string, number>;
  /** V8's heap spaces: name → [committed, used] bytes. */
  spaces: Record<string, [number, number]>;
  /** With --gc only: the same read again after a full GC (MiB). */
  afterGc?: { rss: number; anon: number; file: number; heap: number; heapTotal: number; external: number };
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
export async function logSummary(file: string): Promise<{ bytes: number; warnings: string[]; count: number; trims: { n: number; ms: number; maxMs: number } }> {
  const { size } = await stat(file);
  const warnings: string[] = [];
  let count = 0;
  // The memory trims (src/platform/memory-trim.ts): how many, and the event loop's pause they cost.
  const trims = { n: 0, ms: 0, maxMs: 0 };
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.includes('"level":40') || line.includes('"level":50') || line.includes('"level":60')) {
      count++;
      if (warnings.length < 20) warnings.push(line.slice(0, 400));
    }
    if (line.includes('"msg":"memory trimmed"')) {
      const ms = Number(/"ms":(\d+)/.exec(line)?.[1] ?? 0);
      trims.n++;
      trims.ms += ms;
      trims.maxMs = Math.max(trims.maxMs, ms);
    }
  }
  return { bytes: size, warnings, count, trims };
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
  log: { bytes: number; warnings: string[]; count: number; trims: { n: number; ms: number; maxMs: number } };
}): void {
  const mb = (v: number) => Math.round(v * 10) / 10;
  const { rows } = r;
  printTable(
    r.title,
    ['point', 'simulated', 'sessions', 'gateway RSS MiB', 'anon / file MiB', 'peak since row before', 'heap used MiB', 'heap total MiB', 'external MiB', 'data dir MiB', 'journal MiB', 'state MiB', 'journal depth', 'driver RSS MiB'],
    rows.map((x): Cell[] => [x.label, x.sim, x.sessions, mb(x.rss), `${mb(x.anon)} / ${mb(x.file)}`, mb(x.peak), mb(x.heap), mb(x.heapTotal), mb(x.external), mb(x.data), mb((x.parts.journal ?? 0) / MiB), mb((x.parts.state ?? 0) / MiB), x.sizes.journalDepth ?? 0, mb(x.driver)]),
  );
  const spaceNames = Object.keys(rows[0]?.spaces ?? {});
  printTable(
    "V8's heap spaces at each row (committed / used MiB)",
    ['point', ...spaceNames],
    rows.map((x): Cell[] => [x.label, ...spaceNames.map((n) => `${mb((x.spaces[n]?.[0] ?? 0) / MiB)} / ${mb((x.spaces[n]?.[1] ?? 0) / MiB)}`)]),
  );
  if (rows.some((x) => x.afterGc)) {
    printTable(
      'diagnostic (--gc): the same rows after a full GC and 300 ms (MiB)',
      ['point', 'RSS before → after', 'anon after', 'heap used before → after', 'heap total after', 'external after'],
      rows.map((x): Cell[] => (x.afterGc ? [x.label, `${mb(x.rss)} → ${mb(x.afterGc.rss)}`, mb(x.afterGc.anon), `${mb(x.heap)} → ${mb(x.afterGc.heap)}`, mb(x.afterGc.heapTotal), mb(x.afterGc.external)] : [x.label, '-', '-', '-', '-', '-'])),
    );
  }
  const first = rows[0] as Row;
  console.log(
    `baseline (same run): the daemon bundle (storegate run, same runtime) idle on the same config, 2 s after start: ${mb(r.daemonIdle.rss)} MiB (its start peaked at ${mb(r.daemonIdle.peak)}); ` +
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
  const fileNames = Object.keys(last.stateFiles).sort((a, b) => (last.stateFiles[b] ?? 0) - (last.stateFiles[a] ?? 0));
  printTable(
    "the data dir's state/ at each night (MiB; the .kv stores are compacted once their file holds twice their live lines)",
    ['point', ...fileNames],
    rows.filter((x) => x.label.startsWith('night ')).map((x): Cell[] => [x.label, ...fileNames.map((n) => mb((x.stateFiles[n] ?? 0) / MiB))]),
  );
  // What the retention bounds: everything but the journal (sessions, profiles, replay answers, ledger, logs, the
  // disk reserve) must stop growing once the oldest days are dropped (sessions: 3 days). Compaction makes its size
  // a sawtooth (between the live lines and twice them), so single points say little: the highest night of the
  // week's later part is compared with the highest of the first three nights, while the retention fills. The
  // journal is bounded by what is still undelivered plus the active segment (64 MiB), whatever the sessions.
  const stateOf = (x: Row) => x.data - (x.parts.journal ?? 0) / MiB;
  const nights = rows.filter((x) => x.label.startsWith('night '));
  const early = nights.slice(0, Math.min(3, Math.max(1, nights.length - 1)));
  const later = nights.slice(early.length);
  const peakOf = (xs: Row[]) => xs.reduce((best, x) => (stateOf(x) > stateOf(best) ? x : best), xs[0] ?? last);
  const earlyPeak = peakOf(early);
  const laterPeak = peakOf(later);
  const grows = later.length > 0 && stateOf(laterPeak) > stateOf(earlyPeak) * 1.25 + 8;
  const journalMax = Math.max(...rows.map((x) => (x.parts.journal ?? 0) / MiB));
  const top = Math.max(r.maxRss, r.hwm);
  printTable('targets', ['target', 'measured', 'verdict'], [
    [
      `gateway RSS ≤ ${RSS_TARGET_MB} MB (${mb((RSS_TARGET_MB * 1e6) / MiB)} MiB) throughout (VmRSS every 200 ms, and VmHWM)`,
      `max ${mb(r.maxRss)} MiB sampled, VmHWM ${mb(r.hwm)} MiB = ${mb(toMB(top))} MB (middle ${mb(mid.rss)}, end ${mb(last.rss)} MiB)`,
      verdict(toMB(top) <= RSS_TARGET_MB),
    ],
    [
      'data dir bounded by the retention, not by the sessions: all but the journal, highest night after the first three vs. highest of them (≤ 1.25× + 8 MiB)',
      later.length === 0
        ? 'too few nights to tell'
        : `${mb(stateOf(laterPeak))} MiB at ${laterPeak.label} (${laterPeak.sessions.toLocaleString('en-US')} sessions) vs. ${mb(stateOf(earlyPeak))} MiB at ${earlyPeak.label} (${earlyPeak.sessions.toLocaleString('en-US')}); ${mb(stateOf(last))} MiB at the end`,
      later.length === 0 ? '-' : verdict(!grows),
    ],
    ['journal ≤ two 64 MiB segments at every point (the backlog plus the active segment)', `max ${mb(journalMax)} MiB`, verdict(journalMax <= 128)],
  ]);
  const fivexx = [...r.statuses].filter(([k]) => / 5\d\d$/.test(k)).reduce((a, [, v]) => a + v, 0);
  console.log(`driver (for information): RSS at most ${mb(r.driverPeak)} MiB`);
  console.log(`log: ${(r.log.bytes / MiB).toFixed(1)} MiB of log lines; ${r.log.count} warnings/errors${r.log.warnings.length ? ` (first: ${r.log.warnings[0]})` : ''}; ${fivexx} answers 5xx`);
  const t = r.log.trims;
  console.log(`memory trims (src/platform/memory-trim.ts): ${t.n}${t.n > 0 ? `, ${t.ms} ms of pauses in all, the longest ${t.maxMs} ms` : ' (none: the runtime gives its pages back without them, or never had the slack)'}`);
}
