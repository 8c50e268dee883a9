/** Shared fixtures for journal tests: temp dirs, a log capture, and fault-injecting file ops. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { nodeFileOps, type JournalFileOps, type SegmentHandle } from '../../src/journal/file-ops.js';

export async function tempDir(prefix = 'sg-journal-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A logger whose JSON lines are kept in `lines` (parsed). */
export function captureLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

/** Segment file names in `dir`, sorted. */
export async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
}

export interface FaultPlan {
  /** Fail the next N writes: write `partial` bytes first (simulates a short write before ENOSPC). */
  failWrites: number;
  failSyncs: number;
  failTruncates: number;
  partial: number;
  code: string;
}

/** Wraps node file ops: counts datasyncs and injects write/sync failures on demand. */
export function faultyOps(): { ops: JournalFileOps; counts: { datasync: number; writes: number }; plan: FaultPlan } {
  const counts = { datasync: 0, writes: 0 };
  const plan: FaultPlan = { failWrites: 0, failSyncs: 0, failTruncates: 0, partial: 0, code: 'ENOSPC' };
  const injected = (code: string) => Object.assign(new Error(`${code}: injected`), { code });
  // The journal writes either through the async calls (thread pool) or the blocking ones (inline path):
  // both count and fail alike.
  const wrap = (h: SegmentHandle): SegmentHandle => ({
    async write(data, position) {
      counts.writes += 1;
      if (plan.failWrites > 0) {
        plan.failWrites -= 1;
        if (plan.partial > 0) await h.write(data.subarray(0, Math.min(plan.partial, data.byteLength)), position);
        throw injected(plan.code);
      }
      return h.write(data, position);
    },
    writeSync(data, position) {
      counts.writes += 1;
      if (plan.failWrites > 0) {
        plan.failWrites -= 1;
        if (plan.partial > 0) h.writeSync(data.subarray(0, Math.min(plan.partial, data.byteLength)), position);
        throw injected(plan.code);
      }
      h.writeSync(data, position);
    },
    async datasync() {
      counts.datasync += 1;
      if (plan.failSyncs > 0) {
        plan.failSyncs -= 1;
        throw injected(plan.code);
      }
      return h.datasync();
    },
    datasyncSync() {
      counts.datasync += 1;
      if (plan.failSyncs > 0) {
        plan.failSyncs -= 1;
        throw injected(plan.code);
      }
      h.datasyncSync();
    },
    async truncate(n) {
      if (plan.failTruncates > 0) {
        plan.failTruncates -= 1;
        throw injected('EIO');
      }
      return h.truncate(n);
    },
    zeroFill: (from, to) => h.zeroFill(from, to),
    close: () => h.close(),
  });
  const ops: JournalFileOps = {
    ...nodeFileOps,
    openSegment: async (p) => wrap(await nodeFileOps.openSegment(p)),
    createSegment: async (p) => wrap(await nodeFileOps.createSegment(p)),
  };
  return { ops, counts, plan };
}
