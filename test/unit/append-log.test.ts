/**
 * The append-only logs of dead letters and reconciliation entries (src/state/append-log.ts) after a crash that
 * tore their last line: a power cut during an append (written, not yet fdatasync'd) leaves part of a line with no
 * newline. What is appended after the restart must not be glued to that fragment, or the new line (durable,
 * acknowledged: a dead letter the journal then let go of) would be unreadable at the next start.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppendLog } from '../../src/state/append-log.js';
import { PowerCutFs } from '../helpers/powercut-fs.js';
import { tempDir } from '../helpers/journal-fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir('sg-append-log-')));
afterEach(async () => cleanup());

describe('AppendLog on a power cut', () => {
  it('keeps the first line of a new log: the new name is made durable with it', async () => {
    // A crash that keeps no name change not made durable by an fsync of its directory.
    const fs = new PowerCutFs(() => 0);
    const file = '/data/state/dead-letters.log';
    await new AppendLog<{ n: number }>(file, fs.port()).append([{ n: 1 }]);
    fs.crash();
    expect(await new AppendLog<{ n: number }>(file, fs.port()).read()).toEqual([{ n: 1 }]);
  });
});

describe('AppendLog after a torn last line', () => {
  it('keeps the lines appended after the restart (real files)', async () => {
    const file = path.join(dir, 'dead-letters.log');
    await new AppendLog<{ n: number }>(file).append([{ n: 1 }]);
    // The crash: the next line was written only in part.
    await writeFile(file, `${await readFile(file, 'utf8')}{"n":2,"payl`);
    const log = new AppendLog<{ n: number }>(file);
    expect(await log.read()).toEqual([{ n: 1 }]); // the torn line is skipped
    await log.append([{ n: 3 }]);
    await log.append([{ n: 4 }]);
    expect(await new AppendLog<{ n: number }>(file).read()).toEqual([{ n: 1 }, { n: 3 }, { n: 4 }]);
  });

  it('keeps them when the torn append was cut by a power cut (model filesystem), read first or not', async () => {
    for (let seed = 1; seed <= 60; seed++) {
      const fs = new PowerCutFs(() => ((seed * 0.618) % 1));
      const file = '/data/state/dead-letters.log';
      const log = new AppendLog<{ n: number }>(file, fs.port());
      await log.append([{ n: 1 }]);
      await fs.port().fsyncDir('/data/state'); // its name is durable (that is another test's matter)
      fs.cutAfter(2); // the append's write lands (in part, maybe), its fdatasync does not
      await expect(log.append([{ n: 2 }])).rejects.toThrow(/power cut/);
      fs.crash();
      const after = new AppendLog<{ n: number }>(file, fs.port());
      if (seed % 2 === 0) await after.read();
      await after.append([{ n: 3 }]);
      const lines = (await new AppendLog<{ n: number }>(file, fs.port()).read()).map((l) => l.n);
      expect(lines[0]).toBe(1);
      expect(lines.at(-1)).toBe(3);
    }
  });
});

describe('AppendLog compaction', () => {
  it('keeps exactly the accepted lines, byte for byte, drops a torn tail, and appends cleanly after it', async () => {
    const file = path.join(dir, 'reconciliation.log');
    const log = new AppendLog<{ n: number; s?: string }>(file);
    const items = Array.from({ length: 50 }, (_, n) => ({ n, s: n % 7 === 0 ? `ü€ "q" \\ ${'x'.repeat(n)}` : undefined }));
    await log.append(items.slice(0, 30));
    await log.append(items.slice(30));
    // A torn tail (a crash mid-append), with no newline.
    await writeFile(file, `${await readFile(file, 'utf8')}{"n":99,"s":"ha`);
    const written = (await readFile(file, 'utf8')).split('\n');
    await log.compact((i) => i.n % 3 !== 0);
    const kept = items.filter((i) => i.n % 3 !== 0);
    expect(await readFile(file, 'utf8')).toBe(written.filter((l, k) => k < 50 && (JSON.parse(l) as { n: number }).n % 3 !== 0).map((l) => `${l}\n`).join(''));
    expect(log.lines).toBe(kept.length);
    await log.append([{ n: 100 }]);
    expect(await new AppendLog<{ n: number }>(file).read()).toEqual([...kept.map((i) => JSON.parse(JSON.stringify(i)) as unknown), { n: 100 }]);
    // Everything dropped: an empty file, and appends go on.
    await log.compact(() => false);
    expect(await readFile(file, 'utf8')).toBe('');
    expect(log.lines).toBe(0);
    await log.append([{ n: 101 }]);
    expect(await log.read()).toEqual([{ n: 101 }]);
  });

  it('reads a log larger than its window line by line: lines across window edges and one longer than the window', async () => {
    const file = path.join(dir, 'big.log');
    const log = new AppendLog<{ n: number; s: string }>(file);
    // ~3.5 MiB: 4,000 lines of 300–1,100 bytes around one line of 2.5 MiB (longer than the 1 MiB window).
    const items = Array.from({ length: 4000 }, (_, n) => ({ n, s: `${n}é`.padEnd(300 + ((n * 37) % 800), 'y') }));
    const huge = { n: 2000, s: 'h'.repeat(2.5 * 1024 * 1024) };
    items[2000] = huge;
    for (let i = 0; i < items.length; i += 500) await log.append(items.slice(i, i + 500));
    const keep = (i: { n: number }) => i.n % 5 !== 1;
    await log.compact(keep);
    const kept = items.filter(keep);
    expect(await readFile(file, 'utf8')).toBe(kept.map((i) => `${JSON.stringify(i)}\n`).join(''));
    expect(log.lines).toBe(kept.length);
  });
});

