import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureDirDurable, fsyncDir, writeFileAtomic } from '../../src/platform/durable-fs.js';
import { tempDir } from '../helpers/journal-fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir('sg-durable-')));
afterEach(async () => cleanup());

describe('durable-fs', () => {
  it('writeFileAtomic creates and replaces a file, leaving no temp file', async () => {
    const p = join(dir, 'state.json');
    await writeFileAtomic(p, '{"a":1}');
    await writeFileAtomic(p, new TextEncoder().encode('{"a":2}'));
    expect(await readFile(p, 'utf8')).toBe('{"a":2}');
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('writeFileAtomic rejects when the directory is missing and leaves nothing behind', async () => {
    await expect(writeFileAtomic(join(dir, 'nope', 'x.json'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('ensureDirDurable creates nested directories and is idempotent; fsyncDir works on them', async () => {
    const p = join(dir, 'a', 'b', 'c');
    await ensureDirDurable(p);
    await ensureDirDurable(p);
    expect((await stat(p)).isDirectory()).toBe(true);
    await fsyncDir(p);
  });
});
