/**
 * The power-cut model itself (test/helpers/powercut-fs.ts): the trials trust it to lose what a real disk can
 * lose after a power cut, no more and no less. Each case runs the port's real durable sequences on it.
 */
import { describe, expect, it } from 'vitest';
import { PowerCutFs } from '../helpers/powercut-fs.js';
import { rng } from '../helpers/powercut-run.js';

const text = (b: Buffer | undefined) => b?.toString('utf8');

describe('power-cut filesystem model', () => {
  it('an atomic replace leaves the old or the new content at every cut point, and the new one once it resolved', async () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 200; seed++) {
      const fs = new PowerCutFs(rng(seed * 104_729));
      const port = fs.port();
      await port.ensureDir('/d');
      await port.writeFileAtomic('/d/f.json', 'old');
      fs.cutAfter(1 + (seed % 7));
      const done = await port.writeFileAtomic('/d/f.json', 'new').then(() => true, () => false);
      if (!fs.dead) fs.cutAfter(1);
      fs.crash();
      const after = text(fs.content('/d/f.json'));
      if (done) expect(after).toBe('new');
      else expect(['old', 'new']).toContain(after);
      seen.add(after as string);
    }
    expect([...seen].sort()).toEqual(['new', 'old']);
  });

  it('unsynced bytes come back as a prefix (garbage at most at its end), synced ones always', async () => {
    let torn = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const fs = new PowerCutFs(rng(seed * 104_729));
      const port = fs.port();
      await port.ensureDir('/d');
      const f = port.openSync('/d/log', 'w+');
      f.sync();
      await port.fsyncDir('/d');
      f.write(Buffer.from('synced;'), 0);
      f.datasync();
      f.write(Buffer.from('not-synced-at-all'), 7);
      fs.cutAfter(1);
      fs.crash();
      const after = fs.content('/d/log') as Buffer;
      expect(after.subarray(0, 7).toString()).toBe('synced;');
      expect(after.length).toBeLessThanOrEqual(24);
      if (after.length < 24) torn++;
    }
    expect(torn).toBeGreaterThan(50);
  });

  it('a new name is durable only once its directory is fsync’d; the ports of a crashed boot fail', async () => {
    const outcomes = new Set<boolean>();
    for (let seed = 1; seed <= 50; seed++) {
      const fs = new PowerCutFs(rng(seed * 104_729));
      const port = fs.port();
      await port.ensureDir('/d');
      const f = port.openSync('/d/new', 'w+');
      f.write(Buffer.from('x'), 0);
      f.sync(); // the inode, not its name
      fs.crash();
      outcomes.add(fs.content('/d/new') !== undefined);
      expect(() => port.openSync('/d/other', 'w')).toThrow(/EIO/);
      const again = fs.port();
      await again.appendDurable('/d/kept', 'y');
      await again.fsyncDir('/d');
      fs.crash();
      expect(text(fs.content('/d/kept'))).toBe('y');
    }
    expect([...outcomes].sort()).toEqual([false, true]);
  });
});
