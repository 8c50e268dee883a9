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
