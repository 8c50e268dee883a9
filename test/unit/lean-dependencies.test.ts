/**
 * scripts/sea/plugins.ts's leanDependencies: what a dependency loads but storegate never uses is loaded on first
 * use instead of at start, and still works when it is used. Bundled with the plugin as the daemon is, run in a
 * child process, asked which built-in modules it has loaded.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { leanDependencies } from '../../scripts/sea/plugins.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const dir = mkdtempSync(path.join(tmpdir(), 'sg-lean-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bundleAndRun(source: string, plugins = [leanDependencies]): Promise<Record<string, unknown>> {
  const entry = path.join(ROOT, 'build', `lean-entry-${process.pid}.ts`);
  const out = path.join(dir, `out-${plugins.length}.cjs`);
  // Imports stay at the top; the rest runs in an async function (a CJS bundle has no top-level await).
  const lines = source.split('\n');
  const imports = lines.filter((l) => /^\s*import /.test(l));
  const body = lines.filter((l) => !/^\s*import /.test(l));
  writeFileSync(entry, `${imports.join('\n')}\nvoid (async () => {\n${body.join('\n')}\n})();\n`);
  try {
    await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', outfile: out, logLevel: 'error', plugins });
  } finally {
    rmSync(entry, { force: true });
  }
  return JSON.parse(execFileSync(process.execPath, [out], { encoding: 'utf8' })) as Record<string, unknown>;
}

const loaded = `const has = (m: string) => process.moduleLoadList.includes('NativeModule ' + m);`;

describe('leanDependencies', () => {
  it("loads prom-client's push gateway (and zlib with it) only on its first new, and it works then", async () => {
    const r = await bundleAndRun(`
      import { Registry, Pushgateway, Counter } from 'prom-client';
      ${loaded}
      const registry = new Registry();
      new Counter({ name: 'c', help: 'h', registers: [registry] }).inc();
      const before = has('zlib');
      const gw = new Pushgateway('http://127.0.0.1:9', {}, registry);
      console.log(JSON.stringify({ before, after: has('zlib'), pushAdd: typeof gw.pushAdd, metrics: await registry.metrics() }));
    `);
    expect(r).toMatchObject({ before: false, after: true, pushAdd: 'function' });
    expect(r.metrics).toContain('c 1');
  });

  it('is what keeps it out: without the plugin the same bundle loads zlib at start', async () => {
    const r = await bundleAndRun(`
      import { Registry } from 'prom-client';
      ${loaded}
      new Registry();
      console.log(JSON.stringify({ before: has('zlib') }));
    `, []);
    expect(r.before).toBe(true);
  });

  it("gives fastify the semver functions it checks plugins with, and its Ajv compiler still validates", async () => {
    const r = await bundleAndRun(`
      import Fastify from 'fastify';
      const app = Fastify();
      app.register(Object.assign(async () => {}, { [Symbol.for('skip-override')]: true, [Symbol.for('plugin-meta')]: { fastify: '5.x' } }));
      app.post('/x', { schema: { body: { type: 'object', required: ['a'], properties: { a: { type: 'integer' } } } } }, async () => ({ ok: true }));
      const bad = await app.inject({ method: 'POST', url: '/x', payload: { a: 'no' } });
      const good = await app.inject({ method: 'POST', url: '/x', payload: { a: 1 } });
      console.log(JSON.stringify({ bad: bad.statusCode, good: good.statusCode }));
    `);
    expect(r).toEqual({ bad: 400, good: 200 });
  });
});
