/**
 * The esbuild options every bundle of this repository shares (daemon, benchmarks, emulator): one ESM file for
 * the machine's Node.js 20, a linked source map, no legal comments. Each build adds its entry point and output.
 */
export const NODE_BUNDLE = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
} as const;
