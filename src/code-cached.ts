// Which commands run from a CommonJS bundle with V8's code cache, and when: read by both entry points before
// anything heavier is loaded (src/launch.ts decides with this alone whether to load src/entry.ts or hand over to
// the ES module CLI), and by bench/bundle.mjs, which builds those bundles.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Commands that `npm run build` also writes as one CommonJS bundle each with V8's code cache
 * (dist/src/chunks/<command>.cjs, src/cjs-cache.ts), and when that bundle is run: Node 20 compiles the ESM chunks
 * again at every start, which is most of the start of these (docs/performance.md (i)). Only where no Ink view is
 * drawn: Ink and React are ES modules that a CommonJS bundle cannot load on Node 20, so a live view runs from the
 * ESM chunks.
 */
export const CODE_CACHED: Record<string, (args: string[]) => boolean> = {
  hook: () => true,
  'run-session': () => true,
  mcp: () => true,
  watch: (args) => args.includes('--json'),
  status: (args) => args.includes('--json'),
  history: () => true,
  // `--version` (what scripts and install checks run) then costs no more than a command of its own would.
  version: () => true,
};

/** Whether the arguments of a command ask for its help (`--help` or `-h` before any `--`). */
export function asksForHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** The command a first argument names: `--version` and `-v` are `version`, as in src/cli.ts. */
export function commandName(first: string | undefined): string | undefined {
  return first === '--version' || first === '-v' ? 'version' : first;
}

/**
 * The code-cached CommonJS bundle of the command `name` (dist/src/chunks/<name>.cjs, `chunksUrl` being that
 * directory), when the build made one, it suits these arguments and they do not ask for help, and
 * FLUX_MONITOR_NO_CODE_CACHE is not set; else undefined: the command runs from the ESM chunks.
 */
export function cachedBundleFile(name: string, args: string[], env: NodeJS.ProcessEnv, chunksUrl: URL): string | undefined {
  if (!Object.hasOwn(CODE_CACHED, name) || !CODE_CACHED[name]!(args) || asksForHelp(args) || env.FLUX_MONITOR_NO_CODE_CACHE) return undefined;
  const file = fileURLToPath(new URL(`${name}.cjs`, chunksUrl));
  return existsSync(file) ? file : undefined; // the sources or tsc's output: no bundle
}
