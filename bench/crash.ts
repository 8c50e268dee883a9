/**
 * `npm run bench -- crash [--quick] [--cuts N] [--state-cuts N] [--kills N]`: the durability counts the README states.
 * 1. Power cuts: the journal on a filesystem model that drops whatever was not synced (tearing the last
 *    unsynced write), cut at ≥ 1,000 random points (test/helpers/powercut-run.ts), conservation law checked
 *    after every reopen.
 * 2. Power cuts of the journal with the state around it on the same model filesystem (test/helpers/
 *    powercut-state-run.ts): local answers competing for shared single-use codes, delivery marks, dead letters,
 *    checkpoints and compactions, ≥ 1,000 cut points; after every reopen no acknowledged record or ledger use
 *    lost, nothing invented, no code counted for two sessions.
 * 3. Real `kill -9` of a gateway process under load with shared single-use codes, ≥ 1,000 cycles
 *    (test/helpers/kill-run.ts; the table says where a cycle's time goes, first and last 100 cycles apart, so a
 *    start-up that grows with the shop's history shows).
 * Any violation stops the run with the reason; the table gives the counts.
 */
import { powerCutTrial } from '../test/helpers/powercut-run.js';
import { stateCutTrial } from '../test/helpers/powercut-state-run.js';
import { killRun } from '../test/helpers/kill-run.js';
import { printTable, summarize, verdict } from './report.js';
import type { CycleTimes } from '../test/helpers/kill-run.js';

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}

export async function run(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const cutsWanted = arg(args, '--cuts', quick ? 120 : 1200);
  const stateCutsWanted = arg(args, '--state-cuts', quick ? 120 : 1200);
  const killsWanted = arg(args, '--kills', quick ? 20 : 1000);
  console.log(`crash benchmark: ${cutsWanted} power cuts of the journal, ${stateCutsWanted} of the journal with the local state, ${killsWanted} kill -9 cycles, Node ${process.version}`);

  const t0 = performance.now();
  let cuts = 0;
  let acked = 0;
  let checks = 0;
  for (let seed = 1; cuts < cutsWanted; seed++) {
    const r = await powerCutTrial(seed * 104_729, 3);
    cuts += r.cuts;
    acked += r.acked;
    checks += r.checks;
  }
  const pcSec = (performance.now() - t0) / 1000;

  const ts = performance.now();
  const st = { cuts: 0, inside: 0, answers: 0, redemptions: 0, delivered: 0, deadLettered: 0, checks: 0, probes: 0 };
  for (let seed = 1; st.cuts < stateCutsWanted; seed++) {
    const r = await stateCutTrial(seed * 104_729, 3);
    for (const k of Object.keys(st) as (keyof typeof st)[]) st[k] += r[k];
  }
  const stSec = (performance.now() - ts) / 1000;
  console.log(`  power cuts with the local state: ${st.cuts} (${st.inside} inside the work) in ${stSec.toFixed(1)} s`);

  const t1 = performance.now();
  let window: number[] = [];
  const k = await killRun({
    rounds: killsWanted,
    onRound: (r, t) => {
      window.push(t.total);
      if ((r + 1) % 100 === 0) {
        console.log(`  kill -9 cycles: ${r + 1} (last 100: ${(window.reduce((a, b) => a + b, 0) / window.length / 1000).toFixed(2)} s each)`);
        window = [];
      }
    },
    onFlush: (depth) => console.log(`  final flush: ${depth} records left`),
  });
  const killSec = (performance.now() - t1) / 1000;

  printTable('Crash runs (every check passed, or the run would have stopped with the violation)', ['run', 'count', 'records / sessions', 'checks', 'seconds'], [
    ['power cuts of the journal (random cut points, torn tails)', cuts, `${acked} acknowledged appends`, `${checks} acknowledged records found exactly once`, pcSec],
    [
      'power cuts of the journal + local state (ledger, sessions, replay, dead letters, delivery marks)',
      st.cuts,
      `${st.answers} acknowledged answers, ${st.redemptions} single-use redemptions, ${st.delivered} delivered, ${st.deadLettered} dead-lettered`,
      `${st.checks} acknowledged records found once or delivered; ${st.probes} code probes: no use lost, none double`,
      stSec,
    ],
    ['kill -9 of the gateway under 8 writers (shared single-use codes)', k.rounds, `${k.acknowledged} acknowledged of ${k.sessions} sessions`, `${k.codesAcceptedAtClose} codes redeemed once, none twice`, killSec],
  ]);
  const phase = (name: string, f: (c: CycleTimes) => number) => {
    const first = k.cycles.slice(0, 100).map(f);
    const last = k.cycles.slice(-100).map(f);
    const all = summarize(k.cycles.map(f));
    return [name, summarize(first).mean, summarize(last).mean, all.p50, all.p99];
  };
  printTable('Where a kill -9 cycle goes (ms)', ['phase', 'first 100 mean', 'last 100 mean', 'p50', 'p99'], [
    phase('spawn to /readyz (recovery, state, replay cache, ledger)', (c) => c.ready),
    phase('catching up to ≤ 1,000 undelivered (reachable rounds)', (c) => c.drain),
    phase('load until killed, exit', (c) => c.load),
    phase('whole cycle', (c) => c.total),
  ]);
  const ff = k.finalFlush;
  console.log(`final start: ready in ${Math.round(ff.readyMs)} ms, then ${ff.records} records flushed in ${(ff.ms / 1000).toFixed(2)} s (${Math.round(ff.records / Math.max(ff.ms / 1000, 0.001))}/s)\n`);
  printTable('Targets', ['target', 'measured', 'verdict'], [
    ['≥ 1,000 power-cut points, nothing lost or invented', `${cuts}`, verdict(cuts >= 1000)],
    ['≥ 1,000 power-cut points of journal + local state, no ledger use lost or double-redeemed', `${st.cuts}`, verdict(st.cuts >= 1000)],
    ['≥ 1,000 kill -9 cycles, nothing lost or double-redeemed', `${k.rounds}`, verdict(k.rounds >= 1000)],
  ]);
}
