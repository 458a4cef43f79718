#!/usr/bin/env node
// The `flux-monitor` command (package.json's bin, the git hooks and the detached monitor): `npm run build` bundles
// this file as CommonJS into dist/src/cli.cjs (bench/bundle.mjs). A command that runs from a CommonJS bundle with
// V8's code cache (src/entry.ts CODE_CACHED: the hook helper, the detached monitor, `watch --json`, `mcp`,
// `status --json`, `history`) starts from here without Node's ES module loader, which costs a start 10 to 15 ms
// on Node 20 before any of flux-monitor's code runs (docs/performance.md (i)). Anything else is src/cli.ts's:
// the ES module is loaded and started as if run itself.
import { cachedCommand, processIO, runCommand, runProcess } from './entry.js';

const [name, ...rest] = process.argv.slice(2);
const cached = name ? cachedCommand(name, rest, processIO(), new URL('./chunks/', import.meta.url)) : undefined;
if (name && cached) {
  runProcess((io) => runCommand(name, cached.default, rest, io));
} else {
  // Resolved beside this file at run time (bench/bundle.mjs leaves it out of the bundle).
  import(new URL('./cli.js', import.meta.url).href).then(
    (cli: { start(): void }) => cli.start(),
    (err: unknown) => {
      process.stderr.write(`flux-monitor: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 3;
    },
  );
}
