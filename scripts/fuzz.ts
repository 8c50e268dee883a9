/**
 * The fuzz suite outside CI: `npm run fuzz -- --runs 100000 [--seed N] [--keep-going] [--no-broker]`.
 * The same property as test/fuzz/fuzz-http.test.ts (test/fuzz/harness.ts), with more inputs; prints the counts
 * (inputs by family, by status, by target and route, latency) that README "Fuzzing" quotes.
 * Exit 0 when every input passed; 1 with fast-check's report (seed and path to replay) otherwise.
 */
import { parseArgs } from 'node:util';
import { Stats, fuzz, normalSessionUpdate, startWorld, stopWorld } from '../test/fuzz/harness.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    'keep-going': { type: 'boolean', default: false },
    'no-broker': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
if (!Number.isSafeInteger(runs) || runs < 1) {
  console.error('--runs must be a positive integer');
  process.exit(2);
}
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() ^ (process.pid << 8);
const world = await startWorld({ broker: !values['no-broker'] });
const stats = new Stats();
const failures: { input: string; problems: string[] }[] = [];
let code = 0;
console.log(`fuzz: ${runs} inputs, seed ${seed}`);
try {
  await fuzz(world, {
    numRuns: runs,
    seed,
    stats,
    ...(values['keep-going'] ? { keepGoing: failures } : {}),
    progress: { every: 5000, report: (s) => console.log(`  ${s.inputs} inputs, ${((performance.now() - s.startedAt) / 1000).toFixed(0)} s`) },
  });
} catch (err) {
  console.error((err as Error).stack ?? (err as Error).message);
  code = 1;
}
for (const t of ['offline', 'connected', 'hybrid'] as const) {
  const r = await normalSessionUpdate(world, t);
  const ok = r.status === 200 && r.effects > 0;
  console.log(`after the run, ${t}: a normal session update → ${r.status}, ${r.effects} effects, source ${r.source}${ok ? '' : '  FAILED'}`);
  if (!ok) code = 1;
}
const ready = await fetch(`${world.gw.office.url}/readyz`);
console.log(`after the run, office: /readyz → ${ready.status}`);
if (ready.status !== 200) code = 1;
console.log('');
console.log(stats.table());
if (failures.length > 0) {
  code = 1;
  const groups = new Map<string, { n: number; example: string; problems: string[] }>();
  for (const f of failures) {
    const key = f.problems.map((p) => p.replace(/\d+(\.\d+)?/g, 'N').slice(0, 120)).join(' | ');
    const g = groups.get(key);
    if (g) g.n++;
    else groups.set(key, { n: 1, example: f.input, problems: f.problems });
  }
  console.log(`\n${failures.length} inputs violated the properties, ${groups.size} kinds:`);
  for (const g of groups.values()) console.log(`\n×${g.n}: ${g.problems.join('\n    ').slice(0, 1500)}\n  e.g. ${g.example.slice(0, 1500)}`);
}
await stopWorld(world);
process.exit(code);
