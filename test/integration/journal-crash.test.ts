/**
 * kill -9 at random moments while a child appends (and, in half the rounds, marks deliveries).
 * After each kill the parent reopens the journal and checks: it opens cleanly (only a torn tail may be
 * dropped), every acknowledged id is present exactly once unless its delivery was requested, every
 * confirmed delivery stays delivered, and seqs strictly increase across all segments.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal } from '../../src/journal/index.js';
import { scanSegment } from '../../src/journal/segment.js';
import { ManualClock } from '../../src/platform/clock.js';
import { captureLog, segmentFiles, tempDir } from '../helpers/journal-fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRITER = join(ROOT, 'test/helpers/journal-writer.ts');
const ROUNDS = 20;

interface Round {
  acked: Map<string, number>;
  requested: Set<number>;
  confirmed: Set<number>;
}

/** Runs the writer until a random moment, then SIGKILLs it. Only complete lines count. */
function runAndKill(dir: string, deliver: boolean, earlyKill: boolean): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, ...(deliver ? ['--deliver'] : [])], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    const kill = () => child.kill('SIGKILL');
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (out === '' && !earlyKill) timer = setTimeout(kill, 30 + Math.random() * 300); // after the first output ("R")
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    // Some rounds kill at a random instant from spawn on, possibly during recovery itself.
    if (earlyKill) timer = setTimeout(kill, 200 + Math.random() * 900);
    const guard = setTimeout(kill, 15_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(guard);
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited ${code}/${signal}: ${err}`));
      const r: Round = { acked: new Map(), requested: new Set(), confirmed: new Set() };
      const lines = out.split('\n');
      lines.pop(); // possibly partial
      for (const l of lines) {
        const [tag, a, b] = l.split(' ');
        if (tag === 'A') r.acked.set(b as string, Number(a));
        else if (tag === 'M') for (const s of (a as string).split(',')) r.requested.add(Number(s));
        else if (tag === 'D') for (const s of (a as string).split(',')) r.confirmed.add(Number(s));
      }
      resolve(r);
    });
  });
}

describe('journal survives kill -9', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => ({ dir, cleanup } = await tempDir('sg-journal-crash-')));
  afterAll(async () => cleanup());

  it(`${ROUNDS} rounds of SIGKILL at random moments lose no acknowledged record`, { timeout: 120_000 }, async () => {
    const acked = new Map<string, number>();
    const requested = new Set<number>();
    const confirmed = new Set<number>();
    let totalAcks = 0;
    let tornTails = 0;
    const t0 = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      const r = await runAndKill(dir, round % 2 === 1, round % 5 === 4);
      totalAcks += r.acked.size;
      for (const [id, seq] of r.acked) acked.set(id, seq);
      for (const s of r.requested) requested.add(s);
      for (const s of r.confirmed) confirmed.add(s);

      const { log, lines } = captureLog();
      const j = await Journal.open({ dir, maxBytes: 1 << 30, segmentBytes: 64 * 1024, clock: new ManualClock(), log });
      tornTails += lines.filter((l) => String(l.msg).includes('torn tail')).length;
      expect(lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
      const undelivered = new Map(j.undelivered().map((e) => [e.id, e.seq]));
      await j.close();

      // Raw view of every record still on disk: ids unique, seqs strictly increasing, no damage left.
      const onDisk = new Map<string, number>();
      let prev = 0;
      const files = await segmentFiles(dir);
      for (let i = 0; i < files.length; i++) {
        const scan = scanSegment(await readFile(join(dir, files[i] as string)), i === files.length - 1);
        expect(scan.corrupt).toEqual([]);
        expect(scan.tornAt).toBeUndefined();
        for (const rec of scan.records) {
          expect(rec.seq).toBeGreaterThan(prev);
          prev = rec.seq;
          expect(onDisk.has(rec.id), `duplicate id ${rec.id}`).toBe(false);
          onDisk.set(rec.id, rec.seq);
        }
      }
      for (const [id, seq] of acked) {
        if (requested.has(seq)) {
          // Delivery was asked for: the record may be gone with its segment, never duplicated.
          if (confirmed.has(seq)) expect(undelivered.has(id), `confirmed delivery ${seq} came back`).toBe(false);
          continue;
        }
        expect(onDisk.get(id), `acknowledged ${id} (seq ${seq}) missing after round ${round}`).toBe(seq);
        expect(undelivered.get(id)).toBe(seq);
      }
    }
    console.info(`journal crash test: ${totalAcks} acks, ${confirmed.size} confirmed deliveries, ${tornTails} torn tails dropped, ${Date.now() - t0} ms`);
    expect(totalAcks).toBeGreaterThan(ROUNDS * 10);
    expect(Date.now() - t0).toBeLessThan(110_000);
  });
});
