/**
 * `npm run bench -- journal [--seconds S] [--records N]`: durable appends/s and latency of the journal
 * with 1 and 64 concurrent writers, beside better-sqlite3 (WAL, synchronous=FULL, one transaction per
 * record) and, for one writer, one bare write + fdatasync of the same size: all measured in the same
 * run on the same disk, in interleaved rounds; then start-up time with N undelivered records.
 * Files go to `.bench-tmp/` under the working directory (git-ignored) and are removed afterwards.
 */
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { mkdir, rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { Journal } from '../src/journal/index.js';
import { systemClock } from '../src/platform/clock.js';
import { printTable, summarize, verdict, type Cell } from './report.js';

/** The slice of better-sqlite3 used here (its @types package is not a dependency). */
interface SqliteStatement {
  run(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface SqliteDb {
  pragma(source: string): unknown;
  exec(source: string): void;
  prepare(source: string): SqliteStatement;
  transaction(fn: () => void): () => void;
  close(): void;
}
const Database = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => SqliteDb;

interface Case {
  name: string;
  ops: number;
  perSec: number;
  p50: number;
  p99: number;
}

function payload(n: number): unknown {
  // ≈1 KB of JSON, shaped like a session update.
  return {
    customerSessionId: `pos-T1-${n}`,
    state: 'open',
    cartItems: Array.from({ length: 4 }, (_, i) => ({ sku: `SKU-${(n * 7 + i) % 9973}`, quantity: 1 + (i % 3), price: 3.99 + i })),
    attributes: { terminal: 'T1', cashier: 'c-17' },
    pad: 'x'.repeat(700),
  };
}

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

/** Latencies and busy time gathered over one or more runs of a case. */
class Tally {
  readonly lat: number[] = [];
  seconds = 0;
  constructor(readonly name: string) {}
  result(): Case {
    const s = summarize(this.lat);
    return { name: this.name, ops: s.n, perSec: s.n / this.seconds, p50: s.p50, p99: s.p99 };
  }
}

/** `writers` async loops calling `op` until `maxOps` or `seconds` elapse; latency includes queueing. */
async function drive(tally: Tally, writers: number, seconds: number, maxOps: number, op: (n: number) => Promise<void>): Promise<void> {
  let issued = 0;
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (issued < maxOps && performance.now() < deadline) {
        const n = issued++;
        const s = performance.now();
        await op(n);
        tally.lat.push(performance.now() - s);
      }
    }),
  );
  tally.seconds += (performance.now() - t0) / 1000;
}

/** A store under test: `op` makes one ~1 KB record durable; `close` releases it. */
interface Contender {
  readonly tally: Tally;
  op(n: number): Promise<void>;
  close(): Promise<void>;
}

const writersLabel = (w: number) => `${w} writer${w > 1 ? 's' : ''}`;

async function journalContender(base: string, writers: number): Promise<Contender> {
  const j = await Journal.open({ dir: join(base, `j${writers}`), maxBytes: 8 * 1024 ** 3, clock: systemClock });
  return {
    tally: new Tally(`journal, ${writersLabel(writers)}`),
    op: async (n) => {
      await j.append({ key: `session:${n % 97}`, kind: 'updateSession', payload: payload(n) });
    },
    close: () => j.close(),
  };
}

/**
 * The floor: one bare `write` + `fdatasync` of a record-sized buffer appended to a plain file, as blocking
 * calls (the cheapest way Node has to make those bytes durable), one at a time.
 */
function bareContender(base: string): Contender {
  const size = Buffer.byteLength(JSON.stringify(payload(0))) + 100; // + the journal's header and fields
  const buf = Buffer.alloc(size, 0x61);
  const fd = openSync(join(base, 'bare.bin'), 'w');
  let off = 0;
  return {
    tally: new Tally(`bare write + fdatasync (${size} B)`),
    op: async () => {
      await Promise.resolve();
      writeSync(fd, buf, 0, size, off);
      fdatasyncSync(fd);
      off += size;
    },
    close: async () => closeSync(fd),
  };
}

function sqliteContender(base: string, writers: number): Contender {
  const db = openSqlite(join(base, `sqlite${writers}.db`));
  const insert = db.prepare('INSERT INTO journal (id, key, kind, at, payload) VALUES (?, ?, ?, ?, ?)');
  return {
    tally: new Tally(`SQLite WAL+FULL, ${writersLabel(writers)}`),
    // The statement is synchronous: concurrent "writers" serialise on the event loop, as they would
    // in the daemon. Each op yields first so the others' queued inserts count in its latency.
    op: async (n) => {
      await Promise.resolve();
      insert.run(crypto.randomUUID(), `session:${n % 97}`, 'updateSession', Date.now(), JSON.stringify(payload(n)));
    },
    close: async () => db.close(),
  };
}

/**
 * Runs the contenders in interleaved rounds (A B C A B C ...), so a disk that gets slower or faster during the
 * run (other work on the host, the VM's neighbours) weighs on all of them alike.
 */
async function rounds(contenders: Contender[], writers: number, seconds: number, maxOps: number, n: number): Promise<Case[]> {
  try {
    for (let r = 0; r < n; r++) {
      for (const c of contenders) await drive(c.tally, writers, seconds / n, Math.ceil(maxOps / n), (i) => c.op(i));
    }
    return contenders.map((c) => c.tally.result());
  } finally {
    for (const c of contenders) await c.close();
  }
}

function openSqlite(file: string): SqliteDb {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL, payload TEXT NOT NULL, delivered INTEGER NOT NULL DEFAULT 0)');
  return db;
}

async function startup(base: string, records: number): Promise<{ journalMs: number; sqliteMs: number; depth: number }> {
  const dir = join(base, 'startup');
  let j = await Journal.open({ dir, maxBytes: 8 * 1024 ** 3, clock: systemClock });
  for (let n = 0; n < records; n += 1000) {
    const burst = Math.min(1000, records - n);
    await Promise.all(Array.from({ length: burst }, (_, i) => j.append({ key: `session:${(n + i) % 997}`, kind: 'updateSession', payload: payload(n + i) })));
  }
  await j.close();
  const t0 = performance.now();
  j = await Journal.open({ dir, maxBytes: 8 * 1024 ** 3, clock: systemClock });
  const depth = j.undelivered().length;
  const journalMs = performance.now() - t0;
  await j.close();

  const file = join(base, 'startup.db');
  let db = openSqlite(file);
  const ins = db.prepare('INSERT INTO journal (id, key, kind, at, payload) VALUES (?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (let n = 0; n < records; n++) ins.run(crypto.randomUUID(), `session:${n % 997}`, 'updateSession', Date.now(), JSON.stringify(payload(n)));
  })();
  db.close();
  const t1 = performance.now();
  db = openSqlite(file);
  // Same work as the journal's open: load every undelivered row (payload as text, parsed lazily).
  const rows = db.prepare('SELECT seq, id, key, kind, at, payload FROM journal WHERE delivered = 0 ORDER BY seq').all();
  const sqliteMs = performance.now() - t1;
  db.close();
  if (rows.length !== records) throw new Error(`sqlite start-up loaded ${rows.length} rows`);
  return { journalMs, sqliteMs, depth };
}

export async function run(args: string[]): Promise<void> {
  const seconds = arg(args, '--seconds', 5);
  const records = arg(args, '--records', 100_000);
  const base = resolve('.bench-tmp', `journal-${process.pid}`);
  await mkdir(base, { recursive: true });
  try {
    const one = await rounds([bareContender(base), await journalContender(base, 1), sqliteContender(base, 1)], 1, seconds, 10_000, 5);
    const many = await rounds([await journalContender(base, 64), sqliteContender(base, 64)], 64, seconds, 60_000, 3);
    const cases = [...one, ...many];
    printTable(
      `Journal durable appends (~1 KB payloads, ≤${seconds} s per case in interleaved rounds, same disk)`,
      ['case', 'appends', 'appends/s', 'p50 ms', 'p99 ms'],
      cases.map((c): Cell[] => [c.name, c.ops, c.perSec, c.p50, c.p99]),
    );
    const s = await startup(base, records);
    printTable(
      `Start-up with ${records.toLocaleString('en-US')} undelivered records`,
      ['store', 'open + load index, ms'],
      [
        ['journal', s.journalMs],
        ['SQLite WAL (open + SELECT all undelivered)', s.sqliteMs],
      ],
    );
    const [bare, j1, q1, j64, q64] = cases as [Case, Case, Case, Case, Case];
    printTable('Targets', ['target', 'measured', 'verdict'], [
      ['one writer at least as fast as SQLite WAL+FULL', `${Math.round(j1.perSec)}/s vs ${Math.round(q1.perSec)}/s`, verdict(j1.perSec >= q1.perSec)],
      ['one writer p50 ≤ 1.3× one bare write + fdatasync', `${j1.p50.toFixed(3)} vs ${bare.p50.toFixed(3)} ms (${(j1.p50 / bare.p50).toFixed(2)}×)`, verdict(j1.p50 <= 1.3 * bare.p50)],
      ['≥ 5× SQLite WAL+FULL at 64 writers', `${(j64.perSec / q64.perSec).toFixed(1)}×`, verdict(j64.perSec >= 5 * q64.perSec)],
      ['p99 append latency ≤ 5 ms at 64 writers', `${j64.p99.toFixed(2)} ms`, verdict(j64.p99 <= 5)],
      ['≥ 2,000 durable appends/s at 64 writers', `${Math.round(j64.perSec)}/s`, verdict(j64.perSec >= 2000)],
      [`open with ${records.toLocaleString('en-US')} undelivered ≤ 2 s`, `${Math.round(s.journalMs)} ms (${s.depth} loaded)`, verdict(s.journalMs <= 2000 && s.depth === records)],
    ]);
  } finally {
    await rm(base, { recursive: true, force: true });
    await rmdir(resolve('.bench-tmp')).catch(() => undefined); // only if no other bench left files there
  }
}
