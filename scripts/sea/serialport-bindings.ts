/**
 * Stands in for `@serialport/bindings-cpp/dist/serialport-bindings.js` in the bundles (see plugins.ts). The
 * original asks node-gyp-build to find the prebuilt addon relative to its own `__dirname`, which inside a
 * bundle is the bundle's folder (and in an ESM bundle does not exist at all).
 *
 * - In the single binary: the addon is the SEA asset `serialport.node`, written to a hash-named cache folder
 *   and loaded from there (src/platform/native-addon.ts).
 * - In the ESM bundle of a checkout: node-gyp-build finds the prebuild in node_modules, as without a bundle.
 *
 * It runs when `serialport` is first imported (src/serial imports it on first use), so a gateway with no
 * scanner never writes or loads it.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { getAsset, isSea } from 'node:sea';
import { loadEmbeddedAddon, nativeCacheDir } from '../../src/platform/native-addon.js';

function load(): unknown {
  if (isSea()) {
    return loadEmbeddedAddon({ name: 'serialport.node', bytes: new Uint8Array(getAsset('serialport.node')), dir: nativeCacheDir() }).exports;
  }
  const require = createRequire(import.meta.url);
  const gypBuild = require('node-gyp-build') as (dir: string) => unknown;
  return gypBuild(path.join(path.dirname(require.resolve('@serialport/bindings-cpp')), '..'));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the addon's own (untyped) surface, as upstream exports it
export const binding: any = load();
