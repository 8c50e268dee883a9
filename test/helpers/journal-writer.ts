/**
 * Child process for the kill -9 crash test: `node --import tsx test/helpers/journal-writer.ts <dir> [--deliver]`.
 * Appends with 16 concurrent writers and prints `A <seq> <id>` only after `append` resolved (durable).
 * With --deliver it also marks acknowledged records delivered: `M <seqs>` before calling markDelivered,
 * `D <seqs>` after it resolved. stdout to a pipe is synchronous on Linux, so a printed line was
 * written before any later kill.
 */
import { Journal } from '../../src/journal/index.js';
import { systemClock } from '../../src/platform/clock.js';

const [dir, ...flags] = process.argv.slice(2);
if (!dir) throw new Error('usage: journal-writer.ts <dir> [--deliver]');
const deliver = flags.includes('--deliver');
const out = (line: string): void => void process.stdout.write(`${line}\n`);

const j = await Journal.open({ dir, maxBytes: 1 << 30, segmentBytes: 64 * 1024, clock: systemClock });
out(`R ${j.stats().depth}`);
const acked: number[] = [];

async function writer(w: number): Promise<void> {
  for (let n = 0; ; n++) {
    const e = await j.append({ key: `session:${w}`, kind: 'updateSession', payload: { w, n, pad: 'x'.repeat((n * 97) % 1500) } });
    acked.push(e.seq);
    out(`A ${e.seq} ${e.id}`);
  }
}

async function deliverer(): Promise<void> {
  for (;;) {
    await new Promise((r) => setTimeout(r, 5));
    const batch = acked.splice(0, Math.min(acked.length, 1 + Math.floor(Math.random() * 40)));
    if (batch.length === 0) continue;
    out(`M ${batch.join(',')}`);
    await j.markDelivered(batch);
    out(`D ${batch.join(',')}`);
  }
}

const loops = Array.from({ length: 16 }, (_, w) => writer(w));
if (deliver) loops.push(deliverer());
await Promise.all(loops);
