#!/usr/bin/env node
// The `flux-monitor` command (package.json's bin, the git hooks and the detached monitor): `npm run build` bundles
// this file as CommonJS into dist/src/cli.cjs (bench/bundle.mjs). A command that runs from a CommonJS bundle with
// V8's code cache (src/code-cached.ts CODE_CACHED: the hook helper, the detached monitor, `watch --json`, `mcp`,
// `status --json`, `history`, `version`) starts from here without Node's ES module loader, which costs a start 10
// to 15 ms on Node 20 before any of flux-monitor's code runs (docs/performance.md (i)). Anything else is
// src/cli.ts's: the ES module is loaded and started as if run itself.
import { cachedBundleFile, commandName } from './code-cached.js';

const [first, ...rest] = process.argv.slice(2);
const name = commandName(first);
const file = name ? cachedBundleFile(name, rest, process.env, new URL('./chunks/', import.meta.url)) : undefined;
const fail = (err: unknown) => {
  process.stderr.write(`flux-monitor: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 3;
};
if (name && file) {
  // Only now what running a command takes (V8's flags, the cache loader, the error messages).
  import('./entry.js').then(({ loadCachedCommand, runCommand, runProcess }) => {
    runProcess((io) => runCommand(name, loadCachedCommand(name, file, io).default, rest, io));
  }, fail);
} else {
  // Resolved beside this file at run time (bench/bundle.mjs leaves it out of the bundle).
  import(new URL('./cli.js', import.meta.url).href).then((cli: { start(): void }) => cli.start(), fail);
}
