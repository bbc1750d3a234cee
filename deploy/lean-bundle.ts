// What every program loadstar bundles shares (the services in deploy/build.ts,
// the one-file agent in deploy/agent/build.ts): one file for Node with what it
// imports, smaller to load and keep in memory; names stay, so stack traces still read.
import type { BuildOptions } from 'esbuild';

export const LEAN_BUNDLE = {
  bundle: true,
  platform: 'node',
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'eof',
  logLevel: 'warning',
} satisfies BuildOptions;
