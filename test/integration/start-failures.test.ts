/**
 * A start that fails says why in one line and exits non-zero (issue 12 #1), so systemd's Restart=on-failure and
 * any monitor see it: the daemon runs as a real process (`storegate run`), and each failure is one line with its
 * SG_ERR_ code, the file or address, and what to do — no stack trace, no "storegate stopped", exit 1 (2 for a
 * config or data problem, which a restart cannot fix).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { APP_DIR } from '../../src/config/load.js';
import { segmentFileName } from '../../src/journal/segment.js';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'sg-startfail-'));
const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

async function start(config: Record<string, unknown>): Promise<{ code: number; out: string }> {
  const file = path.join(dir, `c-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ store: { integrationId: 'store-042' }, mode: 'offline', dataDir: path.join(dir, 'var'), log: { level: 'warn' }, ...config }));
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', path.join(APP_DIR, 'src', 'main.ts'), 'run', '--config', file], { cwd: APP_DIR, timeout: 30_000 });
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: err.stdout + err.stderr };
  }
}

/** The one line a technician reads: the code, then the reason. */
function theLine(out: string): string {
  const lines = out.split('\n').filter((l) => l.trim() && !l.startsWith('{'));
  expect(lines, out).toHaveLength(1);
  expect(out).not.toMatch(/\n\s+at /); // no stack trace
  expect(out).not.toContain('storegate stopped');
  return lines[0] as string;
}

describe('a start that fails', () => {
  it('a port in use: exit 1, the address and what to do', async () => {
    const taken = createServer();
    servers.push(taken);
    const port = await new Promise<number>((r) => taken.listen(0, '127.0.0.1', () => r((taken.address() as { port: number }).port)));
    const r = await start({ http: { host: '127.0.0.1', port } });
    expect(r.code).toBe(1);
    expect(theLine(r.out)).toBe(`SG_ERR_LISTEN: 127.0.0.1:${port} is already in use by another process (another storegate?): stop it, or set http.port`);
  });

  it('a missing rules file: exit 2, the file and the key', async () => {
    const missing = path.join(dir, 'no-rules.json');
    const r = await start({ http: { host: '127.0.0.1', port: 0 }, dataFiles: { rules: missing } });
    expect(r.code).toBe(2);
    expect(theLine(r.out)).toBe(`SG_ERR_DATA_INVALID: the rules file ${missing} (dataFiles.rules) does not exist: fix the path in the config, or remove dataFiles.rules`);
  });

  it('an invalid rules file: exit 2', async () => {
    const bad = path.join(dir, 'bad-rules.json');
    writeFileSync(bad, '{"version": 1, "campaigns": [');
    const r = await start({ http: { host: '127.0.0.1', port: 0 }, dataFiles: { rules: bad } });
    expect(r.code).toBe(2);
    expect(theLine(r.out)).toMatch(new RegExp(`^SG_ERR_DATA_INVALID: the rules file ${bad.replace(/[.]/g, '\\.')} \\(dataFiles\\.rules\\) is not valid JSON`));
  });

  it('a corrupt journal: exit 1, the segment, the offset and what to do', async () => {
    const data = path.join(dir, 'corrupt');
    mkdirSync(path.join(data, 'journal'), { recursive: true });
    // Two segments: damage in the first (older, sealed) is corruption of synced data, not a torn tail.
    writeFileSync(path.join(data, 'journal', segmentFileName(1)), Buffer.from('SGJ1 this is not a record at all, just garbage bytes'));
    writeFileSync(path.join(data, 'journal', segmentFileName(100)), Buffer.alloc(0));
    const r = await start({ http: { host: '127.0.0.1', port: 0 }, dataDir: data });
    expect(r.code).toBe(1);
    const line = theLine(r.out);
    expect(line).toMatch(/^SG_ERR_JOURNAL_CORRUPT: journal segment .*00000000000000000001\.seg is corrupt at offset 0 /);
    expect(line).toMatch(/move that one file out of it and start again/);
  });
});
