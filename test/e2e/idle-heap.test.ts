/**
 * The single binary gives its idle heap back (src/platform/idle-heap.ts): on its Node.js 24, V8's memory reducer
 * ran for an idle daemon only with the nudge, and its young generation then shrinks from its 8 MiB maximum
 * (`--max-semi-space-size=4`: two 4 MiB semi-spaces) to 1–2 MiB within ~20 s of the start. The memory trim
 * (src/platform/memory-trim.ts) leaves an idle daemon alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureBinary } from '../helpers/binary.js';
import { freePort } from '../helpers/procs.js';

const ADMIN = 'admin-token-e2e-idle-heap-0123456789';
let daemon: ChildProcess | undefined;

afterAll(() => {
  daemon?.kill('SIGKILL');
});

async function youngGenerationMiB(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
  const m = /storegate_nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)/.exec(text);
  if (!m) throw new Error('no young generation figure in /metrics');
  return Number(m[1]) / 1048576;
}

describe('single binary, idle', () => {
  it('shrinks its young generation once idle (V8 memory reducer runs), and the memory trim leaves it alone', async () => {
    const bin = await ensureBinary();
    const work = mkdtempSync(path.join(tmpdir(), 'sg-e2e-idle-'));
    const port = await freePort();
    const config = path.join(work, 'config.json');
    writeFileSync(config, JSON.stringify({ mode: 'offline', dataDir: path.join(work, 'var'), http: { host: '127.0.0.1', port }, adminToken: ADMIN, log: { level: 'warn' } }));
    daemon = spawn(bin, ['run', '--config', config], { env: { PATH: process.env.PATH ?? '', MALLOC_MMAP_THRESHOLD_: '65536' }, stdio: 'ignore' });
    const until = Date.now() + 15_000;
    for (;;) {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
      if (ready) break;
      if (Date.now() > until) throw new Error('binary not ready in 15 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    // The reducer waits 8 s after the start, then samples every 8 s. Nothing is asked of the daemon meanwhile
    // (a request is itself work the reducer sees): one reading after 30 s, and one more 12 s later if need be.
    const seen: number[] = [];
    for (const waitMs of [30_000, 12_000]) {
      await new Promise((r) => setTimeout(r, waitMs));
      seen.push(await youngGenerationMiB(port));
      if ((seen.at(-1) as number) <= 2) break;
    }
    expect(seen.at(-1), `young generation MiB over time: ${seen.join(', ')}`).toBeLessThanOrEqual(2);
    // Idle, its slack stays far below the memory trim's threshold (src/platform/memory-trim.ts): never trimmed.
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    expect(text).toMatch(/^storegate_memory_trim_pause_seconds_count 0$/m);
  }, 90_000);
});
