/**
 * esbuild plugins for bundles that must not need any file beside them (the daemon bundle and the single binary).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * `@serialport/bindings-cpp` loads its addon with node-gyp-build relative to its own folder, which a bundle does
 * not have: its `./serialport-bindings` module is replaced by scripts/sea/serialport-bindings.ts.
 */
export const serialportBindings: Plugin = {
  name: 'serialport-bindings',
  setup(b) {
    b.onResolve({ filter: /^\.\/serialport-bindings$/ }, (args) =>
      args.importer.includes(`${path.sep}@serialport${path.sep}bindings-cpp${path.sep}`) ? { path: path.join(here, 'serialport-bindings.ts') } : undefined,
    );
  },
};

/**
 * Optional packages that dependencies `require()` inside try/catch (debug: supports-color; ws: bufferutil,
 * utf-8-validate). None is installed; left unresolved, the single binary's `require` (built-ins only) prints a
 * warning at start. Each becomes a module that throws MODULE_NOT_FOUND, which those callers expect.
 */
export const optionalStubs: Plugin = {
  name: 'optional-stubs',
  setup(b) {
    b.onResolve({ filter: /^(supports-color|bufferutil|utf-8-validate)$/ }, (args) => ({ path: args.path, namespace: 'optional-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'optional-stub' }, (args) => ({
      contents: `throw Object.assign(new Error(${JSON.stringify(`Cannot find module '${args.path}' (not part of the single binary)`)}), { code: 'MODULE_NOT_FOUND' });`,
      loader: 'js',
    }));
  },
};

/**
 * What the daemon's dependencies load at start but never use, cut out of the start (each measured on the single
 * binary's empty start: modules evaluated before `/readyz`):
 * - prom-client's `processCpuTotal` requires `@opentelemetry/api` (51 modules) for exemplars, which storegate does
 *   not enable: it now loads on the first exemplar, that is never;
 * - prom-client's index requires its push gateway client (`url`, `https`, `zlib`) for `Pushgateway`, which storegate
 *   does not use: loaded on first `new Pushgateway()`;
 * - fastify's plugin checks require all of `semver` (47 modules) for `gt`, `coerce` and `satisfies`: only those
 *   three functions' modules are bundled and loaded;
 * - fastify's Ajv compiler requires Ajv's JSON Type Definition flavour (`ajv/dist/jtd`) for JTD mode, which
 *   storegate does not use: loaded on its first `new`.
 * Each replacement is a small module that requires the real one from the importer's folder, so the dependency's
 * own version is what runs.
 */
export const leanDependencies: Plugin = {
  name: 'lean-dependencies',
  setup(b) {
    const inPackage = (importer: string, pkg: string) => importer.includes(`${path.sep}node_modules${path.sep}${pkg}${path.sep}`);
    b.onResolve({ filter: /^@opentelemetry\/api$/ }, (a) => (inPackage(a.importer, 'prom-client') ? { path: 'otel-api', namespace: 'lean', pluginData: path.dirname(a.importer) } : undefined));
    b.onResolve({ filter: /^\.\/lib\/pushgateway$/ }, (a) => (inPackage(a.importer, 'prom-client') ? { path: 'pushgateway', namespace: 'lean', pluginData: path.dirname(a.importer) } : undefined));
    b.onResolve({ filter: /^ajv\/dist\/jtd$/ }, (a) => (inPackage(a.importer, path.join('@fastify', 'ajv-compiler')) ? { path: 'ajv-jtd', namespace: 'lean', pluginData: path.dirname(a.importer) } : undefined));
    b.onResolve({ filter: /^semver$/ }, (a) => (inPackage(a.importer, 'fastify') ? { path: 'semver', namespace: 'lean', pluginData: path.dirname(a.importer) } : undefined));
    const contents: Record<string, string> = {
      'otel-api': `let api; const load = () => (api ??= require('@opentelemetry/api'));
module.exports = { get trace() { return load().trace; }, get context() { return load().context; } };`,
      pushgateway: `let P; module.exports = function Pushgateway(...args) { P ??= require('./lib/pushgateway'); return new P(...args); };`,
      'ajv-jtd': `let J; module.exports = function AjvJTD(...args) { J ??= require('ajv/dist/jtd'); return new J(...args); };`,
      semver: `module.exports = { gt: require('semver/functions/gt'), coerce: require('semver/functions/coerce'), satisfies: require('semver/functions/satisfies') };`,
    };
    b.onLoad({ filter: /.*/, namespace: 'lean' }, (a) => ({ contents: contents[a.path] as string, loader: 'js', resolveDir: a.pluginData as string }));
  },
};
