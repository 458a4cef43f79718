import { readFileSync } from 'node:fs';
import type { Command } from './types.js';

/**
 * The version in flux-monitor's package.json, found from this module's own URL: the first package.json named
 * `flux-monitor` in this directory or above. The module runs from several layouts: the sources (src/commands/, in
 * tests), tsc's output (dist/src/commands/) and the esbuild bundle (dist/src/cli.js or a chunk in
 * dist/src/chunks/, whichever esbuild puts it in: bench/bundle.mjs); the package installed under node_modules/
 * finds its own package.json first. '0.0.0' when none is found (a copied file, say).
 */
export function packageVersion(from: string | URL = import.meta.url): string {
  let dir = new URL('./', from);
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'flux-monitor' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No package.json here (or not JSON): look one directory up.
    }
    const up = new URL('../', dir);
    if (up.href === dir.href) break;
    dir = up;
  }
  return '0.0.0';
}

const version: Command = {
  name: 'version',
  summary: 'Print the version of flux-monitor',
  usage: 'flux-monitor version',
  async run(_argv, io) {
    io.stdout.write(`flux-monitor ${packageVersion()}\n`);
    return 0;
  },
};
export default version;
